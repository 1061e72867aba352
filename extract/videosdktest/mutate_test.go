package videosdktest

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestSetSessionAndEndOpen(t *testing.T) {
	open := Session{ID: "s-open", Live: GrowEnd, LiveCap: 9, Participants: []Participant{
		{ID: "p1", Timelog: []Entry{{Start: "2026-11-26T10:00:00Z", End: "2026-11-26T10:05:00Z"}, {Start: "2026-11-26T10:10:00Z", EndIs: Null}}},
		{ID: "p2", Timelog: []Entry{{Start: "2026-11-26T10:01:00Z", EndIs: Absent}}},
	}}
	srv := NewServer(Options{Sessions: []Session{open}, StaticToken: "t"})
	defer srv.Close()

	ended := EndOpen(open, "2026-11-26T11:00:00Z")
	if open.Participants[0].Timelog[1].EndIs != Null {
		t.Fatal("EndOpen changed its argument")
	}
	if ended.Live != NotLive {
		t.Error("an ended session still grows")
	}
	srv.SetSession(ended)
	srv.SetSession(Session{ID: "s-new"})
	snap := srv.Snapshot()
	if len(snap) != 2 || snap[0].ID != "s-open" || snap[1].ID != "s-new" {
		t.Fatalf("snapshot %+v", snap)
	}
	want := map[string]string{"p1/0": "2026-11-26T10:05:00Z", "p1/1": "2026-11-26T11:00:00Z", "p2/0": "2026-11-26T11:00:00Z"}
	for _, p := range snap[0].Participants {
		for k, e := range p.Timelog {
			key := p.ID + "/" + string(rune('0'+k))
			if e.EndIs != Present || e.End != want[key] {
				t.Errorf("%s: end %q (%v), want %q", key, e.End, e.EndIs, want[key])
			}
		}
	}
	// What a client reads: every interval has an end now.
	got, err := snap[0].Want()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Participants {
		for _, tl := range p.Timelog {
			if tl.End == nil {
				t.Errorf("participant %s: an open interval after EndOpen", p.ParticipantID)
			}
		}
	}
}

// TestGenerateStatic: static sessions, the added open intervals making a
// mix of ended and ongoing ones; a fixture without a mix panics.
func TestGenerateStatic(t *testing.T) {
	sessions := GenerateStatic(21, 16, 2, "2026-11-26T13:30:00Z", Null)
	ongoing := 0
	for _, s := range sessions {
		if s.Live != NotLive {
			t.Errorf("session %s is live", s.ID)
		}
		if !s.Ended() {
			ongoing++
		}
	}
	if len(sessions) != 16 || ongoing == 0 || ongoing == 16 {
		t.Errorf("%d sessions, %d ongoing; want 16, some of each", len(sessions), ongoing)
	}
	defer func() {
		if recover() == nil {
			t.Error("one session cannot be a mix, yet GenerateStatic did not panic")
		}
	}()
	GenerateStatic(21, 1, 2, "2026-11-26T13:30:00Z", Null)
}

// TestSized: exactly rows intervals, the sessions sized by perSession but
// the last, which takes what is left.
func TestSized(t *testing.T) {
	sessions := Sized(20, func(i int) int { return 1 + i })
	var sizes []int
	rows := 0
	for _, s := range sessions {
		sizes = append(sizes, len(s.Participants))
		for _, p := range s.Participants {
			rows += len(p.Timelog)
		}
	}
	if want := []int{1, 2, 3, 4, 5, 5}; rows != 20 || !slices.Equal(sizes, want) || len(sessions[5].ID) != 24 {
		t.Errorf("%d rows in sessions of %v (IDs like %q); want 20 in %v", rows, sizes, sessions[5].ID, want)
	}
}

// TestPageInfoJSON: the block written by hand is what encoding/json
// writes, for the participants pages and the list alike.
func TestPageInfoJSON(t *testing.T) {
	for _, pi := range []pageInfo{newPageInfo(1, 20, 0), newPageInfo(3, 50, 101), newPageInfo(7, 1, 7)} {
		want, err := json.Marshal(pi)
		if err != nil {
			t.Fatal(err)
		}
		if got := pi.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s, want %s", got, want)
		}
	}
	if pi := newPageInfo(3, 50, 101); pi.LastPage != 3 {
		t.Errorf("101 participants at 50 a page: lastPage %d, want 3", pi.LastPage)
	}
}

// FuzzAppendString: the simulator's hand-written pages spell every string
// as encoding/json does: escapes, HTML characters, line separators and
// invalid UTF-8 alike.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "\x00\x01\x1f\x7f", "\b\f\n\r\t", "<a href='x'>&amp;</a>",
		"Zoë 参加 🎉", "\u2028\u2029", "bad \xff\xfe utf8 \xe2\x82", "\xed\xa0\x80 surrogate", "p-1\u00a0ünïcode"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
