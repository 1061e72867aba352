package extract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestBackPressureIsNotAFault: a page answered 429 more times than
// MaxAttempts still arrives; a 5xx as often fails it.
func TestBackPressureIsNotAFault(t *testing.T) {
	sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 3)}}
	for _, tc := range []struct {
		fault videosdktest.Fault
		ok    bool
	}{
		{videosdktest.Fault429Seconds, true},
		{videosdktest.Fault503RetryAfter, true},
		{videosdktest.Fault500JSON, false},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { // the pace's waits on a fake clock
				srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{
					Fraction: 1, Kinds: []videosdktest.Fault{tc.fault}, MaxConsecutive: 5}})
				c := newClient(t, srv, extract.Options{MaxAttempts: 3})
				s, err := c.FetchSession(context.Background(), "s")
				if tc.ok {
					if err != nil {
						t.Fatalf("five answers of back-pressure with --max-attempts 3: %v", err)
					}
					assertExact(t, sessions[0], s)
					return
				}
				if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
					t.Fatalf("err = %v, want giving up after 3 attempts", err)
				}
			})
		})
	}
}

// TestRetryDeadlineBoundsBackPressure: a server that pushes back for ever
// fails the session once the retry deadline has passed.
func TestRetryDeadlineBoundsBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the pace's waits on a fake clock
		sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 3)}}
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{
			Fraction: 1, Kinds: []videosdktest.Fault{videosdktest.Fault429Seconds}, MaxConsecutive: 1 << 30}})
		c := newClient(t, srv, extract.Options{RetryDeadline: 50 * time.Millisecond})
		_, err := c.FetchSession(context.Background(), "s")
		var se *extract.SessionError
		if !errors.As(err, &se) || !strings.Contains(se.Reason, "pushed back") || !strings.Contains(se.Reason, "retry deadline of 50ms") {
			t.Fatalf("err = %v, want a SessionError naming the retry deadline", err)
		}
	})
}

// TestRetryDeadlineIsKeptWhileQueued: the retries of back-pressure end
// by the retry deadline, counted from the request's first 429, even while
// the retry waits for its turn. Here every answer is a 429 with a
// Retry-After of 2 s, so other sessions' 429s keep pausing every worker:
// each session must give up by its deadline, not after the pause it was
// queued behind. The retry log says when each session was first pushed
// back (log times are the bubble's clock).
func TestRetryDeadlineIsKeptWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sessions := videosdktest.Generate(3, 24)
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{
			Fraction: 1, Kinds: []videosdktest.Fault{videosdktest.Fault429Seconds}, MaxConsecutive: 1 << 30,
			RetryAfter: 2 * time.Second}})
		const deadline = 5 * time.Second
		var logs bytes.Buffer
		c := newClient(t, srv, extract.Options{RetryDeadline: deadline, Concurrency: 8,
			Logger: slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))})
		got := fetchAll(context.Background(), c, ids(sessions), len(sessions))
		for id, r := range got {
			var se *extract.SessionError
			if !errors.As(r.err, &se) || !strings.Contains(se.Reason, "retry deadline of 5s") {
				t.Errorf("session %s: %v; want a SessionError naming the retry deadline", id, r.err)
			}
		}
		pushed := map[string]time.Time{}
		for line := range strings.Lines(logs.String()) {
			var rec struct {
				Time      time.Time
				Msg       string
				SessionID string `json:"session_id"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			if _, ok := pushed[rec.SessionID]; rec.Msg == "retrying page" && !ok {
				pushed[rec.SessionID] = rec.Time
			}
		}
		for _, s := range sessions {
			first, ok := pushed[s.ID]
			if !ok {
				t.Errorf("session %s was never retried, though 2 s of Retry-After fit in its deadline", s.ID)
				continue
			}
			if over := got[s.ID].at.Sub(first.Add(deadline)); over > 0 {
				t.Errorf("session %s gave up %v after its retry deadline", s.ID, over)
			}
		}
	})
}

// TestUnknownLimitExtract is the pace at the package level: a 60/s limit
// the client is not told, concurrency 32, every row exact, and the numbers
// logged. It runs on a fake clock (a synctest bubble, the server in
// memory): the rate used is measured exactly, whatever the machine's load.
func TestUnknownLimitExtract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sessions []videosdktest.Session
		for i := range 40 {
			sessions = append(sessions, videosdktest.Session{ID: "s" + string(rune('A'+i)), Participants: people("p", 300)})
		}
		const limit = 60
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, RateLimit: limit, RateLimitRetryAfter: videosdktest.RetryAfterNone})
		c := newClient(t, srv, extract.Options{Concurrency: 32, BackoffBase: 200 * time.Millisecond})
		start := time.Now()
		got := fetchAll(context.Background(), c, ids(sessions), 32)
		took := time.Since(start)
		assertAllExact(t, sessions, got)
		limited := srv.RateLimited()
		accepted := srv.Requests() - limited
		used := float64(accepted) / took.Seconds() / limit
		t.Logf("%d accepted, %d answered 429 in %v: %.0f%% of %d/s used, 429s %.1f%% of successes",
			accepted, limited, took.Round(time.Millisecond), 100*used, limit, 100*float64(limited)/float64(accepted))
		if float64(limited) > 0.10*float64(accepted) {
			t.Errorf("%d 429s for %d successes, want at most 10%%", limited, accepted)
		}
		if used < 0.80 {
			t.Errorf("used %.0f%% of the server's rate, want at least 80%%", 100*used)
		}
	})
}

// TestRefusedTokenIsRenewed: a server that refuses a token 300ms after it
// first accepted it; the client mints fresh ones, once per refusal for all
// workers, and every session arrives.
func TestRefusedTokenIsRenewed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the tokens age on a fake clock
		var sessions []videosdktest.Session
		for i := range 12 {
			sessions = append(sessions, videosdktest.Session{ID: "s" + string(rune('A'+i)), Participants: people("p", 200)})
		}
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, TokenMaxAge: 300 * time.Millisecond, RateLimit: 60, RateBurst: 1})
		c := newClient(t, srv, extract.Options{Concurrency: 8, Rate: 60})
		got := fetchAll(context.Background(), c, ids(sessions), 8)
		assertAllExact(t, sessions, got)
		renewed := c.Stats().RetriesByCause[extract.CauseTokenRefused]
		t.Logf("%d refusals of aged tokens, %d requests retried with a fresh one", srv.TokensAged(), renewed)
		if srv.TokensAged() == 0 || renewed == 0 {
			t.Fatal("no token was refused: the test proves nothing")
		}
	})
}

// TestFreshTokenRefusedIsFatal: a server that refuses every token the first
// time it sees it never accepted the one minted: stop, ErrUnauthorized.
func TestFreshTokenRefusedIsFatal(t *testing.T) {
	sessions := []videosdktest.Session{{ID: "s", Participants: people("p", 3)}}
	srv := newServer(t, videosdktest.Options{Sessions: sessions, Secret: []byte("another secret")})
	c := newClient(t, srv, extract.Options{})
	_, err := c.FetchSession(context.Background(), "s")
	if !errors.Is(err, extract.ErrUnauthorized) || !strings.Contains(err.Error(), "freshly minted") {
		t.Fatalf("err = %v, want ErrUnauthorized about a freshly minted token", err)
	}
	if n := srv.Requests(); n != 1 {
		t.Errorf("%d requests, want 1: a fresh token that is refused is not renewed", n)
	}
}

// TestUnusableAPIStopsEarly: connection refused, a server that never
// answers, and a 404 to every request each stop the client with
// ErrAPIUnreachable after its first few requests, the cause named.
func TestUnusableAPIStopsEarly(t *testing.T) {
	var sessions []videosdktest.Session
	for i := range 40 {
		sessions = append(sessions, videosdktest.Session{ID: "s" + string(rune('A'+i)), Participants: people("p", 3)})
	}
	silent := newServer(t, videosdktest.Options{Sessions: sessions, NeverAnswer: true})
	fine := newServer(t, videosdktest.Options{Sessions: sessions})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name, url, want string
		maxRequests     int64
		retried         bool
	}{
		{"never answers", silent.URL(), "the API does not answer", 8, true},
		{"connection refused", closed, "connection refused", 0, true},
		{"no such route", fine.URL() + "/v2", "HTTP 404: no such route", 32, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			c, err := extract.NewClient(extract.Options{BaseURL: tc.url, Tokens: extract.NewMinter("test-key", secret, time.Minute),
				FirstByteTimeout: 200 * time.Millisecond, BackoffBase: time.Millisecond, Concurrency: 4,
				Logger: slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))})
			if err != nil {
				t.Fatal(err)
			}
			before := silent.Requests() + fine.Requests()
			got := fetchAll(context.Background(), c, ids(sessions), 4)
			// Sessions that failed before the client stopped failed alone,
			// for the same cause.
			stopped := 0
			for id, r := range got {
				if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
					t.Fatalf("session %s: err = %v, want one saying %q", id, r.err, tc.want)
				}
				if errors.Is(r.err, extract.ErrAPIUnreachable) {
					stopped++
				}
			}
			if stopped < len(sessions)/3 {
				t.Errorf("%d of %d sessions saw ErrAPIUnreachable: the client did not stop early", stopped, len(sessions))
			}
			if n := silent.Requests() + fine.Requests() - before; tc.maxRequests > 0 && n > tc.maxRequests {
				t.Errorf("%d requests before stopping, want at most %d", n, tc.maxRequests)
			}
			if tc.retried && !strings.Contains(logs.String(), `"level":"WARN","msg":"retrying page"`) {
				t.Errorf("no retry warning logged:\n%s", logs.String())
			}
		})
	}
}

// TestShortfallReasons: a page whose total is more than the pages list,
// and a participant listed twice on one page, are named as such.
func TestShortfallReasons(t *testing.T) {
	sessions := []videosdktest.Session{
		{ID: "short", Override: map[int]string{1: `{"pageInfo":{"currentPage":1,"perPage":50,"lastPage":1,"total":5},"data":{"participants":[{"participantId":"a"},{"participantId":"b"}]}}`}},
		{ID: "twice", Override: map[int]string{1: `{"pageInfo":{"currentPage":1,"perPage":50,"lastPage":1,"total":3},"data":{"participants":[{"participantId":"a"},{"participantId":"b"},{"participantId":"a"}]}}`}},
		{ID: "null", Override: map[int]string{1: `{"pageInfo":{"currentPage":1,"perPage":50,"lastPage":0,"total":0},"data":{"participants":null}}`}},
	}
	srv := newServer(t, videosdktest.Options{Sessions: sessions})
	c := newClient(t, srv, extract.Options{MaxRereads: 1})
	for id, want := range map[string]string{
		"short": "the pages list 2 participants but pageInfo.total says 5",
		"twice": `page 1 lists participant "a" twice`,
	} {
		_, err := c.FetchSession(context.Background(), id)
		var se *extract.SessionError
		if !errors.As(err, &se) || !strings.Contains(se.Reason, want) {
			t.Errorf("%s: err = %v, want a reason saying %q", id, err, want)
		}
	}
	if s, err := c.FetchSession(context.Background(), "null"); err != nil || len(s.Participants) != 0 {
		t.Errorf("participants null with total 0: %d participants, err %v; want an empty session", len(s.Participants), err)
	}
}
