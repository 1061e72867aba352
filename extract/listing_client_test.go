package extract_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestClientListSessionsThroughFaults: the client's list pages go through
// the same retries as participants pages (every fault the API can serve,
// 429s included), count as list pages, and the listing is exact.
func TestClientListSessionsThroughFaults(t *testing.T) {
	srv := newServer(t, videosdktest.Options{
		Sessions: spaced(200, time.Minute),
		Faults:   videosdktest.Faults{Fraction: 0.4, Seed: 5, Stall: 300 * time.Millisecond},
		List:     videosdktest.ListOptions{MaxPerPage: 15},
	})
	c := newClient(t, srv, extract.Options{RequestTimeout: 200 * time.Millisecond, FirstByteTimeout: 200 * time.Millisecond})
	from, to := t0.Add(30*time.Minute), t0.Add(170*time.Minute)
	l, err := c.ListSessions(t.Context(), extract.ListQuery{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	checkListing(t, l, wantListed(srv, from, to, nil))
	st := c.Stats()
	var retries int64
	for _, n := range st.RetriesByCause {
		retries += n
	}
	if st.ListPages != int64(l.Pages) || st.Pages != 0 || retries == 0 || st.Requests != st.ListPages+retries {
		t.Errorf("stats %+v after a listing of %d pages", st, l.Pages)
	}
}

// TestClientListSessionsFailures: a refused token stops the client
// (ErrUnauthorized); a page that stays broken fails the listing, naming the
// page, and is never a *SessionError (which a run would tolerate).
func TestClientListSessionsFailures(t *testing.T) {
	window := extract.ListQuery{From: t0, To: t0.Add(time.Hour)}
	t.Run("401", func(t *testing.T) {
		srv := newServer(t, videosdktest.Options{Sessions: spaced(10, time.Minute), StaticToken: "right"})
		c := newClient(t, srv, extract.Options{Tokens: extract.StaticToken("wrong")})
		_, err := c.ListSessions(t.Context(), window)
		if !errors.Is(err, extract.ErrUnauthorized) {
			t.Fatalf("err %v, want ErrUnauthorized", err)
		}
		if _, err := c.FetchSession(t.Context(), "s000001"); !errors.Is(err, extract.ErrUnauthorized) {
			t.Errorf("after a refused listing, FetchSession: %v, want ErrUnauthorized without a request", err)
		}
		if n := srv.Requests(); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	for _, tc := range []struct {
		name, body, reason string
		faults             videosdktest.Faults
	}{
		{name: "not JSON", body: "<html>", reason: "not JSON"},
		{name: "off the schema", body: `{"pageInfo":{"currentPage":2,"perPage":3,"lastPage":4,"total":10},"data":[{"id":"x"}]}`, reason: "start missing"},
		{name: "5xx", faults: videosdktest.Faults{Fraction: 1, Kinds: []videosdktest.Fault{videosdktest.Fault500JSON}, MaxConsecutive: 100},
			reason: "gave up after 3 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo := videosdktest.ListOptions{MaxPerPage: 3}
			if tc.body != "" {
				lo.Override = map[int]string{2: tc.body}
			}
			srv := newServer(t, videosdktest.Options{Sessions: spaced(10, time.Minute), List: lo, Faults: tc.faults})
			c := newClient(t, srv, extract.Options{MaxAttempts: 3})
			_, err := c.ListSessions(t.Context(), window)
			var se *extract.SessionError
			if err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "list sessions (all rooms): page") || errors.As(err, &se) {
				t.Fatalf("err %v, want a listing error with %q", err, tc.reason)
			}
		})
	}
}
