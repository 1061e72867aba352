package videosdktest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

type listResponse struct {
	PageInfo struct{ CurrentPage, PerPage, LastPage, Total int }
	Data     []struct {
		ID           string
		RoomID       *string
		CustomRoomID *string
		Start        string
		End          *string
		Status       string
		Participants []json.RawMessage
	}
}

func listSessions(t *testing.T, srv *videosdktest.Server, query string) (int, listResponse, string) {
	t.Helper()
	status, _, body := get(t, srv.URL()+"/v2/sessions/?"+query, "ready")
	var r listResponse
	if status == 200 {
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("list body is not JSON: %v: %s", err, body)
		}
	}
	return status, r, body
}

func ids(r listResponse) []string {
	var out []string
	for _, d := range r.Data {
		out = append(out, d.ID)
	}
	return out
}

func TestListEndpoint(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	many := make([]videosdktest.Participant, 5)
	for i := range many {
		many[i] = videosdktest.Participant{ID: fmt.Sprint("p", i), NameIs: videosdktest.Absent}
	}
	sessions := []videosdktest.Session{
		{ID: "s1", RoomID: "a", Start: t0.Add(1 * time.Hour), End: t0.Add(2 * time.Hour), Participants: many},
		{ID: "s3", RoomID: "b", CustomRoomID: "c", Start: t0.Add(3 * time.Hour)},
		{ID: "s2", RoomID: "a", Start: t0.Add(2 * time.Hour), Status: "completed", End: t0.Add(4 * time.Hour)},
		{ID: "s4", RoomIDIs: videosdktest.Absent, CustomRoomIDIs: videosdktest.Null, Start: t0.Add(4 * time.Hour)},
	}
	ms := func(d time.Duration) string { return fmt.Sprint(t0.Add(d).UnixMilli()) }
	srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions,
		List: videosdktest.ListOptions{MaxPerPage: 3}})
	defer srv.Close()

	tests := []struct {
		query    string
		status   int
		pageInfo [4]int
		ids      []string
	}{
		{"", 200, [4]int{1, 3, 2, 4}, []string{"s4", "s3", "s2"}},
		{"page=2&perPage=100", 200, [4]int{2, 3, 2, 4}, []string{"s1"}},
		{"perPage=2&page=2", 200, [4]int{2, 2, 2, 4}, []string{"s2", "s1"}},
		{"page=3", 200, [4]int{3, 3, 2, 4}, nil},
		{"roomId=a", 200, [4]int{1, 3, 1, 2}, []string{"s2", "s1"}},
		{"customRoomId=c", 200, [4]int{1, 3, 1, 1}, []string{"s3"}},
		{"roomId=zzz", 200, [4]int{1, 3, 0, 0}, nil},
		{"startDate=" + ms(2*time.Hour) + "&endDate=" + ms(3*time.Hour), 200, [4]int{1, 3, 1, 2}, []string{"s3", "s2"}},
		{"startDate=" + ms(2*time.Hour+time.Millisecond), 200, [4]int{1, 3, 1, 2}, []string{"s4", "s3"}},
		{"roomId=a&roomId=b", 400, [4]int{}, nil},
		{"startDate=yesterday", 400, [4]int{}, nil},
		{"endDate=-1", 400, [4]int{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, r, body := listSessions(t, srv, tt.query)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status != 200 {
				return
			}
			pi := r.PageInfo
			if got := [4]int{pi.CurrentPage, pi.PerPage, pi.LastPage, pi.Total}; got != tt.pageInfo {
				t.Errorf("pageInfo %v, want %v", got, tt.pageInfo)
			}
			if got := ids(r); !slices.Equal(got, tt.ids) {
				t.Errorf("ids %v, want %v", got, tt.ids)
			}
		})
	}

	_, r, body := listSessions(t, srv, "roomId=a")
	s2, s1 := r.Data[0], r.Data[1]
	if s1.End == nil || *s1.End != "2026-11-26T02:00:00.000Z" || s1.Status != "ended" || s1.Start != "2026-11-26T01:00:00.000Z" {
		t.Errorf("s1 listed as %+v", s1)
	}
	if len(s1.Participants) != 2 {
		t.Errorf("s1 previews %d participants, want 2 of 5", len(s1.Participants))
	}
	if s2.Status != "completed" {
		t.Errorf("s2 status %q, want completed", s2.Status)
	}
	for _, want := range []string{`"links"`, `"activeDuration"`} {
		if !strings.Contains(body, want) {
			t.Errorf("list body lacks %s", want)
		}
	}
	_, r, body = listSessions(t, srv, "customRoomId=c")
	if r.Data[0].End != nil || r.Data[0].Status != "ongoing" || !strings.Contains(body, `"end":null`) {
		t.Errorf("an ongoing session is listed as %s", body)
	}
	_, r, body = listSessions(t, srv, "startDate="+ms(4*time.Hour))
	if !strings.Contains(body, `"customRoomId":null`) || strings.Contains(body, `"roomId"`) {
		t.Errorf("absent roomId and null customRoomId listed as %s", body)
	}

	if status, _, _ := get(t, srv.URL()+"/v2/sessions", ""); status != 401 {
		t.Errorf("list without a token: status %d, want 401", status)
	}
	if got, want := srv.ListRequests(), int64(len(tests)+4); got != want {
		t.Errorf("ListRequests %d, want %d", got, want)
	}
}

func TestListKnobs(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var sessions []videosdktest.Session
	for i := range 10 {
		sessions = append(sessions, videosdktest.Session{ID: fmt.Sprintf("s%02d", i), Start: t0.Add(time.Duration(i) * time.Minute)})
	}
	window := url.Values{"startDate": {fmt.Sprint(t0.UnixMilli())}, "endDate": {fmt.Sprint(t0.Add(4 * time.Minute).UnixMilli())}}.Encode()

	t.Run("IgnoreDateBounds", func(t *testing.T) {
		srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions,
			List: videosdktest.ListOptions{IgnoreDateBounds: true}})
		defer srv.Close()
		if _, r, _ := listSessions(t, srv, window); r.PageInfo.Total != 10 {
			t.Errorf("total %d, want all 10", r.PageInfo.Total)
		}
	})
	t.Run("OldestFirst", func(t *testing.T) {
		srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions,
			List: videosdktest.ListOptions{Order: videosdktest.OldestFirst}})
		defer srv.Close()
		if _, r, _ := listSessions(t, srv, "perPage=2"); !slices.Equal(ids(r), []string{"s00", "s01"}) {
			t.Errorf("ids %v", ids(r))
		}
	})
	t.Run("Arrivals shift the list", func(t *testing.T) {
		srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions,
			List: videosdktest.ListOptions{Arrivals: func(n int) []videosdktest.Session {
				return []videosdktest.Session{{ID: fmt.Sprint("new", n), Start: t0.Add(time.Hour + time.Duration(n)*time.Second)}}
			}}})
		defer srv.Close()
		_, p1, _ := listSessions(t, srv, "perPage=3")
		_, p2, _ := listSessions(t, srv, "perPage=3&page=2")
		if !slices.Equal(ids(p1), []string{"new1", "s09", "s08"}) || !slices.Equal(ids(p2), []string{"s08", "s07", "s06"}) {
			t.Errorf("pages %v then %v: want the second shifted by one", ids(p1), ids(p2))
		}
		if p1.PageInfo.Total != 11 || p2.PageInfo.Total != 12 {
			t.Errorf("totals %d, %d; want 11, 12", p1.PageInfo.Total, p2.PageInfo.Total)
		}
		// A session that arrived is served by the participants endpoint too.
		if status, _, body := get(t, srv.URL()+"/v2/sessions/new1/participants", "ready"); status != 200 {
			t.Errorf("participants of an arrival: %d %s", status, body)
		}
	})
	t.Run("HideOneFor", func(t *testing.T) {
		srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions,
			List: videosdktest.ListOptions{HideOneFor: 1}})
		defer srv.Close()
		_, r, _ := listSessions(t, srv, "perPage=50")
		if r.PageInfo.Total != 10 || len(r.Data) != 9 {
			t.Errorf("first answer: total %d with %d sessions, want 10 with 9", r.PageInfo.Total, len(r.Data))
		}
		if _, r, _ = listSessions(t, srv, "perPage=50"); len(r.Data) != 10 {
			t.Errorf("second answer: %d sessions, want 10", len(r.Data))
		}
	})
	t.Run("Override", func(t *testing.T) {
		srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: sessions,
			List: videosdktest.ListOptions{Override: map[int]string{2: "<html>"}}})
		defer srv.Close()
		if status, _, body := get(t, srv.URL()+"/v2/sessions/?page=2", "ready"); status != 200 || body != "<html>" {
			t.Errorf("page 2: %d %q", status, body)
		}
	})
}

// The list goes through the same rate limit and faults as participants.
func TestListFaultsAndLimits(t *testing.T) {
	srv := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: []videosdktest.Session{{ID: "s"}},
		Faults: videosdktest.Faults{Fraction: 1, Kinds: []videosdktest.Fault{videosdktest.Fault502HTML}}})
	defer srv.Close()
	if status, _, body := get(t, srv.URL()+"/v2/sessions/", "ready"); status != 502 || !strings.Contains(body, "<html>") {
		t.Errorf("faulted list: %d %s", status, body)
	}

	limited := videosdktest.NewServer(videosdktest.Options{StaticToken: "ready", Sessions: []videosdktest.Session{{ID: "s"}},
		RateLimit: 0.001, RateBurst: 1})
	defer limited.Close()
	get(t, limited.URL()+"/v2/sessions/", "ready")
	if status, h, _ := get(t, limited.URL()+"/v2/sessions/", "ready"); status != 429 || h.Get("Retry-After") == "" {
		t.Errorf("list past the rate limit: %d, Retry-After %q", status, h.Get("Retry-After"))
	}
	if limited.ListRequests() != 2 || limited.RateLimited() != 1 {
		t.Errorf("ListRequests %d, RateLimited %d; want 2, 1", limited.ListRequests(), limited.RateLimited())
	}
}
