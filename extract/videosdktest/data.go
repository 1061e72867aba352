package videosdktest

import (
	"fmt"
	"time"

	"github.com/participants-etl/participants-etl/extract"
)

// Presence says how an optional field is sent. The zero value sends it.
type Presence uint8

const (
	Present Presence = iota // the field with its value
	Null                    // the field with null
	Absent                  // no field at all
)

// Live is how a session grows while it is paged.
type Live uint8

const (
	NotLive   Live = iota
	GrowEnd        // new participants are appended to the list
	GrowFront      // new participants are inserted at index 0, shifting every page
)

// Session is one session as the simulated API holds it.
type Session struct {
	ID             string
	RoomID         string
	RoomIDIs       Presence
	CustomRoomID   string
	CustomRoomIDIs Presence
	// DataAsArray sends data as a one-element array holding the session.
	DataAsArray  bool
	Participants []Participant
	// ParticipantsIs sends the participants list null or leaves it out, as
	// the API does for a session nobody stayed in (with any participants
	// it holds left unsaid, for a nastier test).
	ParticipantsIs Presence

	// Live sessions gain LiveStep participants (default 1) on every request
	// that reaches them, until they hold LiveCap participants.
	Live     Live
	LiveStep int
	LiveCap  int
	added    int // live participants made so far, for their IDs

	// Endless sessions claim one more page than whichever was asked for: a
	// server that never stops paging. Their pages hold made-up participants.
	Endless bool

	// Override serves the body as given (status 200) for a page number: for
	// testing pages that do not match the schema.
	Override map[int]string

	// Start, End and Status are what the session list reports. A zero Start
	// is sent as DefaultStart, a zero End as null (ongoing); an empty Status
	// is "ongoing" without an End and "ended" with one.
	Start  time.Time
	End    time.Time
	Status string
}

// Participant is one participant as the simulated API holds it.
type Participant struct {
	ID        string
	Name      string
	NameIs    Presence
	Timelog   []Entry
	TimelogIs Presence
}

// Entry is one timelog interval. Start and End are raw strings, sent as
// they are: any RFC 3339 form, or garbage for a test.
type Entry struct {
	Start   string
	StartIs Presence
	End     string
	EndIs   Presence
}

func (s Session) clone() Session {
	c := s
	c.Participants = make([]Participant, len(s.Participants))
	for i, p := range s.Participants {
		c.Participants[i] = p
		if p.Timelog != nil {
			c.Participants[i].Timelog = append([]Entry{}, p.Timelog...)
		}
	}
	if s.Override != nil {
		c.Override = make(map[int]string, len(s.Override))
		for k, v := range s.Override {
			c.Override[k] = v
		}
	}
	return c
}

// Want is what a correct client returns for s: the session in extract's
// types, timestamps parsed. Session.Pages is left zero.
func (s Session) Want() (extract.Session, error) {
	out := extract.Session{ID: s.ID, Participants: make([]extract.Participant, 0, len(s.Participants))}
	if s.RoomIDIs == Present {
		out.RoomID = ptr(s.RoomID)
	}
	if s.CustomRoomIDIs == Present {
		out.CustomRoomID = ptr(s.CustomRoomID)
	}
	for _, p := range s.Participants {
		ep := extract.Participant{ParticipantID: p.ID}
		if p.NameIs == Present {
			ep.Name = ptr(p.Name)
		}
		if p.TimelogIs == Present {
			ep.Timelog = make([]extract.Timelog, 0, len(p.Timelog))
			for i, e := range p.Timelog {
				var t extract.Timelog
				var err error
				if t.Start, err = parseRaw(e.Start, e.StartIs); err != nil {
					return out, fmt.Errorf("session %s participant %s timelog %d start: %w", s.ID, p.ID, i, err)
				}
				if t.End, err = parseRaw(e.End, e.EndIs); err != nil {
					return out, fmt.Errorf("session %s participant %s timelog %d end: %w", s.ID, p.ID, i, err)
				}
				ep.Timelog = append(ep.Timelog, t)
			}
		}
		out.Participants = append(out.Participants, ep)
	}
	return out, nil
}

func parseRaw(raw string, is Presence) (*time.Time, error) {
	if is != Present {
		return nil, nil
	}
	t, err := extract.ParseRFC3339(raw)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func ptr[T any](v T) *T { return &v }
