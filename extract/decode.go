package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// decodePage decodes a participants response. Its first Unmarshal checks
// the whole body, so a body that is not JSON (truncated, an HTML page) is a
// *json.SyntaxError, which a retry may cure; any other error means the page
// does not match the schema, which no retry will change.
func decodePage(body []byte) (Page, error) {
	var wire struct {
		PageInfo *PageInfo       `json:"pageInfo"`
		Data     json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return Page{}, fmt.Errorf("response: %w", err)
	}
	if wire.PageInfo == nil {
		return Page{}, errors.New("pageInfo missing")
	}
	data := bytes.TrimSpace(wire.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return Page{}, errors.New("data missing")
	}
	// The official SDKs accept the session object or a one-element array.
	if data[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return Page{}, fmt.Errorf("data: %w", err)
		}
		if len(elems) != 1 {
			return Page{}, fmt.Errorf("data is an array of %d elements, want 1", len(elems))
		}
		data = elems[0]
	}
	var session struct {
		SessionInfo
		Participants *[]json.RawMessage `json:"participants"`
	}
	if err := json.Unmarshal(data, &session); err != nil {
		return Page{}, fmt.Errorf("data: %w", err)
	}
	if session.Participants == nil {
		return Page{}, errors.New("data.participants missing")
	}
	page := Page{
		PageInfo:     *wire.PageInfo,
		Session:      session.SessionInfo,
		Participants: make([]Participant, len(*session.Participants)),
	}
	for i, raw := range *session.Participants {
		p := &page.Participants[i]
		if err := json.Unmarshal(raw, p); err != nil {
			return Page{}, fmt.Errorf("data.participants[%d]: %w", i, err)
		}
		if p.ParticipantID == "" {
			return Page{}, fmt.Errorf("data.participants[%d]: participantId missing or empty", i)
		}
	}
	return page, nil
}

// checkPage holds a page to what was asked and to itself. perPage is the
// page size of the pass (0 on page 1, which sets it).
func checkPage(p Page, sessionID string, page, perPage int) error {
	pi := p.PageInfo
	switch {
	case pi.CurrentPage != page:
		return fmt.Errorf("answered as page %d", pi.CurrentPage)
	case p.Session.ID != "" && p.Session.ID != sessionID:
		return fmt.Errorf("belongs to session %s", showValue([]byte(p.Session.ID)))
	case pi.PerPage < 1:
		return fmt.Errorf("pageInfo.perPage is %d", pi.PerPage)
	case perPage > 0 && pi.PerPage != perPage:
		return fmt.Errorf("pageInfo.perPage is %d, page 1 said %d", pi.PerPage, perPage)
	case pi.Total < 0 || pi.LastPage < 0:
		return fmt.Errorf("pageInfo has total %d, lastPage %d", pi.Total, pi.LastPage)
	case pi.LastPage != (pi.Total+pi.PerPage-1)/pi.PerPage && !(pi.Total == 0 && pi.LastPage <= 1):
		return fmt.Errorf("pageInfo.lastPage %d does not fit total %d at perPage %d", pi.LastPage, pi.Total, pi.PerPage)
	case len(p.Participants) > pi.PerPage:
		return fmt.Errorf("%d participants on a page of %d", len(p.Participants), pi.PerPage)
	}
	return nil
}

// better reports whether participant a is the more complete copy of the
// same participant seen twice: more timelog entries, then more ended ones.
func better(a, b Participant) bool {
	if len(a.Timelog) != len(b.Timelog) {
		return len(a.Timelog) > len(b.Timelog)
	}
	return ended(a) > ended(b)
}

func ended(p Participant) int {
	n := 0
	for _, t := range p.Timelog {
		if t.End != nil {
			n++
		}
	}
	return n
}
