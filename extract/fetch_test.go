package extract_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

var secret = []byte("simulator-secret-do-not-leak")

func newServer(t *testing.T, opts videosdktest.Options) *videosdktest.Server {
	t.Helper()
	if opts.Secret == nil {
		opts.Secret = secret
	}
	srv := videosdktest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client for srv with test-sized backoff; opts override.
func newClient(t *testing.T, srv *videosdktest.Server, opts extract.Options) *extract.Client {
	t.Helper()
	opts.BaseURL = srv.URL()
	if opts.HTTPClient == nil {
		opts.HTTPClient = srv.Client() // nil but in memory
	}
	if opts.Tokens == nil {
		opts.Tokens = extract.NewMinter("test-key", secret, time.Minute)
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = time.Millisecond
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 20 * time.Millisecond
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c, err := extract.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type result struct {
	session extract.Session
	err     error
	at      time.Time // when the fetch returned
}

// assertAllExact checks that every session arrived, exactly as served.
func assertAllExact(t *testing.T, sessions []videosdktest.Session, got map[string]result) {
	t.Helper()
	for _, want := range sessions {
		if r := got[want.ID]; r.err != nil {
			t.Fatalf("session %s: %v", want.ID, r.err)
		} else {
			assertExact(t, want, r.session)
		}
	}
}

// fetchAll fetches ids with workers goroutines, the way the run does.
func fetchAll(ctx context.Context, c *extract.Client, ids []string, workers int) map[string]result {
	out := make(map[string]result, len(ids))
	var mu sync.Mutex
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for id := range next {
				s, err := c.FetchSession(ctx, id)
				mu.Lock()
				out[id] = result{s, err, time.Now()}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return out
}

func ids(sessions []videosdktest.Session) []string {
	var out []string
	for _, s := range sessions {
		out = append(out, s.ID)
	}
	return out
}

// describe renders a session one line per participant, every field that
// reaches a row included, so that two sessions compare as text.
func describe(s extract.Session) []string {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%q", *p)
	}
	ts := func(p *time.Time) string {
		if p == nil {
			return "<nil>"
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	lines := []string{"session " + s.ID + " room " + str(s.RoomID) + " custom " + str(s.CustomRoomID)}
	for _, p := range s.Participants {
		var b strings.Builder
		fmt.Fprintf(&b, "%s name=%s timelog=", p.ParticipantID, str(p.Name))
		if p.Timelog == nil {
			b.WriteString("none")
		}
		for _, e := range p.Timelog {
			fmt.Fprintf(&b, "[%s %s]", ts(e.Start), ts(e.End))
		}
		lines = append(lines, b.String())
	}
	return lines
}

// assertExact checks that got holds exactly the participants the simulator
// holds now, in its order.
func assertExact(t *testing.T, want videosdktest.Session, got extract.Session) {
	t.Helper()
	w, err := want.Want()
	if err != nil {
		t.Fatal(err)
	}
	wl, gl := describe(w), describe(got)
	if slices.Equal(wl, gl) {
		return
	}
	t.Errorf("session %q: got %d participants, want %d", want.ID, len(got.Participants), len(w.Participants))
	for i := range max(len(wl), len(gl)) {
		var a, b string
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(gl) {
			b = gl[i]
		}
		if a != b {
			t.Errorf("first difference at line %d:\nwant %s\ngot  %s", i, a, b)
			return
		}
	}
}

// people makes n plain participants.
func people(prefix string, n int) []videosdktest.Participant {
	out := make([]videosdktest.Participant, n)
	for i := range out {
		out[i] = videosdktest.Participant{
			ID:   fmt.Sprintf("%s%04d", prefix, i),
			Name: fmt.Sprintf("Person %d", i),
			Timelog: []videosdktest.Entry{{
				Start: time.Date(2021, 10, 25, 5, 0, i, 0, time.UTC).Format(time.RFC3339),
				End:   time.Date(2021, 10, 25, 6, 0, i, 0, time.UTC).Format(time.RFC3339),
			}},
		}
	}
	return out
}

func TestFetchSessionMatchesSimulator(t *testing.T) {
	odd := []videosdktest.Participant{
		{ID: "absent-name", NameIs: videosdktest.Absent, TimelogIs: videosdktest.Absent},
		{ID: "null-name", NameIs: videosdktest.Null, TimelogIs: videosdktest.Null},
		{ID: "empty-name", Name: "", Timelog: []videosdktest.Entry{}},
		{ID: "emoji", Name: "😀 李 שלום", Timelog: []videosdktest.Entry{
			{Start: "2021-10-25T05:09:58.934Z", End: "2021-10-25T07:09:58+02:00"},
			{Start: "2021-10-25T05:09:58Z", EndIs: videosdktest.Null},
		}},
		{ID: "forms", Name: "x", Timelog: []videosdktest.Entry{
			{Start: "2021-10-25t05:09:58.123456789z", EndIs: videosdktest.Absent},
			{StartIs: videosdktest.Absent, End: "2021-10-25T01:39:58.5-03:30"},
		}},
	}
	sessions := []videosdktest.Session{
		{ID: "multi", RoomID: "abc-xyzw-lmno", CustomRoomID: "testing-room", Participants: people("m", 237)},
		{ID: "exact-pages", RoomIDIs: videosdktest.Absent, CustomRoomIDIs: videosdktest.Null, Participants: people("e", 100)},
		{ID: "array", DataAsArray: true, Participants: people("a", 75)},
		{ID: "empty", Participants: nil},
		{ID: "odd-fields", Participants: odd},
		{ID: "grow-end", Participants: people("g", 90), Live: videosdktest.GrowEnd, LiveStep: 2, LiveCap: 110},
		{ID: "grow-front", Participants: people("f", 90), Live: videosdktest.GrowFront, LiveStep: 2, LiveCap: 106},
	}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, MaxPerPage: 50})
	c := newClient(t, srv, extract.Options{Concurrency: 4, PerPage: 100})
	got := fetchAll(context.Background(), c, ids(sessions), 4)

	wantPages := map[string]int{"multi": 5, "exact-pages": 2, "array": 2, "empty": 1, "odd-fields": 1}
	for _, want := range srv.Snapshot() {
		t.Run(want.ID, func(t *testing.T) {
			r := got[want.ID]
			if r.err != nil {
				t.Fatalf("FetchSession: %v", r.err)
			}
			assertExact(t, want, r.session)
			if n, ok := wantPages[want.ID]; ok && r.session.Pages != n {
				t.Errorf("Pages = %d, want %d", r.session.Pages, n)
			}
		})
	}
	snap := srv.Snapshot()
	if n := len(snap[5].Participants); n <= 90 {
		t.Errorf("grow-end still has %d participants: it did not grow as paged", n)
	}
	if n := len(snap[6].Participants); n != 106 {
		t.Errorf("grow-front ended with %d participants, want its cap 106", n)
	}
	if s := c.Stats(); s.Rereads == 0 {
		t.Errorf("Stats.Rereads = 0; a session growing at the front cannot be read in one pass")
	}
	// The server caps perPage at 50: the client asks for 100 once per
	// session, then for what it got.
	asked := map[string]bool{}
	for _, uri := range srv.RequestURIs() {
		path, _, _ := strings.Cut(uri, "?")
		first := !asked[path]
		asked[path] = true
		if first != strings.Contains(uri, "perPage=100") {
			t.Errorf("request %s: want perPage=100 on the first request of a session only", uri)
		}
	}
}

func TestFetchSessionFailuresStayWithTheirSession(t *testing.T) {
	sessions := []videosdktest.Session{
		{ID: "fine", Participants: people("p", 120)},
		{ID: "bad-page-2", Participants: people("b", 120), Override: map[int]string{
			2: `{"pageInfo":{"currentPage":2,"perPage":50,"lastPage":3,"total":120},"data":{"participants":[{"name":"no id"}]}}`}},
		{ID: "wrong-session", Participants: people("w", 120), Override: map[int]string{
			3: `{"pageInfo":{"currentPage":3,"perPage":50,"lastPage":3,"total":120},"data":{"id":"someone-else","participants":[]}}`}},
		{ID: "wrong-page", Participants: people("w", 120), Override: map[int]string{
			2: `{"pageInfo":{"currentPage":1,"perPage":50,"lastPage":3,"total":120},"data":{"participants":[]}}`}},
		{ID: "endless", Endless: true},
		{ID: "huge", Participants: people("h", 400)},
		{ID: "never-settles", Participants: people("n", 60), Live: videosdktest.GrowFront, LiveStep: 3, LiveCap: 100000},
	}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, MaxPerPage: 50})
	tests := []struct {
		id, reason string
		opts       extract.Options
		maxReqs    int64
	}{
		{id: "unknown-session", reason: "HTTP 404: session not found", maxReqs: 1},
		{id: "bad-page-2", reason: "page 2: data.participants[0]: participantId missing"},
		{id: "wrong-session", reason: `page 3: belongs to session "someone-else"`},
		{id: "wrong-page", reason: "page 2: answered as page 1"},
		{id: "endless", reason: "more than the limit of 20", opts: extract.Options{MaxPages: 20}, maxReqs: 20},
		{id: "huge", reason: "page 1: response body of ", opts: extract.Options{MaxBodyBytes: 2000}, maxReqs: 1},
		{id: "never-settles", reason: "participant list kept shifting while paged (got ", opts: extract.Options{MaxRereads: 2}},
		{id: "fine"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			tt.opts.Concurrency = 4
			c := newClient(t, srv, tt.opts)
			s, err := c.FetchSession(context.Background(), tt.id)
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				assertExact(t, srv.Snapshot()[0], s)
				return
			}
			var se *extract.SessionError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SessionError", err)
			}
			if se.SessionID != tt.id || !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("SessionError{%q, %q}, want session %q and reason containing %q", se.SessionID, se.Reason, tt.id, tt.reason)
			}
			if strings.Contains(se.Reason, "\n") {
				t.Errorf("reason %q spans lines", se.Reason)
			}
			if st := c.Stats(); tt.maxReqs > 0 && st.Requests > tt.maxReqs {
				t.Errorf("%d requests, want at most %d: a permanent failure was retried", st.Requests, tt.maxReqs)
			}
		})
	}
}

func TestHostileIDsStayOneSegment(t *testing.T) {
	hostile := []string{"../../v2/rooms/x", "a?page=9", "a/b", "%2e%2e", ".", "..", "a#frag", "a;b", "a&perPage=1", " spaced ", "会议"}
	var sessions []videosdktest.Session
	for i, id := range hostile {
		sessions = append(sessions, videosdktest.Session{ID: id, Participants: people(fmt.Sprint(i, "-"), 3)})
	}
	srv := newServer(t, videosdktest.Options{Sessions: sessions})
	c := newClient(t, srv, extract.Options{})
	for _, want := range sessions {
		t.Run(want.ID, func(t *testing.T) {
			s, err := c.FetchSession(context.Background(), want.ID)
			if err != nil {
				t.Fatalf("FetchSession: %v", err)
			}
			assertExact(t, want, s)
		})
	}
	// IDs that cannot be session IDs are not sent.
	before := srv.Requests()
	for _, id := range []string{"", "nul\x00", "bad\xff", strings.Repeat("x", 129), "line\nbreak"} {
		_, err := c.FetchSession(context.Background(), id)
		var se *extract.SessionError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Reason, "not a session ID") || strings.ContainsAny(se.SessionID, "\x00\n") {
			t.Errorf("FetchSession(%q): err = %v, want a SessionError with a safe ID", id, err)
		}
	}
	if n := srv.Requests() - before; n != 0 {
		t.Errorf("%d requests sent for implausible IDs", n)
	}
	// An unknown hostile ID is a 404 for that ID, never another resource.
	if _, err := c.FetchSession(context.Background(), "../x"); err == nil || !strings.Contains(err.Error(), "session not found") {
		t.Errorf("unknown hostile ID: err = %v, want a 404 for the session", err)
	}
	seen := map[string]bool{}
	for _, uri := range srv.RequestURIs() {
		path, query, _ := strings.Cut(uri, "?")
		segs := strings.Split(path, "/")
		if len(segs) != 5 || segs[1] != "v2" || segs[2] != "sessions" || segs[4] != "participants" || segs[3] == "." || segs[3] == ".." {
			t.Errorf("request %q is not /v2/sessions/{one segment}/participants", uri)
			continue
		}
		id, err := url.PathUnescape(segs[3])
		if err != nil {
			t.Errorf("request %q: %v", uri, err)
		}
		seen[id] = true
		if q, err := url.ParseQuery(query); err != nil || len(q) != 2 || len(q["page"]) != 1 || len(q["perPage"]) != 1 {
			t.Errorf("request %q: query is not exactly page and perPage", uri)
		}
	}
	for _, id := range hostile {
		if !seen[id] {
			t.Errorf("the server never saw session %q as one segment", id)
		}
	}
}

func TestUnauthorizedStopsEverything(t *testing.T) {
	sessions := videosdktest.Generate(11, 30)
	tests := []struct {
		name   string
		tokens extract.TokenSource
	}{
		{"wrong secret", extract.NewMinter("test-key", []byte("not-the-secret"), time.Minute)},
		{"wrong static token", extract.StaticToken("eyJhbGciOiJIUzI1NiJ9.e30.garbage")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, videosdktest.Options{Sessions: sessions, Latency: 10 * time.Millisecond})
			const concurrency = 4
			c := newClient(t, srv, extract.Options{Tokens: tt.tokens, Concurrency: concurrency})
			start := time.Now()
			got := fetchAll(context.Background(), c, ids(sessions), 16)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v to give up", took)
			}
			for id, r := range got {
				if !errors.Is(r.err, extract.ErrUnauthorized) {
					t.Fatalf("session %s: err = %v, want ErrUnauthorized", id, r.err)
				}
				var se *extract.SessionError
				if errors.As(r.err, &se) {
					t.Fatalf("session %s: a credentials failure is not a session failure: %v", id, r.err)
				}
				if !strings.Contains(r.err.Error(), "VIDEOSDK_SECRET_KEY") {
					t.Errorf("message %q does not say which credential to check", r.err)
				}
			}
			if n := srv.Requests(); n > concurrency {
				t.Errorf("the server saw %d requests, want at most %d (those already in flight)", n, concurrency)
			}
			if _, err := c.FetchSession(context.Background(), sessions[0].ID); !errors.Is(err, extract.ErrUnauthorized) {
				t.Errorf("a later FetchSession: err = %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestStaticTokenAccepted(t *testing.T) {
	sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 3)}}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, StaticToken: "ready-made"})
	c := newClient(t, srv, extract.Options{Tokens: extract.StaticToken("ready-made")})
	s, err := c.FetchSession(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	assertExact(t, sessions[0], s)
}

func TestConcurrencyIsAHardCap(t *testing.T) {
	var sessions []videosdktest.Session
	for i := range 24 {
		sessions = append(sessions, videosdktest.Session{ID: fmt.Sprint("s", i), Participants: people("p", 140)})
	}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, Latency: 3 * time.Millisecond})
	const concurrency = 3
	c := newClient(t, srv, extract.Options{Concurrency: concurrency})
	got := fetchAll(context.Background(), c, ids(sessions), 12)
	for _, s := range sessions {
		if r := got[s.ID]; r.err != nil || len(r.session.Participants) != 140 {
			t.Fatalf("session %s: %d participants, err %v", s.ID, len(r.session.Participants), r.err)
		}
	}
	if m := srv.MaxInFlight(); m > concurrency {
		t.Errorf("the server saw %d requests in flight, cap %d", m, concurrency)
	} else if m < concurrency {
		t.Errorf("the server saw at most %d requests in flight; the cap %d was never reached, so the test proves little", m, concurrency)
	}
}

func TestRateMatchesServerLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the pace and the server's rate on a fake clock
		var sessions []videosdktest.Session
		for i := range 30 {
			sessions = append(sessions, videosdktest.Session{ID: fmt.Sprint("s", i), Participants: people("p", 120)})
		}
		const limit = 120.0
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, RateLimit: limit, RateBurst: 12})
		c := newClient(t, srv, extract.Options{Concurrency: 8, Rate: limit})
		start := time.Now()
		got := fetchAll(context.Background(), c, ids(sessions), 8)
		took := time.Since(start)
		assertAllExact(t, sessions, got)
		st := c.Stats()
		t.Logf("%d requests in %v, %d answered 429", st.Requests, took, st.RateLimited)
		if st.Requests < 90 {
			t.Fatalf("only %d requests", st.Requests)
		}
		if float64(st.RateLimited) > 0.02*float64(st.Requests) {
			t.Errorf("%d of %d requests got a 429 at a rate equal to the server's limit", st.RateLimited, st.Requests)
		}
		ideal := time.Duration(float64(st.Requests-1) / limit * float64(time.Second))
		if took < ideal*9/10 {
			t.Errorf("%d requests took %v, faster than %v/s allows", st.Requests, took, limit)
		}
	})
}

// TestRateOneTokenPerRequest catches a client that spends more than one
// token of its rate per request, which would halve the rate it keeps.
func TestRateOneTokenPerRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the pace on a fake clock: durations are exact
		sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 120)}} // 3 pages
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions})
		c := newClient(t, srv, extract.Options{Rate: 4})
		start := time.Now()
		if _, err := c.FetchSession(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
		// Tokens at 0, 250ms and 500ms; two per request would take a second.
		if took := time.Since(start); took != 500*time.Millisecond {
			t.Errorf("3 requests at 4/s took %v, want 500ms", took)
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		fault    videosdktest.Fault
		after    time.Duration
		minWait  time.Duration
		wantCaus string
	}{
		{videosdktest.Fault429Seconds, time.Second, 950 * time.Millisecond, extract.CauseHTTP429},
		{videosdktest.Fault429Date, 2 * time.Second, 950 * time.Millisecond, extract.CauseHTTP429},
		{videosdktest.Fault503RetryAfter, time.Second, 950 * time.Millisecond, extract.CauseHTTP5xx},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { // the wait on a fake clock
				sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 3)}}
				srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{
					Fraction: 1, Kinds: []videosdktest.Fault{tt.fault}, MaxConsecutive: 1, RetryAfter: tt.after}})
				c := newClient(t, srv, extract.Options{})
				start := time.Now()
				s, err := c.FetchSession(context.Background(), "s")
				if err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); took < tt.minWait {
					t.Errorf("retried after %v, Retry-After asked for %v", took, tt.after)
				}
				assertExact(t, sessions[0], s)
				if st := c.Stats(); st.RetriesByCause[tt.wantCaus] != 1 || st.Requests != 2 {
					t.Errorf("stats %+v, want one %s retry in 2 requests", st, tt.wantCaus)
				}
			})
		})
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 3)}}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, Faults: videosdktest.Faults{
		Fraction: 1, Kinds: []videosdktest.Fault{videosdktest.Fault502HTML}, MaxConsecutive: 100}})
	c := newClient(t, srv, extract.Options{MaxAttempts: 3})
	_, err := c.FetchSession(context.Background(), "s")
	var se *extract.SessionError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "page 1: gave up after 3 attempts") || !strings.Contains(se.Reason, "HTTP 502") {
		t.Fatalf("err = %v, want a SessionError giving up on page 1 after 3 attempts at HTTP 502", err)
	}
	if n := srv.Requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestCancelledContext(t *testing.T) {
	sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 300)}}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, Latency: time.Second})
	c := newClient(t, srv, extract.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.FetchSession(ctx, "s")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	var se *extract.SessionError
	if errors.As(err, &se) {
		t.Errorf("a cancelled run is not a session failure: %v", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("took %v to notice the cancellation", took)
	}
}

// TestChaos rides out a fifth of requests faulting in every way, a server
// rate limit and live sessions, and still returns exactly the simulator's
// data.
func TestChaos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // stalls, timeouts, backoff and the rate on a fake clock
		sessions := videosdktest.Generate(7, 60)
		srv := newServer(t, videosdktest.Options{
			InMemory:  true,
			Sessions:  sessions,
			RateLimit: 600,
			RateBurst: 60,
			Faults: videosdktest.Faults{
				Fraction: 0.2, Seed: 3, Latency: 20 * time.Millisecond, Stall: 2 * time.Second,
			},
		})
		var logs bytes.Buffer
		c := newClient(t, srv, extract.Options{
			Concurrency:    8,
			Rate:           600,
			RequestTimeout: 250 * time.Millisecond,
			MaxAttempts:    8,
			Logger:         slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		got := fetchAll(context.Background(), c, ids(sessions), 8)
		assertAllExact(t, srv.Snapshot(), got)
		st := c.Stats()
		served := srv.FaultsServed()
		t.Logf("requests %d, pages %d, rereads %d, retries %v, faults served %v", st.Requests, st.Pages, st.Rereads, st.RetriesByCause, served)
		for _, f := range videosdktest.AllFaults {
			if served[f] == 0 {
				t.Errorf("the simulator never served fault %s", f)
			}
		}
		for _, cause := range []string{extract.CauseNetwork, extract.CauseTimeout, extract.CauseInvalidJSON,
			extract.CauseHTTP408, extract.CauseHTTP429, extract.CauseHTTP5xx} {
			if st.RetriesByCause[cause] == 0 {
				t.Errorf("no retries counted for cause %s", cause)
			}
		}
		// One log line per retry, with the stable keys.
		var retryLines int
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"retrying page"`) {
				retryLines++
				for _, key := range []string{`"level":"WARN"`, `"session_id"`, `"page"`, `"attempt"`, `"status"`, `"cause"`, `"delay_seconds"`} {
					if !strings.Contains(line, key) {
						t.Fatalf("retry log line without %s: %s", key, line)
					}
				}
			}
		}
		var retries int64
		for _, n := range st.RetriesByCause {
			retries += n
		}
		if int64(retryLines) != retries {
			t.Errorf("%d retry log lines for %d retries", retryLines, retries)
		}
	})
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// fetchFrom fetches session "s" from a server that answers with h, by a
// client made from opts (a static token and a silent logger unless set). It
// returns the client, for its stats, and the fetch's error.
func fetchFrom(t *testing.T, h http.HandlerFunc, opts extract.Options) (*extract.Client, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL
	if opts.Tokens == nil {
		opts.Tokens = extract.StaticToken("t")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c, err := extract.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchSession(context.Background(), "s")
	return c, err
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	_, err := fetchFrom(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/rooms/") {
			elsewhere.Add(1)
			fmt.Fprint(w, `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":1,"total":0},"data":{"participants":[]}}`)
			return
		}
		http.Redirect(w, r, "/v2/rooms/x", http.StatusFound)
	}, extract.Options{})
	var se *extract.SessionError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "HTTP 302") {
		t.Errorf("err = %v, want a SessionError for HTTP 302", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

// TestSecretsNeverLeak drives the client down its failure paths, against
// the simulator and against a proxy that echoes the Authorization header
// back, and checks that neither the secret nor a token appears in any error
// or log line.
func TestSecretsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}

	const static = "static-token-do-not-leak"
	wrongSecret := []byte("wrong-secret-do-not-leak")
	var minted, wrongMinted string
	// Against the simulator, on a fake clock: its 429s slow the pace right
	// down, and stalls wait out timeouts. Tokens are minted in the bubble,
	// on its clock, as the server reads them.
	synctest.Test(t, func(t *testing.T) {
		minter := extract.NewMinter("test-key", secret, time.Minute)
		var err error
		if minted, err = minter.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		wrongMinter := extract.NewMinter("test-key", wrongSecret, time.Minute)
		wrongMinted, _ = wrongMinter.Token(context.Background())

		sessions := append(videosdktest.Generate(5, 12),
			videosdktest.Session{ID: "schema", Participants: people("s", 3), Override: map[int]string{1: `{"pageInfo":{}}`}},
			videosdktest.Session{ID: "big", Participants: people("b", 300)},
		)
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{
			Fraction: 0.5, Seed: 1, MaxConsecutive: 4, Stall: time.Second}})
		// Faults, 404s, schema errors and giving up, with good credentials.
		c := newClient(t, srv, extract.Options{Tokens: minter, Logger: logger, MaxAttempts: 2,
			RequestTimeout: 200 * time.Millisecond})
		for _, r := range fetchAll(context.Background(), c, append(ids(sessions), "missing", "../x"), 4) {
			record(r.err)
		}
		c = newClient(t, srv, extract.Options{Tokens: minter, Logger: logger, MaxBodyBytes: 2000})
		_, err = c.FetchSession(context.Background(), "big")
		record(err)
		// Wrong credentials, minted and static.
		for _, tokens := range []extract.TokenSource{wrongMinter, extract.StaticToken(static)} {
			c := newClient(t, srv, extract.Options{Tokens: tokens, Logger: logger})
			_, err := c.FetchSession(context.Background(), sessions[0].ID)
			record(err)
		}
	})
	// A proxy that puts the request's Authorization header into its answers.
	var n atomic.Int64
	echo := func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch n.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"statusCode":400,"error":"Bad Request","message":"bad token %s"}`, auth)
		case 1:
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `<html>upstream refused %s</html>`, auth)
		case 2:
			fmt.Fprintf(w, `<html>login: %s</html>`, auth)
		case 3:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":"token %s is not allowed"}`, auth)
		}
	}
	for range 3 {
		_, err := fetchFrom(t, echo, extract.Options{Tokens: extract.StaticToken(static), Logger: logger,
			BackoffBase: time.Millisecond, MaxAttempts: 3})
		record(err)
	}
	// Bad options.
	_, err := extract.NewClient(extract.Options{BaseURL: "https://user:" + static + "@api.example",
		Tokens: extract.NewMinter("test-key", secret, time.Minute)})
	record(err)

	if len(errs) < 20 || logs.Len() == 0 {
		t.Fatalf("only %d errors and %d bytes of logs: the failure paths were not exercised", len(errs), logs.Len())
	}
	secrets := map[string]string{
		"secret": string(secret), "wrong secret": string(wrongSecret),
		"minted token": minted, "wrong minted token": wrongMinted, "static token": static,
	}
	for what, s := range secrets {
		for _, e := range errs {
			if strings.Contains(e, s) {
				t.Errorf("the %s appears in error %q", what, e)
			}
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the %s appears in the logs", what)
		}
	}
}

// TestRateCutOn429 sets the client's rate at 2.5 times the server's limit:
// the 429s must slow the whole client down, and every session still arrive.
func TestRateCutOn429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the pace and the server's rate on a fake clock
		var sessions []videosdktest.Session
		for i := range 14 {
			sessions = append(sessions, videosdktest.Session{ID: fmt.Sprint("s", i), Participants: people("p", 120)})
		}
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, RateLimit: 40, RateBurst: 4})
		c := newClient(t, srv, extract.Options{Concurrency: 8, Rate: 100})
		got := fetchAll(context.Background(), c, ids(sessions), 8)
		assertAllExact(t, sessions, got)
		st := c.Stats()
		t.Logf("%d requests, %d answered 429", st.Requests, st.RateLimited)
		if st.RateLimited == 0 {
			t.Fatal("no 429 above the server's limit: the test proves nothing")
		}
		// Without the shared gate and the cut, the workers keep sending at
		// 100/s and some 60% of the requests are refused.
		if st.RateLimited*3 > st.Requests {
			t.Errorf("%d of %d requests answered 429: the client did not slow down", st.RateLimited, st.Requests)
		}
	})
}

// BenchmarkFetchSession reads a 5000-participant session (100 pages)
// through the simulator.
func BenchmarkFetchSession(b *testing.B) {
	sessions := []videosdktest.Session{{ID: "big", Participants: people("p", 5000)}}
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, Secret: secret})
	defer srv.Close()
	c, err := extract.NewClient(extract.Options{BaseURL: srv.URL(), Tokens: extract.NewMinter("k", secret, 0),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := c.FetchSession(context.Background(), "big")
		if err != nil || len(s.Participants) != 5000 {
			b.Fatalf("%d participants, %v", len(s.Participants), err)
		}
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "participants/s")
}

// TestBodyLimitWithoutContentLength streams an endless chunked body: the
// client stops reading at the limit instead of running out of memory.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	var sent atomic.Int64
	c, err := fetchFrom(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"pageInfo":{"currentPage":1},"data":{"participants":[`))
		chunk := []byte(strings.Repeat(`{"participantId":"x"},`, 100))
		for r.Context().Err() == nil && sent.Load() < 64<<20 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
			http.NewResponseController(w).Flush()
		}
	}, extract.Options{MaxBodyBytes: 1 << 20})
	var se *extract.SessionError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "page 1: response body over the limit of 1048576 bytes") {
		t.Fatalf("err = %v, want a SessionError for the body limit", err)
	}
	if st := c.Stats(); st.Requests != 1 {
		t.Errorf("%d requests; an oversized body is not retried", st.Requests)
	}
}
