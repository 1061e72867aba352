package videosdktest

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Generate makes n sessions (deterministic for a seed) that exercise what
// the API can send: a few large sessions of thousands of participants (many
// pages), live sessions growing at the end and at the front, data as an
// array, empty sessions (participants [], null or absent), unicode names (emoji, CJK, right-to-left), null,
// absent and empty names, participants without a timelog, open intervals,
// timestamps with offsets, without fractions, with nanoseconds, in lower
// case, and sessions without roomId or customRoomId. Each session starts at
// a random hour over 400 days from 2021-10-25 (live ones are ongoing, the
// rest ended). With n >= 6 every kind is present at least once.
func Generate(seed int64, n int) []Session {
	rnd := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	sessions := make([]Session, 0, n)
	ids := make(map[string]bool, n)
	for i := range n {
		id := uniqueID(rnd, 24, "0123456789abcdef", ids)
		s := Session{
			ID:           id,
			RoomID:       randomID(rnd, 3, "abcdefghijklmnopqrstuvwxyz") + "-" + randomID(rnd, 4, "abcdefghijklmnopqrstuvwxyz") + "-" + randomID(rnd, 4, "abcdefghijklmnopqrstuvwxyz"),
			CustomRoomID: fmt.Sprintf("room-%d", rnd.IntN(1000)),
		}
		size := 1 + rnd.IntN(40)
		switch kind := i; {
		case kind == 0 || (kind >= 6 && rnd.IntN(100) < 3):
			size = 2000 + rnd.IntN(4000)
		case kind == 1 || (kind >= 6 && rnd.IntN(100) < 5):
			size = 0
			// An empty session's list is sent null, left out or empty.
			s.ParticipantsIs = []Presence{Null, Absent, Present}[i%3]
		case kind == 2 || kind == 3 || (kind >= 6 && rnd.IntN(100) < 6):
			s.Live = GrowEnd
			if kind == 3 || (kind != 2 && rnd.IntN(2) == 0) {
				s.Live = GrowFront
			}
			size = 5 + rnd.IntN(120)
			// Enough growth to shift every page of the first read, little
			// enough that a bounded number of re-reads settles it.
			s.LiveStep = 1 + rnd.IntN(2)
			s.LiveCap = size + s.LiveStep*(2+(size+49)/50)
		case kind == 4 || (kind >= 6 && rnd.IntN(100) < 10):
			s.DataAsArray = true
		case kind == 5 || (kind >= 6 && rnd.IntN(100) < 10):
			size = 60 + rnd.IntN(400)
		}
		switch rnd.IntN(10) {
		case 0:
			s.RoomIDIs = Absent
		case 1:
			s.CustomRoomIDIs = Absent
		case 2:
			s.CustomRoomIDIs = Null
		}
		base := time.Date(2021, 10, 25, 5, 0, 0, 0, time.UTC).Add(time.Duration(rnd.IntN(400*24)) * time.Hour)
		s.Start = base
		if s.Live == NotLive {
			s.End = base.Add(5 * time.Hour) // after every interval made below
		}
		seen := make(map[string]bool, size)
		for j := range size {
			pid := uniqueID(rnd, 8, "abcdefghijklmnopqrstuvwxyz0123456789", seen)
			s.Participants = append(s.Participants, participant(rnd, pid, j, base))
		}
		sessions = append(sessions, s)
	}
	return sessions
}

// Sized makes rows rows of plain sessions: the i-th has perSession(i)
// participants (fewer in the last), each with one closed hour-long
// interval, every interval starting a second after the one before. IDs are
// 24 hex digits, as VideoSDK's are. For benchmarks of a known shape.
func Sized(rows int, perSession func(i int) int) []Session {
	var sessions []Session
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for n := 0; n < rows; {
		i := len(sessions)
		s := Session{ID: fmt.Sprintf("%024x", i), RoomID: "abc-xyzw-lmno", CustomRoomID: "room"}
		s.Participants = make([]Participant, min(perSession(i), rows-n))
		for j := range s.Participants {
			start := base.Add(time.Duration(n) * time.Second)
			s.Participants[j] = Participant{
				ID:      fmt.Sprintf("p%07d", j),
				Name:    fmt.Sprintf("Participant %d", j),
				Timelog: []Entry{{Start: start.Format(time.RFC3339Nano), End: start.Add(time.Hour).Format(time.RFC3339Nano)}},
			}
			n++
		}
		sessions = append(sessions, s)
	}
	return sessions
}

// GenerateStatic is Generate's n sessions made static (NotLive), the first
// participant of every every-th session, if it has ended, given one more
// interval from start whose end is endIs (Absent or Null): a mix of ended
// and ongoing sessions for incremental exports. It panics if seed gives no mix: a
// fixture that tests nothing.
func GenerateStatic(seed int64, n, every int, start string, endIs Presence) []Session {
	sessions := Generate(seed, n)
	ongoing := 0
	for i := range sessions {
		s := &sessions[i]
		s.Live = NotLive
		if i%every == 0 && s.Ended() && len(s.Participants) > 0 {
			p := &s.Participants[0]
			p.TimelogIs = Present
			p.Timelog = append(p.Timelog, Entry{Start: start, EndIs: endIs})
		}
		if !s.Ended() {
			ongoing++
		}
	}
	if ongoing == 0 || ongoing == n {
		panic(fmt.Sprintf("videosdktest.GenerateStatic: seed %d makes %d of %d sessions ongoing; want some of each", seed, ongoing, n))
	}
	return sessions
}

var names = []string{
	"Demo-1", "Zoë Ångström", "李小龙", "山田 太郎", "محمد عبد الله", "שירה כהן", "😀 Party Host",
	"👩‍👩‍👧 Family", "Ñandú", "O'Brien \"Bob\"", "Δημήτρης", "Владимир", "नमस्ते", "  spaced  ",
	"a\u202etxt.exe", "back\\slash", "Łukasz", "Nguyễn Văn A",
}

func participant(rnd *rand.Rand, id string, j int, base time.Time) Participant {
	p := Participant{ID: id}
	switch r := rnd.IntN(20); {
	case r == 0:
		p.NameIs = Absent
	case r == 1:
		p.NameIs = Null
	case r == 2:
		p.Name = ""
	case r < 10:
		p.Name = names[rnd.IntN(len(names))]
	default:
		p.Name = fmt.Sprintf("Guest %d", j+1)
	}
	entries := 1 + rnd.IntN(3)
	switch rnd.IntN(25) {
	case 0:
		p.TimelogIs = Absent
		return p
	case 1:
		p.TimelogIs = Null
		return p
	case 2:
		p.Timelog = []Entry{}
		return p
	}
	t := base.Add(time.Duration(rnd.IntN(3600*1000)) * time.Millisecond)
	for k := range entries {
		start := t
		end := start.Add(time.Duration(1+rnd.IntN(3600*1000)) * time.Millisecond)
		e := Entry{Start: stamp(rnd, start), End: stamp(rnd, end)}
		if k == entries-1 {
			switch rnd.IntN(8) {
			case 0:
				e.EndIs = Null
			case 1:
				e.EndIs = Absent
			}
		}
		if rnd.IntN(200) == 0 {
			e.StartIs = Absent
		}
		p.Timelog = append(p.Timelog, e)
		t = end.Add(time.Duration(rnd.IntN(600)) * time.Second)
	}
	return p
}

// stamp formats t in one of the RFC 3339 forms the API may send, mostly the
// usual UTC with milliseconds.
func stamp(rnd *rand.Rand, t time.Time) string {
	switch rnd.IntN(12) {
	case 0:
		return t.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000Z07:00")
	case 1:
		return t.In(time.FixedZone("", -(5*3600 + 30*60))).Format("2006-01-02T15:04:05.000Z07:00")
	case 2:
		return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z07:00")
	case 3:
		return t.UTC().Add(time.Duration(rnd.IntN(1e6))).Format("2006-01-02T15:04:05.000000000Z07:00")
	case 4:
		return t.UTC().Format("2006-01-02t15:04:05.000z")
	default:
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
}

func randomID(rnd *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rnd.IntN(len(alphabet))]
	}
	return string(b)
}

// uniqueID draws random IDs until one is not in seen, and adds it there.
func uniqueID(rnd *rand.Rand, n int, alphabet string, seen map[string]bool) string {
	id := randomID(rnd, n, alphabet)
	for seen[id] {
		id = randomID(rnd, n, alphabet)
	}
	seen[id] = true
	return id
}
