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
//
// The keys that decide which participants a page lists (data, participants,
// participantId) are matched exactly, not case-insensitively as
// encoding/json matches struct fields: a "Participants" key is an unknown
// field, ignored like any other, never a second list.
func decodePage(body []byte) (Page, error) {
	var wire map[string]json.RawMessage
	if err := json.Unmarshal(body, &wire); err != nil {
		return Page{}, fmt.Errorf("response: %w", err)
	}
	if isNull(wire["pageInfo"]) {
		return Page{}, errors.New("pageInfo missing")
	}
	var page Page
	if err := json.Unmarshal(wire["pageInfo"], &page.PageInfo); err != nil {
		return Page{}, fmt.Errorf("pageInfo: %w", err)
	}
	data := bytes.TrimSpace(wire["data"])
	if isNull(data) {
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
	var session map[string]json.RawMessage
	if err := json.Unmarshal(data, &session); err != nil || session == nil {
		return Page{}, fmt.Errorf("data: want the session object, got %s", truncate(data, 40))
	}
	for _, f := range []struct {
		key string
		dst **string
	}{{"roomId", &page.Session.RoomID}, {"customRoomId", &page.Session.CustomRoomID}} {
		if err := json.Unmarshal(orNull(session[f.key]), f.dst); err != nil {
			return Page{}, fmt.Errorf("data.%s: want a string, got %s", f.key, truncate(session[f.key], 40))
		}
	}
	var id *string
	if err := json.Unmarshal(orNull(session["id"]), &id); err != nil {
		return Page{}, fmt.Errorf("data.id: want a string, got %s", truncate(session["id"], 40))
	}
	if id != nil {
		page.Session.ID = *id
	}
	// A session nobody stayed in may send participants null or not at all;
	// the page lists nobody, and the paging checks compare that with total.
	var raws []json.RawMessage
	if err := json.Unmarshal(orNull(session["participants"]), &raws); err != nil {
		return Page{}, fmt.Errorf("data.participants: want an array, got %s", truncate(session["participants"], 40))
	}
	page.Participants = make([]Participant, len(raws))
	for i, raw := range raws {
		if err := decodeParticipant(raw, &page.Participants[i]); err != nil {
			return Page{}, fmt.Errorf("data.participants[%d]: %w", i, err)
		}
	}
	return page, nil
}

func decodeParticipant(raw json.RawMessage, p *Participant) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return fmt.Errorf("want an object, got %s", truncate(raw, 40))
	}
	var id *string
	if err := json.Unmarshal(orNull(fields["participantId"]), &id); err != nil {
		return fmt.Errorf("participantId: want a string, got %s", truncate(fields["participantId"], 40))
	}
	if id == nil || *id == "" {
		return errors.New("participantId missing or empty")
	}
	p.ParticipantID = *id
	if err := json.Unmarshal(orNull(fields["name"]), &p.Name); err != nil {
		return fmt.Errorf("name: want a string, got %s", truncate(fields["name"], 40))
	}
	if err := json.Unmarshal(orNull(fields["timelog"]), &p.Timelog); err != nil {
		return err
	}
	return nil
}

// orNull stands null in for an absent field, so that both decode to nil.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// checkPage holds a page to what was asked and to itself. perPage is the
// page size of the pass (0 on page 1, which sets it).
func checkPage(p Page, sessionID string, page, perPage int) error {
	if p.Session.ID != "" && p.Session.ID != sessionID && p.PageInfo.CurrentPage == page {
		return fmt.Errorf("belongs to session %s", showValue([]byte(p.Session.ID)))
	}
	return checkPageInfo(p.PageInfo, page, perPage, len(p.Participants), "participants")
}

// checkPageInfo holds a page's pageInfo to what was asked (page; perPage is
// page 1's, 0 on page 1), to itself, and to the items it lists: the one
// check of participants pages and of session list pages.
func checkPageInfo(pi PageInfo, page, perPage, items int, noun string) error {
	switch {
	case pi.CurrentPage != page:
		return fmt.Errorf("answered as page %d", pi.CurrentPage)
	case pi.PerPage < 1:
		return fmt.Errorf("pageInfo.perPage is %d", pi.PerPage)
	case perPage > 0 && pi.PerPage != perPage:
		return fmt.Errorf("pageInfo.perPage is %d, page 1 said %d", pi.PerPage, perPage)
	case pi.Total < 0 || pi.LastPage < 0:
		return fmt.Errorf("pageInfo has total %d, lastPage %d", pi.Total, pi.LastPage)
	case pi.LastPage != (pi.Total+pi.PerPage-1)/pi.PerPage && !(pi.Total == 0 && pi.LastPage <= 1):
		return fmt.Errorf("pageInfo.lastPage %d does not fit total %d at perPage %d", pi.LastPage, pi.Total, pi.PerPage)
	case items > pi.PerPage:
		return fmt.Errorf("%d %s on a page of %d", items, noun, pi.PerPage)
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
