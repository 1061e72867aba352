package videosdktest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

var secret = []byte("sim-secret")

func token(t *testing.T, claims jwt.MapClaims, method jwt.SigningMethod, key []byte) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func goodClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"apikey": "k", "permissions": []string{"allow_join"}, "version": 2,
		"roles": []string{"crawler"}, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
}

func get(t *testing.T, url, auth string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func TestAuth(t *testing.T) {
	srv := videosdktest.NewServer(videosdktest.Options{
		Sessions: []videosdktest.Session{{ID: "s"}}, Secret: secret, APIKey: "k", StaticToken: "ready"})
	defer srv.Close()
	with := func(change func(jwt.MapClaims)) string {
		c := goodClaims()
		change(c)
		return token(t, c, jwt.SigningMethodHS256, secret)
	}
	good := token(t, goodClaims(), jwt.SigningMethodHS256, secret)
	tests := []struct {
		name, auth string
		want       int
	}{
		{"minted", good, 200},
		{"static", "ready", 200},
		{"none", "", 401},
		{"bearer prefix", "Bearer " + good, 401},
		{"wrong secret", token(t, goodClaims(), jwt.SigningMethodHS256, []byte("other")), 401},
		{"HS512", token(t, goodClaims(), jwt.SigningMethodHS512, secret), 401},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), 401},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), 401},
		{"no crawler role", with(func(c jwt.MapClaims) { c["roles"] = []string{"rtc"} }), 401},
		{"other api key", with(func(c jwt.MapClaims) { c["apikey"] = "x" }), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := get(t, srv.URL()+"/v2/sessions/s/participants", tt.auth)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			if status == 401 && !strings.Contains(body, `"statusCode":401`) {
				t.Errorf("401 body is not the JSON error: %s", body)
			}
		})
	}
}

type response struct {
	PageInfo struct{ CurrentPage, PerPage, LastPage, Total int }
	Data     json.RawMessage
}

func TestPagingAndShapes(t *testing.T) {
	var parts []videosdktest.Participant
	for i := range 120 {
		parts = append(parts, videosdktest.Participant{ID: string(rune('a'+i%26)) + strings.Repeat("x", i/26), NameIs: videosdktest.Absent})
	}
	raw := []videosdktest.Participant{
		{ID: "p1", NameIs: videosdktest.Null, TimelogIs: videosdktest.Absent},
		{ID: "p2", Name: "", Timelog: []videosdktest.Entry{}},
		{ID: "p3", Name: "😀", TimelogIs: videosdktest.Null},
		{ID: "p4", NameIs: videosdktest.Absent, Timelog: []videosdktest.Entry{
			{Start: "2021-10-25T07:09:58+02:00", EndIs: videosdktest.Null},
			{StartIs: videosdktest.Absent, EndIs: videosdktest.Absent},
		}},
	}
	srv := videosdktest.NewServer(videosdktest.Options{Secret: secret, Sessions: []videosdktest.Session{
		{ID: "big", Participants: parts},
		{ID: "raw", Participants: raw, RoomIDIs: videosdktest.Absent, CustomRoomIDIs: videosdktest.Null},
		{ID: "arr", DataAsArray: true, Participants: raw[:1]},
		{ID: "empty"},
	}})
	defer srv.Close()
	auth := token(t, goodClaims(), jwt.SigningMethodHS256, secret)
	tests := []struct {
		path       string
		status     int
		pageInfo   [4]int // current, perPage, last, total
		n          int
		bodyHas    []string
		bodyHasNot []string
	}{
		{path: "/v2/sessions/big/participants", status: 200, pageInfo: [4]int{1, 20, 6, 120}, n: 20},
		{path: "/v2/sessions/big/participants?page=2&perPage=100", status: 200, pageInfo: [4]int{2, 50, 3, 120}, n: 50},
		{path: "/v2/sessions/big/participants?page=3&perPage=50", status: 200, pageInfo: [4]int{3, 50, 3, 120}, n: 20},
		{path: "/v2/sessions/big/participants?page=9&perPage=50", status: 200, pageInfo: [4]int{9, 50, 3, 120}, n: 0},
		{path: "/v2/sessions/empty/participants?page=1&perPage=50", status: 200, pageInfo: [4]int{1, 50, 0, 0}, n: 0},
		{path: "/v2/sessions/raw/participants", status: 200, pageInfo: [4]int{1, 20, 1, 4}, n: 4,
			bodyHas: []string{`"name":null`, `"name":""`, `"name":"😀"`, `"timelog":[]`, `"timelog":null`,
				`"start":"2021-10-25T07:09:58+02:00"`, `"end":null`, `"customRoomId":null`, `"region"`, `"links"`},
			bodyHasNot: []string{`"roomId"`}},
		{path: "/v2/sessions/arr/participants", status: 200, pageInfo: [4]int{1, 20, 1, 1}, n: 1, bodyHas: []string{`"data":[{`}},
		{path: "/v2/sessions/nope/participants", status: 404, bodyHas: []string{`"statusCode":404`}},
		{path: "/v2/sessions/big/participants?page=0", status: 400},
		{path: "/v2/sessions/big/participants?page=x", status: 400},
		{path: "/v2/sessions/big/participants?page=1&page=2", status: 400},
		{path: "/v2/sessions/a/b/participants", status: 404, bodyHas: []string{"no such route"}},
		{path: "/v2/sessions/../participants", status: 404, bodyHas: []string{"no such route"}},
		{path: "/v2/rooms/x", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, _, body := get(t, srv.URL()+tt.path, auth)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			for _, s := range tt.bodyHas {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %s: %s", s, body)
				}
			}
			for _, s := range tt.bodyHasNot {
				if strings.Contains(body, s) {
					t.Errorf("body has %s: %s", s, body)
				}
			}
			if status != 200 {
				return
			}
			var r response
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			pi := r.PageInfo
			if got := [4]int{pi.CurrentPage, pi.PerPage, pi.LastPage, pi.Total}; got != tt.pageInfo {
				t.Errorf("pageInfo %v, want %v", got, tt.pageInfo)
			}
			if n := strings.Count(body, `"participantId"`); n != tt.n {
				t.Errorf("%d participants, want %d", n, tt.n)
			}
		})
	}
}

func TestLiveGrowth(t *testing.T) {
	base := []videosdktest.Participant{{ID: "a"}, {ID: "b"}}
	srv := videosdktest.NewServer(videosdktest.Options{Secret: secret, Sessions: []videosdktest.Session{
		{ID: "end", Participants: base, Live: videosdktest.GrowEnd, LiveStep: 2, LiveCap: 5},
		{ID: "front", Participants: base, Live: videosdktest.GrowFront, LiveCap: 4},
	}})
	defer srv.Close()
	auth := token(t, goodClaims(), jwt.SigningMethodHS256, secret)
	for range 5 {
		get(t, srv.URL()+"/v2/sessions/end/participants", auth)
		get(t, srv.URL()+"/v2/sessions/front/participants", auth)
	}
	var got []string
	for _, s := range srv.Snapshot() {
		var ids []string
		for _, p := range s.Participants {
			ids = append(ids, p.ID)
		}
		got = append(got, s.ID+":"+strings.Join(ids, ","))
	}
	want := []string{"end:a,b,live-1,live-2,live-3", "front:live-2,live-1,a,b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after 5 requests each: %q, want %q", got, want)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	srv := videosdktest.NewServer(videosdktest.Options{Secret: secret, Sessions: []videosdktest.Session{
		{ID: "s", Participants: []videosdktest.Participant{{ID: "a", Timelog: []videosdktest.Entry{{Start: "x"}}}}}}})
	defer srv.Close()
	snap := srv.Snapshot()
	snap[0].Participants[0].ID = "changed"
	snap[0].Participants[0].Timelog[0].Start = "changed"
	again := srv.Snapshot()
	if again[0].Participants[0].ID != "a" || again[0].Participants[0].Timelog[0].Start != "x" {
		t.Errorf("changing a snapshot changed the server: %+v", again[0].Participants[0])
	}
}

func TestFaultsAreBounded(t *testing.T) {
	for _, f := range videosdktest.AllFaults {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			srv := videosdktest.NewServer(videosdktest.Options{Secret: secret,
				Sessions: []videosdktest.Session{{ID: "s", Participants: []videosdktest.Participant{{ID: "a"}}}},
				Faults: videosdktest.Faults{Fraction: 1, Kinds: []videosdktest.Fault{f}, MaxConsecutive: 2,
					Stall: 50 * time.Millisecond, Latency: 10 * time.Millisecond}})
			defer srv.Close()
			auth := token(t, goodClaims(), jwt.SigningMethodHS256, secret)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			var ok int
			for range 3 {
				req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/v2/sessions/s/participants", nil)
				req.Header.Set("Authorization", auth)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 && json.Valid(body) {
					ok++
				}
			}
			want := 1 // the third attempt at the page is served
			if f == videosdktest.FaultLatency {
				want = 3 // late, not failed
			}
			if ok != want {
				t.Errorf("%d of 3 requests succeeded, want %d", ok, want)
			}
			if n := srv.FaultsServed()[f]; n < 2 {
				t.Errorf("served %s %d times, want at least 2", f, n)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	a, b := videosdktest.Generate(42, 200), videosdktest.Generate(42, 200)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Generate is not deterministic for a seed")
	}
	if reflect.DeepEqual(a, videosdktest.Generate(43, 200)) {
		t.Fatal("Generate ignores its seed")
	}
	var large, empty, live, front, array, noTimelog, open, nullName, absentName, emptyName, offset bool
	ids := map[string]bool{}
	for _, s := range a {
		if ids[s.ID] {
			t.Fatalf("duplicate session ID %s", s.ID)
		}
		ids[s.ID] = true
		if _, err := s.Want(); err != nil {
			t.Fatalf("generated data does not parse: %v", err)
		}
		large = large || len(s.Participants) >= 2000
		empty = empty || len(s.Participants) == 0
		live = live || s.Live == videosdktest.GrowEnd
		front = front || s.Live == videosdktest.GrowFront
		array = array || s.DataAsArray
		pids := map[string]bool{}
		for _, p := range s.Participants {
			if pids[p.ID] {
				t.Fatalf("session %s: duplicate participant %s", s.ID, p.ID)
			}
			pids[p.ID] = true
			noTimelog = noTimelog || p.TimelogIs != videosdktest.Present || len(p.Timelog) == 0
			nullName = nullName || p.NameIs == videosdktest.Null
			absentName = absentName || p.NameIs == videosdktest.Absent
			emptyName = emptyName || (p.NameIs == videosdktest.Present && p.Name == "")
			for _, e := range p.Timelog {
				open = open || e.EndIs != videosdktest.Present
				offset = offset || strings.HasSuffix(e.Start, "+02:00")
			}
		}
	}
	for name, ok := range map[string]bool{"large": large, "empty": empty, "grow at end": live, "grow at front": front,
		"data as array": array, "no timelog": noTimelog, "open interval": open, "null name": nullName,
		"absent name": absentName, "empty name": emptyName, "offset timestamp": offset} {
		if !ok {
			t.Errorf("Generate(42, 200) has no %s session or participant", name)
		}
	}
}
