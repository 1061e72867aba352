package videosdktest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ListOrder is the order GET /v2/sessions/ lists sessions in.
type ListOrder uint8

const (
	NewestFirst ListOrder = iota // by start, newest first (ties by ID): what the service is assumed to do
	OldestFirst                  // by start, oldest first (ties by ID)
	AsHeld                       // in the order the sessions were given and added, whatever their start
)

// ListOptions configures the session list endpoint, GET /v2/sessions/.
type ListOptions struct {
	Order ListOrder
	// MaxPerPage caps perPage below Options.MaxPerPage when set.
	MaxPerPage int
	// IgnoreDateBounds lists every session whatever startDate and endDate
	// say; by default they bound the start, both ends inclusive, in epoch
	// milliseconds.
	IgnoreDateBounds bool
	// Preview is how many participants each listed session carries inline;
	// default 2, negative none. The preview is never the whole list.
	Preview int
	// Arrivals, when set, is called before each list request is answered,
	// with the number of list requests answered so far including this one;
	// the sessions it returns start then (are added as by AddSession), so a
	// newest-first list shifts while it is paged.
	Arrivals func(request int) []Session
	// HideOneFor leaves one session (the middle of what matches) out of the
	// first HideOneFor list answers while still counting it in total: a list
	// that lost a session to a shift.
	HideOneFor int
	// Override answers list page n (any filter) with the body as given,
	// status 200.
	Override map[int]string
}

// DefaultStart is the start the API reports for a Session whose Start is
// zero.
var DefaultStart = time.Date(2021, 10, 25, 5, 9, 58, 934e6, time.UTC)

// listState is the list endpoint's part of a Server.
type listState struct {
	requests atomic.Int64 // every request routed to the list, faulted ones included
	answered int          // list answers rendered; under Server.mu
	order    []int        // indices into Server.sessions in list order, nil when stale; under Server.mu
}

// ListRequests counts the requests received by the session list endpoint,
// faulted ones included. Requests counts them too.
func (s *Server) ListRequests() int64 { return s.list.requests.Load() }

// AddSession starts a session: from now on it is listed and served. Its ID
// must be new (it panics otherwise).
func (s *Server) AddSession(sess Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(sess)
}

func (s *Server) addLocked(sess Session) {
	if _, dup := s.byID[sess.ID]; dup {
		panic("videosdktest: duplicate session ID " + strconv.Quote(sess.ID))
	}
	s.byID[sess.ID] = len(s.sessions)
	s.sessions = append(s.sessions, sess.clone())
	s.list.order = nil
}

// isListPath reports whether the raw request URI is the session list:
// /v2/sessions/ or /v2/sessions with nothing after.
func isListPath(requestURI string) bool {
	path, _, _ := strings.Cut(requestURI, "?")
	return path == "/v2/sessions/" || path == "/v2/sessions"
}

// respond renders the answer to a request that passed auth and limits:
// the session list, or a participants page of session id.
func (s *Server) respond(list bool, q url.Values, id string, page, perPage int, visit bool) (int, []byte) {
	if list {
		return s.renderList(q, page, perPage, visit)
	}
	return s.render(id, page, perPage, visit)
}

type listFilter struct {
	roomID, customRoomID *string
	from, to             *int64 // epoch ms, inclusive
}

func parseListFilter(q url.Values) (listFilter, error) {
	var f listFilter
	for name, v := range map[string]**string{"roomId": &f.roomID, "customRoomId": &f.customRoomID} {
		switch vals := q[name]; len(vals) {
		case 0:
		case 1:
			*v = &vals[0]
		default:
			return f, fmt.Errorf("%s given %d times", name, len(vals))
		}
	}
	for name, v := range map[string]**int64{"startDate": &f.from, "endDate": &f.to} {
		switch vals := q[name]; len(vals) {
		case 0:
		case 1:
			ms, err := strconv.ParseInt(vals[0], 10, 64)
			if err != nil || ms < 0 {
				return f, fmt.Errorf("%s must be epoch milliseconds", name)
			}
			*v = &ms
		default:
			return f, fmt.Errorf("%s given %d times", name, len(vals))
		}
	}
	return f, nil
}

func (f listFilter) match(sess *Session, dates bool) bool {
	if f.roomID != nil && (sess.RoomIDIs != Present || sess.RoomID != *f.roomID) {
		return false
	}
	if f.customRoomID != nil && (sess.CustomRoomIDIs != Present || sess.CustomRoomID != *f.customRoomID) {
		return false
	}
	if dates {
		ms := sess.StartTime().UnixMilli()
		if (f.from != nil && ms < *f.from) || (f.to != nil && ms > *f.to) {
			return false
		}
	}
	return true
}

// renderList answers one list request; visit counts it as an answer that
// lets sessions arrive.
func (s *Server) renderList(q url.Values, page, perPage int, visit bool) (int, []byte) {
	f, err := parseListFilter(q)
	if err != nil {
		return errorBody(http.StatusBadRequest, err.Error())
	}
	lo := s.opts.List
	if lo.MaxPerPage > 0 {
		perPage = min(perPage, lo.MaxPerPage)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if visit {
		s.list.answered++
		if lo.Arrivals != nil {
			for _, sess := range lo.Arrivals(s.list.answered) {
				s.addLocked(sess)
			}
		}
	}
	if body, ok := lo.Override[page]; ok {
		return http.StatusOK, []byte(body)
	}
	var matches []int
	for _, i := range s.listOrderLocked() {
		if f.match(&s.sessions[i], !lo.IgnoreDateBounds) {
			matches = append(matches, i)
		}
	}
	total := len(matches)
	if s.list.answered <= lo.HideOneFor && len(matches) > 0 {
		matches = slices.Delete(matches, len(matches)/2, len(matches)/2+1)
	}
	var shown []int
	if from := (page - 1) * perPage; from < len(matches) {
		shown = matches[from:min(len(matches), from+perPage)]
	}
	preview := lo.Preview
	if preview == 0 {
		preview = 2
	}
	data := make([]map[string]any, len(shown))
	for k, i := range shown {
		data[k] = s.sessions[i].listItem(preview)
	}
	body, err := json.Marshal(map[string]any{
		"pageInfo": newPageInfo(page, perPage, total),
		"data":     data,
	})
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return http.StatusOK, body
}

// listOrderLocked returns the sessions' indices in list order, sorting only
// after sessions were added or replaced.
func (s *Server) listOrderLocked() []int {
	if s.list.order != nil {
		return s.list.order
	}
	order := make([]int, len(s.sessions))
	for i := range order {
		order[i] = i
	}
	starts := func(a, b int) int { return s.sessions[a].StartTime().Compare(s.sessions[b].StartTime()) }
	ids := func(a, b int) int { return strings.Compare(s.sessions[a].ID, s.sessions[b].ID) }
	switch s.opts.List.Order {
	case NewestFirst:
		slices.SortFunc(order, func(a, b int) int { return cmp.Or(-starts(a, b), ids(a, b)) })
	case OldestFirst:
		slices.SortFunc(order, func(a, b int) int { return cmp.Or(starts(a, b), ids(a, b)) })
	}
	s.list.order = order
	return order
}

// StartTime is when the session started: Start, or DefaultStart if unset.
func (sess *Session) StartTime() time.Time {
	if sess.Start.IsZero() {
		return DefaultStart
	}
	return sess.Start
}

// ListStatus is the status the list reports for the session.
func (sess Session) ListStatus() string {
	switch {
	case sess.Status != "":
		return sess.Status
	case sess.End.IsZero():
		return "ongoing"
	}
	return "ended"
}

func (sess *Session) listItem(preview int) map[string]any {
	parts := json.RawMessage(appendParticipants(nil, sess.Participants[:max(0, min(preview, len(sess.Participants)))]))
	var end any
	if !sess.End.IsZero() {
		end = stampUTC(sess.End)
	}
	m := map[string]any{
		"id":           sess.ID,
		"start":        stampUTC(sess.StartTime()),
		"end":          end,
		"status":       sess.ListStatus(),
		"participants": parts,
		"links": map[string]string{
			"get_room":    "https://api.videosdk.live/v2/rooms/" + sess.RoomID,
			"get_session": "https://api.videosdk.live/v2/sessions/" + sess.ID,
		},
		"activeDuration": 0,
	}
	put(m, "roomId", sess.RoomID, sess.RoomIDIs)
	put(m, "customRoomId", sess.CustomRoomID, sess.CustomRoomIDIs)
	return m
}

func put(m map[string]any, key, value string, is Presence) {
	switch is {
	case Present:
		m[key] = value
	case Null:
		m[key] = nil
	}
}

func stampUTC(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
