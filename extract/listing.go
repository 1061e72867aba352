package extract

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// VideoSDKSource is the prefix of a session source that lists sessions
// through the API instead of reading IDs: "videosdk:", optionally followed
// by "?roomId=…&customRoomId=…".
const VideoSDKSource = "videosdk:"

const (
	defaultListPerPage   = 100
	defaultMaxRelists    = 3
	defaultMaxListPages  = 10000
	listQueryParamRoom   = "roomId"
	listQueryParamCustom = "customRoomId"
)

// ListFilter selects the rooms whose sessions are listed. Empty lists every
// room; otherwise each room ID and each custom room ID is listed on its own
// and the results are merged.
type ListFilter struct {
	RoomIDs       []string
	CustomRoomIDs []string
}

// ParseVideoSDKSource parses a "videosdk:" session source. The query may
// repeat roomId and customRoomId; anything else is an error, as is an empty
// value, so a typo never widens the listing to every room.
func ParseVideoSDKSource(source string) (ListFilter, error) {
	rest, ok := strings.CutPrefix(source, VideoSDKSource)
	if !ok {
		return ListFilter{}, fmt.Errorf("session source %q does not start with %q", source, VideoSDKSource)
	}
	if rest == "" {
		return ListFilter{}, nil
	}
	query, ok := strings.CutPrefix(rest, "?")
	if !ok {
		return ListFilter{}, fmt.Errorf("session source %q: want %q or %q followed by a query such as ?roomId=abc-xyzw-lmno",
			source, VideoSDKSource, VideoSDKSource)
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return ListFilter{}, fmt.Errorf("session source %q: %w", source, err)
	}
	var f ListFilter
	for _, name := range slices.Sorted(maps.Keys(values)) {
		var dst *[]string
		switch name {
		case listQueryParamRoom:
			dst = &f.RoomIDs
		case listQueryParamCustom:
			dst = &f.CustomRoomIDs
		default:
			return ListFilter{}, fmt.Errorf("session source %q: unknown parameter %q (want roomId or customRoomId)", source, name)
		}
		for _, v := range values[name] {
			if reason := implausible(v); reason != "" {
				return ListFilter{}, fmt.Errorf("session source %q: %s %q: %s", source, name, v, reason)
			}
			if !slices.Contains(*dst, v) {
				*dst = append(*dst, v)
			}
		}
	}
	return f, nil
}

// ListQuery is what ListSessions lists: the sessions of Filter whose start
// lies in [From, To).
type ListQuery struct {
	Filter ListFilter
	// From and To bound the window on start; To must be at or before the
	// moment the listing begins (the logical time of the run), so that a
	// session starting while the list is paged lies outside the window.
	From, To time.Time
	// PerPage is asked for (default 100); the server may cap it and its
	// pageInfo is trusted.
	PerPage int
	// MaxRelists bounds the listings repeated when a listing came back
	// short of its total; default 3, negative none.
	MaxRelists int
	// MaxPages bounds the pages of one listing; default 10000.
	MaxPages int
	Logger   *slog.Logger // default slog.Default()
}

// ListedSession is one session as the list endpoint reports it. Its inline
// participants are a preview and are not kept: rows come from the
// participants endpoint.
type ListedSession struct {
	ID           string
	RoomID       *string
	CustomRoomID *string
	Start        time.Time
	End          *time.Time // nil while the session is ongoing
	Status       string     // open set: "ongoing", "ended", "completed", …; "" if not sent
}

// ListPage is one decoded page of the session list.
type ListPage struct {
	PageInfo PageInfo
	Sessions []ListedSession
}

// ListPageFetcher fetches one page of the session list: GET
// {base}/v2/sessions/?{query}&page={page}, paced, capped and retried as the
// participants requests are, decoded by decodeListPage. query holds the
// filter (roomId or customRoomId), startDate, endDate and perPage.
type ListPageFetcher func(ctx context.Context, query url.Values, page int) (ListPage, error)

// Listing is the outcome of ListSessions.
type Listing struct {
	// Sessions are the sessions whose start lies in the window, each once,
	// oldest first (ties by ID).
	Sessions []ListedSession
	Listed   int // distinct sessions the server listed, in the window or not
	Pages    int // list pages fetched, relists included
	Relists  int // listings repeated because they came back short
	// EarlyStops counts listings that stopped before their last page
	// because a page of a newest-first list lay wholly before the window.
	EarlyStops int
}

// ListSessions lists the sessions of q.Filter that started in [q.From,
// q.To), one listing per room ID and custom room ID (or one of every room),
// merged by session ID.
//
// Each listing reads pageInfo from every page and pages sequentially,
// keeping each session once. It sends startDate and endDate but filters on
// start itself, since the server may ignore them. While the starts read so
// far are non-increasing (the list is newest first), it stops at the first
// page that lies wholly before the window: later pages are older still, so
// the cost follows the window, not the account's history. A listing read
// to its last page must have seen at least as many distinct sessions as
// page 1 said there were; otherwise it is read again, up to q.MaxRelists
// times, and then fails: a missed session would be silent data loss.
//
// Why those checks suffice. The list shifts while paged when sessions
// start; a newest-first list gains them at the front, which pushes every
// listed session towards later pages, never earlier. So consecutive pages
// overlap (one session may appear on two pages, hence the deduplication)
// and no session present when page 1 was read is skipped: every one of the
// page-1 total is seen by a listing read to the end, and by an early stop
// every one newer than the page that stopped it, which includes every
// session in the window. What a listing can miss is a session that started
// after page 1 was read; since To is not after the listing began, it lies
// outside the window and belongs to the next tick. A list that is not
// newest first is read to its last page; a list that loses sessions while
// paged (deletions, reordering) shows as fewer distinct sessions than page
// 1's total and is read again.
//
// An error from fetch is returned wrapped with the listing and page: it
// wraps ErrUnauthorized after a 401/403, and a *json.SyntaxError for a page
// that is not JSON after the caller's retries.
func ListSessions(ctx context.Context, q ListQuery, fetch ListPageFetcher) (Listing, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return Listing{}, fmt.Errorf("list sessions: window [%s, %s) is empty or unbounded",
			q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if q.PerPage <= 0 {
		q.PerPage = defaultListPerPage
	}
	if q.MaxRelists < 0 {
		q.MaxRelists = 0
	} else if q.MaxRelists == 0 {
		q.MaxRelists = defaultMaxRelists
	}
	if q.MaxPages <= 0 {
		q.MaxPages = defaultMaxListPages
	}
	if q.Logger == nil {
		q.Logger = slog.Default()
	}
	var filters []url.Values
	for _, id := range q.Filter.RoomIDs {
		filters = append(filters, url.Values{listQueryParamRoom: {id}})
	}
	for _, id := range q.Filter.CustomRoomIDs {
		filters = append(filters, url.Values{listQueryParamCustom: {id}})
	}
	if len(filters) == 0 {
		filters = []url.Values{{}}
	}

	var out Listing
	listed := make(map[string]ListedSession)
	for _, filter := range filters {
		// Whole milliseconds that contain the window: the server's bounds
		// may be inclusive or not, the filter below is exact.
		filter.Set("startDate", strconv.FormatInt(q.From.UnixMilli(), 10))
		filter.Set("endDate", strconv.FormatInt(q.To.Add(time.Millisecond-1).UnixMilli(), 10))
		if err := listRooms(ctx, q, fetch, filter, &out, listed); err != nil {
			return out, err
		}
	}
	out.Listed = len(listed)
	for _, s := range listed {
		if !s.Start.Before(q.From) && s.Start.Before(q.To) {
			out.Sessions = append(out.Sessions, s)
		}
	}
	slices.SortFunc(out.Sessions, func(a, b ListedSession) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// listRooms runs one listing (one filter) to completion, relisting while it
// comes back short, and merges what it saw into listed.
func listRooms(ctx context.Context, q ListQuery, fetch ListPageFetcher, filter url.Values, out *Listing, listed map[string]ListedSession) error {
	name := describeFilter(filter)
	for pass := 1; ; pass++ {
		r, err := listPass(ctx, q, fetch, filter)
		out.Pages += r.pages
		if err != nil {
			return fmt.Errorf("list sessions (%s): %w", name, err)
		}
		if r.stoppedEarly || len(r.seen) >= r.firstTotal {
			if r.stoppedEarly {
				out.EarlyStops++
			}
			for id, s := range r.seen {
				if prev, ok := listed[id]; !ok || moreFinal(s, prev) {
					listed[id] = s
				}
			}
			return nil
		}
		if pass > q.MaxRelists {
			return fmt.Errorf("list sessions (%s): the list kept losing sessions while paged: "+
				"%d distinct of a total of %d after %d listings; failing rather than missing a session",
				name, len(r.seen), r.firstTotal, pass)
		}
		out.Relists++
		q.Logger.Info("session list came back short; listing again",
			"filter", name, "pass", pass, "sessions", len(r.seen), "total", r.firstTotal)
	}
}

// listResult is one read of a listing.
type listResult struct {
	seen         map[string]ListedSession
	firstTotal   int // the total page 1 reported
	pages        int
	stoppedEarly bool
}

// listPass pages one listing from page 1, sequentially so that it can stop
// as soon as a newest-first list has passed the window.
func listPass(ctx context.Context, q ListQuery, fetch ListPageFetcher, filter url.Values) (listResult, error) {
	r := listResult{seen: make(map[string]ListedSession)}
	query := cloneValues(filter)
	query.Set("perPage", strconv.Itoa(q.PerPage))
	perPage := 0        // as page 1 says the server applied it
	newestFirst := true // the starts of first sightings so far never increase
	var prev, newest time.Time
	arrived := 0 // sessions newer than page 1's newest, seen on later pages
	for n, last := 1, 1; n <= last; n++ {
		if n > q.MaxPages {
			return r, fmt.Errorf("the list claims %d pages, more than the limit of %d", last, q.MaxPages)
		}
		if err := context.Cause(ctx); err != nil {
			return r, err
		}
		p, err := fetch(ctx, query, n)
		if err != nil {
			return r, fmt.Errorf("page %d: %w", n, err)
		}
		r.pages++
		if err := checkListPage(p, n, perPage); err != nil {
			return r, fmt.Errorf("page %d: %w", n, err)
		}
		if n == 1 {
			perPage = p.PageInfo.PerPage
			query.Set("perPage", strconv.Itoa(perPage))
			r.firstTotal = p.PageInfo.Total
		}
		last = max(last, p.PageInfo.LastPage)
		beforeWindow := len(p.Sessions) > 0
		for _, s := range p.Sessions {
			if !s.Start.Before(q.From) {
				beforeWindow = false
			}
			if old, dup := r.seen[s.ID]; dup {
				// Seen again after a shift: it says nothing about order.
				if moreFinal(s, old) {
					r.seen[s.ID] = s
				}
				continue
			}
			r.seen[s.ID] = s
			if n > 1 && s.Start.After(newest) && arrived < p.PageInfo.Total-r.firstTotal {
				// Started after page 1 was read, inserted at the front and
				// pushed onto this page by a faster stream of arrivals: as
				// many as the total grew by say nothing about the order.
				arrived++
				continue
			}
			if !prev.IsZero() && s.Start.After(prev) {
				newestFirst = false
			}
			prev = s.Start
			if n == 1 && s.Start.After(newest) {
				newest = s.Start
			}
		}
		if newestFirst && beforeWindow && n < last {
			r.stoppedEarly = true
			return r, nil
		}
	}
	return r, nil
}

// checkListPage holds a list page to what was asked and to itself.
// perPage is page 1's (0 on page 1).
func checkListPage(p ListPage, page, perPage int) error {
	return checkPageInfo(p.PageInfo, page, perPage, len(p.Sessions), "sessions")
}

// moreFinal reports whether a is the later state of a session seen twice:
// ended where b was ongoing.
func moreFinal(a, b ListedSession) bool { return a.End != nil && b.End == nil }

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func describeFilter(filter url.Values) string {
	for _, k := range []string{listQueryParamRoom, listQueryParamCustom} {
		if v := filter.Get(k); v != "" {
			return k + "=" + strconv.Quote(v)
		}
	}
	return "all rooms"
}

// listURL builds {base}/v2/sessions/?{query}&page={page}.
func listURL(base *url.URL, query url.Values, page int) *url.URL {
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + "/v2/sessions/"
	u.RawPath = ""
	if base.RawPath != "" {
		u.RawPath = strings.TrimSuffix(base.RawPath, "/") + "/v2/sessions/"
	}
	q := cloneValues(query)
	q.Set("page", strconv.Itoa(page))
	u.RawQuery = q.Encode()
	return &u
}

// decodeListPage decodes a session list response. As decodePage, a body
// that is not JSON is a *json.SyntaxError (a retry may cure it); any other
// error means the page does not match the schema. Absent or null fields
// other than id and start are taken as absent, status is any string, and
// unknown fields, the links and the participants preview are ignored.
func decodeListPage(body []byte) (ListPage, error) {
	var wire struct {
		PageInfo *PageInfo       `json:"pageInfo"`
		Data     json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return ListPage{}, fmt.Errorf("response: %w", err)
	}
	if wire.PageInfo == nil {
		return ListPage{}, errors.New("pageInfo missing")
	}
	page := ListPage{PageInfo: *wire.PageInfo}
	data := bytes.TrimSpace(wire.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return page, nil // an empty list; the counts say whether it should be
	}
	var items []struct {
		ID           *string         `json:"id"`
		RoomID       *string         `json:"roomId"`
		CustomRoomID *string         `json:"customRoomId"`
		Start        json.RawMessage `json:"start"`
		End          json.RawMessage `json:"end"`
		Status       any             `json:"status"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return ListPage{}, fmt.Errorf("data: want an array of sessions: %w", err)
	}
	page.Sessions = make([]ListedSession, len(items))
	for i, it := range items {
		s := &page.Sessions[i]
		if it.ID == nil || *it.ID == "" {
			return ListPage{}, fmt.Errorf("data[%d]: id missing or empty", i)
		}
		s.ID, s.RoomID, s.CustomRoomID = *it.ID, it.RoomID, it.CustomRoomID
		if reason := implausible(s.ID); reason != "" {
			return ListPage{}, fmt.Errorf("data[%d]: id %s is not a session ID: %s", i, showValue([]byte(s.ID)), reason)
		}
		// A session without a start cannot be placed in a window; skipping
		// it would lose it silently.
		start, err := listedTime(it.Start)
		if err != nil {
			return ListPage{}, fmt.Errorf("data[%d] (session %s): start: %w", i, s.ID, err)
		}
		if start == nil {
			return ListPage{}, fmt.Errorf("data[%d] (session %s): start missing", i, s.ID)
		}
		s.Start = *start
		if s.End, err = listedTime(it.End); err != nil {
			return ListPage{}, fmt.Errorf("data[%d] (session %s): end: %w", i, s.ID, err)
		}
		// An open set of words; anything but a string is as good as absent.
		s.Status, _ = it.Status.(string)
	}
	return page, nil
}

// listedTime decodes an RFC 3339 string, null or nothing (nil).
func listedTime(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, fmt.Errorf("want an RFC 3339 string, got %s", truncate(raw, 40))
	}
	t, err := ParseRFC3339(str)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// ListSessions lists the sessions of q (see the function ListSessions)
// through c: the list pages share the pacing, the cap on requests in
// flight, the retries and the token renewal of the participants pages, and
// count as Stats.ListPages. Any error fails the listing: one wrapping
// ErrUnauthorized or ErrAPIUnreachable (the client has stopped), a page
// given up on after retries, or one off the schema.
func (c *Client) ListSessions(ctx context.Context, q ListQuery) (Listing, error) {
	if q.Logger == nil {
		q.Logger = c.log
	}
	return ListSessions(ctx, q, c.fetchListPage)
}

// fetchListPage is the client's ListPageFetcher.
func (c *Client) fetchListPage(ctx context.Context, query url.Values, page int) (ListPage, error) {
	var p ListPage
	err := c.get(ctx, request{
		url:    listURL(c.base, query, page),
		decode: func(body []byte) (err error) { p, err = decodeListPage(body); return err },
		fail: func(reason string, err error) error {
			return &listPageError{reason: reason, err: err}
		},
		counter:  &c.listPages,
		logAttrs: []any{"list", describeFilter(query), "page", page},
	})
	return p, err
}

// listPageError is a list page given up on: the listing, and so the run,
// fails. Unlike a *SessionError it is never confined to one session.
type listPageError struct {
	reason string
	err    error
}

func (e *listPageError) Error() string { return e.reason }
func (e *listPageError) Unwrap() error { return e.err }
