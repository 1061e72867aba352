package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PageInfo is the paging block of a participants response. The server may
// cap PerPage below what was asked for, and LastPage and Total move while a
// live session is paged, so every page's PageInfo is read.
type PageInfo struct {
	CurrentPage int `json:"currentPage"`
	PerPage     int `json:"perPage"`
	LastPage    int `json:"lastPage"`
	Total       int `json:"total"`
}

// Timelog is one join/leave interval of a participant. Start is nil when the
// API omitted it; End is nil while the participant is still in the session.
type Timelog struct {
	Start *time.Time `json:"start"`
	End   *time.Time `json:"end"`
}

// Participant is one entry of a session's participant list. Name is nil when
// the API omitted it or sent null; an empty name stays empty.
type Participant struct {
	ParticipantID string    `json:"participantId"`
	Name          *string   `json:"name"`
	Timelog       []Timelog `json:"timelog"`
}

// SessionInfo is the session object of a participants page, less the
// participants themselves.
type SessionInfo struct {
	ID           string  `json:"id"`
	RoomID       *string `json:"roomId"`
	CustomRoomID *string `json:"customRoomId"`
}

// Page is one decoded participants response.
type Page struct {
	PageInfo     PageInfo
	Session      SessionInfo
	Participants []Participant
}

// Session is every distinct participant of one session, collected from all
// of its pages and checked for consistency.
type Session struct {
	// ID is the session ID as listed (and as requested from the API).
	ID           string
	RoomID       *string
	CustomRoomID *string
	Participants []Participant
	// Pages is how many page requests succeeded for this session,
	// re-reads included.
	Pages int
}

// UnmarshalJSON accepts any lawful RFC 3339 timestamp (any offset, with or
// without fractional seconds, 't' and 'z' in either case) and null.
func (t *Timelog) UnmarshalJSON(b []byte) error {
	var raw struct {
		Start json.RawMessage `json:"start"`
		End   json.RawMessage `json:"end"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var err error
	if t.Start, err = parseTime("start", raw.Start); err != nil {
		return err
	}
	t.End, err = parseTime("end", raw.End)
	return err
}

func parseTime(field string, raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("timelog %s: want an RFC 3339 string, got %s", field, truncate(raw, 40))
	}
	t, err := ParseRFC3339(s)
	if err != nil {
		return nil, fmt.Errorf("timelog %s: %w", field, err)
	}
	return &t, nil
}

// ParseRFC3339 parses a timestamp in any form RFC 3339 allows. Go's
// time.RFC3339Nano layout already takes any number of fractional digits and
// any offset; RFC 3339 §5.6 also allows lower-case 't' and 'z', and a leap
// second (23:59:60), which Go's time cannot hold: it is read as the second
// after 23:59:59, that is 00:00:00 of the next day.
func ParseRFC3339(s string) (time.Time, error) {
	in := s
	if len(s) > 10 && (s[10] == 't') {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	leap := len(s) > 19 && s[16] == ':' && s[17:19] == "60"
	if leap {
		s = s[:17] + "59" + s[19:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", truncate([]byte(in), 40))
	}
	if leap {
		t = t.Add(time.Second)
	}
	return t, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
