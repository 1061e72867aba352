package extract_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// t0 is the start of the first simulated session of these tests.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// spaced makes n sessions starting step apart from t0, s000000 first, in
// rooms room-0 … room-2 and custom rooms custom-0 … custom-1.
func spaced(n int, step time.Duration) []videosdktest.Session {
	out := make([]videosdktest.Session, n)
	for i := range out {
		out[i] = videosdktest.Session{
			ID:           fmt.Sprintf("s%06d", i),
			RoomID:       fmt.Sprintf("room-%d", i%3),
			CustomRoomID: fmt.Sprintf("custom-%d", i%2),
			Start:        t0.Add(time.Duration(i) * step),
		}
		if i%4 == 0 {
			out[i].End = out[i].Start.Add(time.Hour)
		}
	}
	return out
}

// listFetcher fetches list pages from srv with plain net/http, the
// simulator's static token and no retries; seen counts the sessions on
// every page it decoded, repeats included.
func listFetcher(srv *videosdktest.Server, seen *atomic.Int64) extract.ListPageFetcher {
	base, err := url.Parse(srv.URL())
	if err != nil {
		panic(err)
	}
	return func(ctx context.Context, query url.Values, page int) (extract.ListPage, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, extract.ListURL(base, query, page).String(), nil)
		if err != nil {
			return extract.ListPage{}, err
		}
		req.Header.Set("Authorization", "ready")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return extract.ListPage{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return extract.ListPage{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return extract.ListPage{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
		}
		p, err := extract.DecodeListPage(body)
		if err == nil && seen != nil {
			seen.Add(int64(len(p.Sessions)))
		}
		return p, err
	}
}

func listServer(t *testing.T, sessions []videosdktest.Session, lo videosdktest.ListOptions) *videosdktest.Server {
	t.Helper()
	srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions, List: lo})
	t.Cleanup(srv.Close)
	return srv
}

// wantListed is the oracle: the IDs of the sessions the server holds now
// (arrivals included) that match keep and started in [from, to), oldest
// first, worked out from the simulator's own data.
func wantListed(srv *videosdktest.Server, from, to time.Time, keep func(videosdktest.Session) bool) []string {
	var in []videosdktest.Session
	for _, s := range srv.Snapshot() {
		start := cmp.Or(s.Start, videosdktest.DefaultStart)
		if !start.Before(from) && start.Before(to) && (keep == nil || keep(s)) {
			in = append(in, s)
		}
	}
	slices.SortFunc(in, func(a, b videosdktest.Session) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
	ids := make([]string, len(in))
	for i, s := range in {
		ids[i] = s.ID
	}
	return ids
}

func gotIDs(l extract.Listing) []string {
	ids := make([]string, len(l.Sessions))
	for i, s := range l.Sessions {
		ids[i] = s.ID
	}
	return ids
}

func checkListing(t *testing.T, got extract.Listing, want []string) {
	t.Helper()
	if ids := gotIDs(got); !slices.Equal(ids, want) {
		t.Fatalf("listed %d sessions in the window, want %d\n got %v\nwant %v", len(ids), len(want), ids, want)
	}
}

func TestListSessionsWindow(t *testing.T) {
	sessions := spaced(120, time.Minute)
	rnd := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(sessions)
	rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	from, to := t0.Add(30*time.Minute), t0.Add(90*time.Minute) // 60 sessions; 30 newer, 30 older
	tests := []struct {
		name       string
		sessions   []videosdktest.Session
		lo         videosdktest.ListOptions
		wantPages  int
		earlyStops int
	}{
		// The server's bounds hold s030 … s090 (endDate is inclusive): 61 at 7 a page.
		{name: "newest first, bounds honoured", sessions: sessions, lo: videosdktest.ListOptions{MaxPerPage: 7}, wantPages: 9},
		// s119 … s030 fill pages 1 … 13; page 14 (s028 …) lies wholly before the window.
		{name: "newest first, bounds ignored", sessions: sessions, lo: videosdktest.ListOptions{MaxPerPage: 7, IgnoreDateBounds: true},
			wantPages: 14, earlyStops: 1},
		{name: "oldest first, bounds ignored: every page", sessions: sessions,
			lo: videosdktest.ListOptions{MaxPerPage: 7, IgnoreDateBounds: true, Order: videosdktest.OldestFirst}, wantPages: 18},
		{name: "unordered, bounds ignored: every page", sessions: shuffled,
			lo: videosdktest.ListOptions{MaxPerPage: 7, IgnoreDateBounds: true, Order: videosdktest.AsHeld}, wantPages: 18},
		{name: "unordered, bounds honoured", sessions: shuffled,
			lo: videosdktest.ListOptions{MaxPerPage: 7, Order: videosdktest.AsHeld}, wantPages: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := listServer(t, tt.sessions, tt.lo)
			got, err := extract.ListSessions(context.Background(), extract.ListQuery{From: from, To: to}, listFetcher(srv, nil))
			if err != nil {
				t.Fatal(err)
			}
			checkListing(t, got, wantListed(srv, from, to, nil))
			if got.Pages != tt.wantPages || srv.ListRequests() != int64(tt.wantPages) {
				t.Errorf("%d pages, %d list requests; want %d", got.Pages, srv.ListRequests(), tt.wantPages)
			}
			if got.EarlyStops != tt.earlyStops || got.Relists != 0 {
				t.Errorf("early stops %d, relists %d; want %d, 0", got.EarlyStops, got.Relists, tt.earlyStops)
			}
			for _, uri := range srv.RequestURIs() {
				q, _ := url.ParseQuery(uri[strings.Index(uri, "?")+1:])
				if q.Get("startDate") != fmt.Sprint(from.UnixMilli()) || q.Get("endDate") != fmt.Sprint(to.UnixMilli()) {
					t.Fatalf("request %s does not send the window as startDate/endDate", uri)
				}
				if q.Get("page") != "1" && q.Get("perPage") != "7" {
					t.Fatalf("request %s does not ask for the perPage the server applied", uri)
				}
			}
			s := got.Sessions[2] // s032
			if s.Status != "ended" || s.End == nil || !s.End.Equal(s.Start.Add(time.Hour)) ||
				s.RoomID == nil || *s.RoomID != "room-2" || s.CustomRoomID == nil || *s.CustomRoomID != "custom-0" {
				t.Errorf("s032 listed as %+v", s)
			}
			if s := got.Sessions[1]; s.Status != "ongoing" || s.End != nil {
				t.Errorf("s031, ongoing, listed as %+v", s)
			}
		})
	}
}

// Sessions that start while the list is paged shift a newest-first list by
// one or more places per request: pages overlap, and every session of the
// window must still come back exactly once, the new ones left to the next
// tick.
func TestListSessionsStartingWhilePaged(t *testing.T) {
	type arrivals struct {
		name  string
		count func(request int) int
		// midList starts them after the logical time but before the newest
		// session listed: they land mid-list, and the order check fails.
		midList bool
	}
	for _, arrive := range []arrivals{
		{"1 per request", func(int) int { return 1 }, false},
		{"3 per request", func(int) int { return 3 }, false},
		// Fewer than a page: a list that grows faster than it is read has no end.
		{"6 per request", func(int) int { return 6 }, false},
		// More than a page at once: new sessions reach the page being read.
		{"a burst of 20", func(n int) int { return 20 * b2i(n == 3) }, false},
		{"6 per request, mid-list", func(int) int { return 6 }, true},
	} {
		for _, ignore := range []bool{false, true} {
			for _, window := range []struct {
				name     string
				from, to time.Time
			}{
				{"window in the middle", t0.Add(30 * time.Minute), t0.Add(90 * time.Minute)},
				{"window back to the first session", t0.Add(-time.Hour), t0.Add(90 * time.Minute)},
				{"window up to the listing", t0.Add(30 * time.Minute), t0.Add(2 * time.Hour)},
			} {
				name := fmt.Sprintf("%s, ignore bounds %v, %s", arrive.name, ignore, window.name)
				t.Run(name, func(t *testing.T) {
					arrivals := func(n int) []videosdktest.Session {
						var out []videosdktest.Session
						start := t0.Add(3 * time.Hour)
						if arrive.midList {
							start = window.to
						}
						for k := range arrive.count(n) {
							// Started during the listing: after the logical time
							// and after every session listed before.
							out = append(out, videosdktest.Session{ID: fmt.Sprintf("new-%d-%d", n, k),
								RoomID: "room-0", Start: start.Add(time.Duration(n)*time.Minute + time.Duration(k)*time.Second)})
						}
						return out
					}
					srv := listServer(t, spaced(120, time.Minute), videosdktest.ListOptions{
						MaxPerPage: 7, IgnoreDateBounds: ignore, Arrivals: arrivals})
					var seen atomic.Int64
					got, err := extract.ListSessions(context.Background(),
						extract.ListQuery{From: window.from, To: window.to}, listFetcher(srv, &seen))
					if err != nil {
						t.Fatal(err)
					}
					checkListing(t, got, wantListed(srv, window.from, window.to, nil))
					if got.Relists != 0 {
						t.Errorf("%d relists; a shift that only pushes sessions down needs none", got.Relists)
					}
					if early := window.from.After(t0) && !arrive.midList; ignore && early && got.EarlyStops != 1 {
						t.Errorf("%d early stops, want 1: arrivals must not hide that the list is newest first", got.EarlyStops)
					}
					if ignore && seen.Load() <= int64(got.Listed) {
						t.Errorf("pages held %d sessions for %d distinct: the list did not shift, the test proves nothing",
							seen.Load(), got.Listed)
					}
				})
			}
		}
	}
}

func TestListSessionsRooms(t *testing.T) {
	from, to := t0, t0.Add(time.Hour)
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprint("ignore bounds ", ignore), func(t *testing.T) {
			srv := listServer(t, spaced(200, time.Minute), videosdktest.ListOptions{MaxPerPage: 5, IgnoreDateBounds: ignore})
			filter, err := extract.ParseVideoSDKSource("videosdk:?roomId=room-1&customRoomId=custom-0&roomId=room-2&roomId=room-1")
			if err != nil {
				t.Fatal(err)
			}
			got, err := extract.ListSessions(context.Background(), extract.ListQuery{Filter: filter, From: from, To: to},
				listFetcher(srv, nil))
			if err != nil {
				t.Fatal(err)
			}
			checkListing(t, got, wantListed(srv, from, to, func(s videosdktest.Session) bool {
				return s.RoomID == "room-1" || s.RoomID == "room-2" || s.CustomRoomID == "custom-0"
			}))
			asked := map[string]bool{}
			for _, uri := range srv.RequestURIs() {
				q, _ := url.ParseQuery(uri[strings.Index(uri, "?")+1:])
				if len(q["roomId"])+len(q["customRoomId"]) != 1 {
					t.Fatalf("request %s is not one room's listing", uri)
				}
				asked[q.Get("roomId")+"/"+q.Get("customRoomId")] = true
			}
			if want := map[string]bool{"room-1/": true, "room-2/": true, "/custom-0": true}; !maps.Equal(asked, want) {
				t.Errorf("listings %v, want %v", asked, want)
			}
		})
	}
}

// An account's history must not set the cost of a tick: 100,000 sessions,
// 288 of them in a 24 h window, cost the window's pages and at most a
// couple more, whether the server applies the date bounds or not.
func TestListSessionsCostFollowsWindow(t *testing.T) {
	const n, step = 100_000, 5 * time.Minute
	sessions := spaced(n, step)
	to := t0.Add(n * step) // the logical time, just after the newest session
	from := to.Add(-24 * time.Hour)
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprint("ignore bounds ", ignore), func(t *testing.T) {
			srv := listServer(t, sessions, videosdktest.ListOptions{IgnoreDateBounds: ignore})
			got, err := extract.ListSessions(context.Background(), extract.ListQuery{From: from, To: to}, listFetcher(srv, nil))
			if err != nil {
				t.Fatal(err)
			}
			want := wantListed(srv, from, to, nil)
			checkListing(t, got, want)
			windowPages := (len(want) + 49) / 50 // the simulator caps perPage at 50
			t.Logf("%d sessions in the window: %d list requests (window's pages %d)", len(want), srv.ListRequests(), windowPages)
			if srv.ListRequests() > int64(windowPages+2) {
				t.Errorf("%d list requests for %d sessions in the window, want at most %d",
					srv.ListRequests(), len(want), windowPages+2)
			}
		})
	}
}

func TestListSessionsShortListing(t *testing.T) {
	from, to := t0.Add(-time.Hour), t0.Add(24*time.Hour) // every session
	t.Run("relisted once", func(t *testing.T) {
		srv := listServer(t, spaced(40, time.Minute), videosdktest.ListOptions{MaxPerPage: 10, HideOneFor: 4})
		got, err := extract.ListSessions(context.Background(), extract.ListQuery{From: from, To: to}, listFetcher(srv, nil))
		if err != nil {
			t.Fatal(err)
		}
		checkListing(t, got, wantListed(srv, from, to, nil))
		if got.Relists != 1 || got.Pages != 8 {
			t.Errorf("%d relists, %d pages; want 1, 8", got.Relists, got.Pages)
		}
	})
	t.Run("still short: fails", func(t *testing.T) {
		srv := listServer(t, spaced(40, time.Minute), videosdktest.ListOptions{MaxPerPage: 10, HideOneFor: 1000})
		got, err := extract.ListSessions(context.Background(), extract.ListQuery{From: from, To: to, MaxRelists: 2},
			listFetcher(srv, nil))
		if err == nil || !strings.Contains(err.Error(), "39 distinct of a total of 40 after 3 listings") {
			t.Fatalf("err = %v, want a clear failure", err)
		}
		if got.Relists != 2 || srv.ListRequests() != 12 {
			t.Errorf("%d relists, %d list requests; want 2, 12", got.Relists, srv.ListRequests())
		}
	})
}

func TestListSessionsBadPages(t *testing.T) {
	page := func(current, perPage, total, n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"id":"x%d","start":"2026-11-01T00:00:00Z"}`, i)
		}
		return fmt.Sprintf(`{"pageInfo":{"currentPage":%d,"perPage":%d,"lastPage":%d,"total":%d},"data":[%s]}`,
			current, perPage, (total+perPage-1)/perPage, total, strings.Join(items, ","))
	}
	tests := []struct {
		name    string
		page2   string
		wantErr string
		syntax  bool
	}{
		{"HTML", "<html><body>502 Bad Gateway</body></html>", "page 2: response:", true},
		{"truncated", `{"pageInfo":{"currentPage":2,"perPage":5`, "page 2: response:", true},
		{"answered as another page", page(1, 5, 40, 5), "page 2: answered as page 1", false},
		{"perPage changed", page(2, 6, 40, 6), "page 2: pageInfo.perPage is 6, page 1 said 5", false},
		{"lastPage off", `{"pageInfo":{"currentPage":2,"perPage":5,"lastPage":2,"total":40},"data":[]}`, "does not fit total", false},
		{"session without a start", `{"pageInfo":{"currentPage":2,"perPage":5,"lastPage":8,"total":40},"data":[{"id":"x"}]}`,
			"page 2: data[0] (session x): start missing", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := listServer(t, spaced(40, time.Minute), videosdktest.ListOptions{MaxPerPage: 5, Override: map[int]string{2: tt.page2}})
			_, err := extract.ListSessions(context.Background(), extract.ListQuery{From: t0, To: t0.Add(time.Hour)}, listFetcher(srv, nil))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "list sessions (all rooms)") {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) != tt.syntax {
				t.Errorf("error is a *json.SyntaxError: %v, want %v (retryable)", !tt.syntax, tt.syntax)
			}
		})
	}
	t.Run("fetch error", func(t *testing.T) {
		fail := errors.New("credentials rejected")
		_, err := extract.ListSessions(context.Background(), extract.ListQuery{From: t0, To: t0.Add(time.Hour)},
			func(context.Context, url.Values, int) (extract.ListPage, error) { return extract.ListPage{}, fail })
		if !errors.Is(err, fail) {
			t.Errorf("err = %v, want it to wrap the fetch error", err)
		}
	})
	t.Run("empty window", func(t *testing.T) {
		_, err := extract.ListSessions(context.Background(), extract.ListQuery{From: t0, To: t0},
			func(context.Context, url.Values, int) (extract.ListPage, error) { panic("fetched") })
		if err == nil {
			t.Error("an empty window was listed")
		}
	})
}

func TestDecodeListPage(t *testing.T) {
	const full = `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":1,"total":4},"extra":1,"data":[
		{"id":"a","roomId":"r","customRoomId":"c","start":"2026-11-01T05:09:58.934Z","end":"2026-11-01T06:00:00+01:00",
		 "status":"completed","participants":[{"participantId":"p"}],"links":{"get_room":"x"},"activeDuration":3},
		{"id":"b","roomId":null,"start":"2026-11-01t05:09:58z","end":null,"status":null},
		{"id":"c","start":"2026-11-01T05:09:58Z","status":"brand-new-status"},
		{"id":"d","start":"2026-11-01T05:09:58Z","status":7,"participants":null}]}`
	p, err := extract.DecodeListPage([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sessions) != 4 || p.PageInfo.Total != 4 {
		t.Fatalf("decoded %+v", p)
	}
	a, b, c, d := p.Sessions[0], p.Sessions[1], p.Sessions[2], p.Sessions[3]
	if a.ID != "a" || *a.RoomID != "r" || *a.CustomRoomID != "c" || a.Status != "completed" ||
		!a.Start.Equal(time.Date(2026, 11, 1, 5, 9, 58, 934e6, time.UTC)) || !a.End.Equal(time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("a = %+v", a)
	}
	if b.RoomID != nil || b.CustomRoomID != nil || b.End != nil || b.Status != "" || !b.Start.Equal(time.Date(2026, 11, 1, 5, 9, 58, 0, time.UTC)) {
		t.Errorf("b = %+v", b)
	}
	if c.Status != "brand-new-status" || c.End != nil || d.Status != "" {
		t.Errorf("c = %+v, d = %+v", c, d)
	}

	for _, tt := range []struct{ name, body, wantErr string }{
		{"empty data", `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":[]}`, ""},
		{"null data", `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":null}`, ""},
		{"no data", `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0}}`, ""},
		{"no pageInfo", `{"data":[]}`, "pageInfo missing"},
		{"data an object", `{"pageInfo":{},"data":{"id":"a"}}`, "data: want an array"},
		{"no id", `{"pageInfo":{},"data":[{"start":"2026-11-01T05:09:58Z"}]}`, "data[0]: id missing"},
		{"id a number", `{"pageInfo":{},"data":[{"id":1}]}`, "data:"},
		{"id with a control character", `{"pageInfo":{},"data":[{"id":"a\nb","start":"2026-11-01T05:09:58Z"}]}`, "not a session ID"},
		{"bad start", `{"pageInfo":{},"data":[{"id":"a","start":"yesterday"}]}`, "data[0] (session a): start:"},
		{"null start", `{"pageInfo":{},"data":[{"id":"a","start":null}]}`, "start missing"},
		{"bad end", `{"pageInfo":{},"data":[{"id":"a","start":"2026-11-01T05:09:58Z","end":5}]}`, "end: want an RFC 3339 string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := extract.DecodeListPage([]byte(tt.body))
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				t.Errorf("a schema error is a *json.SyntaxError (would be retried): %v", err)
			}
		})
	}
}

func TestParseVideoSDKSource(t *testing.T) {
	tests := []struct {
		source  string
		want    extract.ListFilter
		wantErr string
	}{
		{source: "videosdk:"},
		{source: "videosdk:?roomId=abc-xyzw-lmno", want: extract.ListFilter{RoomIDs: []string{"abc-xyzw-lmno"}}},
		{source: "videosdk:?roomId=a&roomId=b&customRoomId=c&roomId=a",
			want: extract.ListFilter{RoomIDs: []string{"a", "b"}, CustomRoomIDs: []string{"c"}}},
		{source: "videosdk:?customRoomId=team%20standup%26more", want: extract.ListFilter{CustomRoomIDs: []string{"team standup&more"}}},
		{source: "videosdk:?", want: extract.ListFilter{}},
		{source: "videosdk:?roomid=a", wantErr: `unknown parameter "roomid"`},
		{source: "videosdk:?roomId=a&startDate=1", wantErr: `unknown parameter "startDate"`},
		{source: "videosdk:?roomId=", wantErr: "roomId \"\": empty"},
		{source: "videosdk:?roomId=a%00", wantErr: "control character"},
		{source: "videosdk:?roomId=a;b", wantErr: "semicolon"},
		{source: "videosdk:roomId=a", wantErr: "followed by a query"},
		{source: "videosdk://rooms", wantErr: "followed by a query"},
		{source: "ids.txt", wantErr: `does not start with "videosdk:"`},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			got, err := extract.ParseVideoSDKSource(tt.source)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.RoomIDs, tt.want.RoomIDs) || !slices.Equal(got.CustomRoomIDs, tt.want.CustomRoomIDs) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestListURL(t *testing.T) {
	for base, want := range map[string]string{
		"https://api.videosdk.live":       "https://api.videosdk.live/v2/sessions/?endDate=2&page=3&perPage=50&roomId=a+b%26c",
		"http://127.0.0.1:8080/proxy/":    "http://127.0.0.1:8080/proxy/v2/sessions/?endDate=2&page=3&perPage=50&roomId=a+b%26c",
		"http://127.0.0.1:8080/a%2Fb/api": "http://127.0.0.1:8080/a%2Fb/api/v2/sessions/?endDate=2&page=3&perPage=50&roomId=a+b%26c",
	} {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		query := url.Values{"roomId": {"a b&c"}, "endDate": {"2"}, "perPage": {"50"}}
		if got := extract.ListURL(u, query, 3).String(); got != want {
			t.Errorf("ListURL(%s) = %s, want %s", base, got, want)
		}
		if query.Has("page") {
			t.Error("ListURL changed the query it was given")
		}
	}
}
