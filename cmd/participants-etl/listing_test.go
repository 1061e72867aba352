package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/pipeline"
	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/transform"
)

// The window of the listing tests: [listLogical − 24h, listLogical).
var listLogical = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

const listLogicalFlag = "2026-11-26T14:00:00Z"

// inWindow reports whether a session's start lies in the 24 h window
// before logical.
func inWindow(s videosdktest.Session, logical time.Time) bool {
	return !s.Start.Before(logical.Add(-24*time.Hour)) && s.Start.Before(logical)
}

// startAt places s at start; an ended session ended an hour later.
func startAt(s videosdktest.Session, start time.Time) videosdktest.Session {
	s.Start = start
	if s.Live == videosdktest.NotLive {
		s.End = start.Add(time.Hour)
	}
	return s
}

// small keeps the first few participants of s and stops it growing, so
// that many sessions stay cheap to export.
func small(s videosdktest.Session) videosdktest.Session {
	s.Live = videosdktest.NotLive
	s.Participants = s.Participants[:min(4, len(s.Participants))]
	return s
}

// sessionsOf is the set of session IDs rows hold.
func sessionsOf(rows []transform.Row) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		out[r.SessionID] = true
	}
	return out
}

// TestVideoSDKSourceExportsTheWindow: against a newest-first list with a
// perPage cap that shifts while paged, every session that started in the
// window is exported exactly and once, none outside it; a session that
// starts during the listing is left to the next tick, which exports it.
func TestVideoSDKSourceExportsTheWindow(t *testing.T) {
	gen := videosdktest.Generate(21, 80)
	var sessions []videosdktest.Session
	from := listLogical.Add(-24 * time.Hour)
	for i, s := range gen[:70] {
		// From 12 h before the window to 2 h after its end, with the edges.
		start := from.Add(-12*time.Hour + time.Duration(i)*38*time.Minute)
		switch i {
		case 0:
			start = from // in: the window's start is inclusive
		case 1:
			start = from.Add(-time.Millisecond)
		case 2:
			start = listLogical // out: the end is exclusive
		case 3:
			start = listLogical.Add(-time.Millisecond)
		}
		sessions = append(sessions, startAt(s, start))
	}
	// Sessions that start while the list is paged: after the logical time,
	// as sessions starting now do, and one that the API lists late although
	// it started in the window.
	late := startAt(gen[70], listLogical.Add(-time.Hour))
	arrivals := map[int][]videosdktest.Session{
		2: {startAt(gen[71], listLogical.Add(10*time.Minute)), startAt(gen[72], listLogical.Add(11*time.Minute))},
		3: {startAt(gen[73], listLogical.Add(12*time.Minute)), late},
		4: {startAt(gen[74], listLogical.Add(13*time.Minute))},
	}
	srv := newSim(t, videosdktest.Options{Sessions: sessions, List: videosdktest.ListOptions{
		Order:      videosdktest.NewestFirst,
		MaxPerPage: 7,
		Arrivals:   func(n int) []videosdktest.Session { return arrivals[n] },
	}})

	out := t.TempDir()
	start := time.Now()
	res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", "videosdk:", "--output", out,
		"--api-url", srv.URL(), "--logical-time", listLogicalFlag, "--lookback", "24h", "--concurrency", "3")
	end := time.Now()
	if res.code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, tail(res.stderr, 3000))
	}
	rep := onlyReport(t, out)
	var want []videosdktest.Session
	lateExported := false
	got := tabletest.ReadTable(t, out)
	exported := sessionsOf(got)
	for _, s := range srv.Snapshot() {
		if s.ID == late.ID {
			// Listed late: exported whole, or left to the next tick.
			lateExported = exported[s.ID]
			if lateExported {
				want = append(want, s)
			}
			continue
		}
		if inWindow(s, listLogical) {
			want = append(want, s)
		}
	}
	checkRows(t, got, wantRows(t, want), rep.RunID, start, end)
	wantIDs := map[string]bool{}
	for _, s := range want {
		wantIDs[s.ID] = true
	}
	l := rep.Listing
	if l == nil || l.From != "2026-11-25T14:00:00Z" || l.To != listLogicalFlag || l.SessionsInWindow != len(want) ||
		rep.Counts.SessionsExported != len(want) || l.Pages == 0 || rep.API.ListPages != l.Pages {
		t.Errorf("report: listing %+v, counts %+v, want %d sessions in window", l, rep.Counts, len(want))
	}
	for id := range srv.ParticipantsRequested(0) {
		if !wantIDs[id] {
			t.Errorf("participants of session %s, outside the window, were requested", id)
		}
	}
	if rep.Sessions != "videosdk:" {
		t.Errorf("report names the source %q", rep.Sessions)
	}

	// The next tick, an hour later: the sessions that started during the
	// first listing are in its window.
	out2 := t.TempDir()
	res = runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", "videosdk:", "--output", out2,
		"--api-url", srv.URL(), "--logical-time", listLogical.Add(time.Hour).Format(time.RFC3339))
	if res.code != exitOK {
		t.Fatalf("next tick: exit %d, want 0; stderr:\n%s", res.code, tail(res.stderr, 3000))
	}
	exported2 := sessionsOf(tabletest.ReadTable(t, out2))
	for _, batch := range arrivals {
		for _, s := range batch {
			if !lateExported || s.ID != late.ID {
				if s.ID == late.ID || s.Start.After(listLogical) {
					if !exported2[s.ID] && len(s.Participants) > 0 {
						t.Errorf("session %s (start %s) started during the first listing and the next tick did not export it", s.ID, s.Start)
					}
				}
			}
		}
	}
}

// TestVideoSDKSourceByRoom: ?roomId= exports that room's sessions only;
// the parameter may repeat.
func TestVideoSDKSourceByRoom(t *testing.T) {
	gen := videosdktest.Generate(22, 30)
	rooms := []string{"abc-xyzw-lmno", "def-xyzw-lmno"}
	var sessions []videosdktest.Session
	for i, s := range gen {
		s = startAt(small(s), listLogical.Add(-time.Duration(i+1)*time.Hour))
		if i%5 < 2 {
			s.RoomID, s.RoomIDIs = rooms[i%5], videosdktest.Present
		}
		sessions = append(sessions, s)
	}
	srv := newSim(t, videosdktest.Options{Sessions: sessions, List: videosdktest.ListOptions{MaxPerPage: 4}})
	for _, tc := range []struct {
		source string
		rooms  []string
	}{
		{"videosdk:?roomId=" + rooms[0], rooms[:1]},
		{"videosdk:?roomId=" + rooms[0] + "&roomId=" + rooms[1], rooms},
	} {
		t.Run(tc.source, func(t *testing.T) {
			out := t.TempDir()
			res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", tc.source, "--output", out,
				"--api-url", srv.URL(), "--logical-time", listLogicalFlag)
			if res.code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", res.code, tail(res.stderr, 3000))
			}
			var want []videosdktest.Session
			for _, s := range sessions {
				for _, room := range tc.rooms {
					if s.RoomIDIs == videosdktest.Present && s.RoomID == room && inWindow(s, listLogical) {
						want = append(want, s)
					}
				}
			}
			if len(want) == 0 {
				t.Fatal("no session of the rooms in the window: a vacuous test")
			}
			rep := onlyReport(t, out)
			checkRows(t, tabletest.ReadTable(t, out), wantRows(t, want), rep.RunID, time.Time{}, time.Now())
			if rep.Counts.SessionsExported != len(want) {
				t.Errorf("exported %d sessions, want %d", rep.Counts.SessionsExported, len(want))
			}
		})
	}
}

// TestVideoSDKSourceCostFollowsTheWindow: of 100,000 sessions a few
// hundred started in the window; a tick sends the window's list pages and
// at most a couple more, whether the server applies startDate/endDate or
// ignores them (the list being newest first).
func TestVideoSDKSourceCostFollowsTheWindow(t *testing.T) {
	const total, inside, newer, perPage = 100_000, 300, 5, 50
	gen := videosdktest.Generate(23, inside)
	sessions := make([]videosdktest.Session, 0, total)
	from := listLogical.Add(-24 * time.Hour)
	for i, s := range gen {
		sessions = append(sessions, startAt(small(s), from.Add(time.Duration(i)*(24*time.Hour/inside))))
	}
	for i := range total - inside {
		s := videosdktest.Session{ID: fmt.Sprintf("old%020d", i), ParticipantsIs: videosdktest.Present}
		if i < newer { // after the window: a rerun of an earlier slot
			sessions = append(sessions, startAt(s, listLogical.Add(time.Duration(i)*time.Minute)))
			continue
		}
		sessions = append(sessions, startAt(s, from.Add(-time.Duration(i)*time.Minute)))
	}
	windowPages := (inside + perPage - 1) / perPage
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("IgnoreDateBounds=%v", ignore), func(t *testing.T) {
			srv := newSim(t, videosdktest.Options{Sessions: sessions, MaxPerPage: perPage,
				List: videosdktest.ListOptions{IgnoreDateBounds: ignore}})
			out := t.TempDir()
			res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", "videosdk:", "--output", out,
				"--api-url", srv.URL(), "--logical-time", listLogicalFlag)
			if res.code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", res.code, tail(res.stderr, 3000))
			}
			if n := srv.ListRequests(); n > int64(windowPages+2) {
				t.Errorf("%d list requests; the window's %d sessions fill %d pages", n, inside, windowPages)
			} else {
				t.Logf("%d list requests for %d pages of the window", n, windowPages)
			}
			rep := onlyReport(t, out)
			checkRows(t, tabletest.ReadTable(t, out), wantRows(t, sessions[:inside]), rep.RunID, time.Time{}, time.Now())
			if rep.Listing == nil || rep.Listing.SessionsInWindow != inside || rep.Counts.SessionsExported != inside {
				t.Errorf("listing %+v, counts %+v; want %d in window", rep.Listing, rep.Counts, inside)
			}
			if reqs := srv.ParticipantsRequested(0); len(reqs) != inside {
				t.Errorf("participants requested for %d sessions, want %d", len(reqs), inside)
			}
		})
	}
}

// TestVideoSDKSourceListFailures: a list endpoint that refuses the token,
// fails past the retries or answers a page that is not JSON fails the run
// with exit 2 or 1, and nothing is published.
func TestVideoSDKSourceListFailures(t *testing.T) {
	sessions := []videosdktest.Session{}
	for i, s := range videosdktest.Generate(24, 30) {
		sessions = append(sessions, startAt(small(s), listLogical.Add(-time.Duration(i+1)*time.Minute)))
	}
	failing500 := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if path, _, _ := strings.Cut(r.RequestURI, "?"); path == "/v2/sessions/" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`{"message":"internal error"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	for _, tc := range []struct {
		name   string
		list   videosdktest.ListOptions
		wrap   func(http.Handler) http.Handler
		env    map[string]string
		code   int
		reason string
	}{
		{name: "401", env: map[string]string{"VIDEOSDK_SECRET_KEY": "wrong"}, code: exitUsage, reason: "401"},
		{name: "5xx past retries", wrap: failing500, code: exitFailed, reason: "gave up after 2 attempts"},
		{name: "not JSON", list: videosdktest.ListOptions{Override: map[int]string{2: "<html>busy</html>"}}, code: exitFailed, reason: "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSim(t, videosdktest.Options{Sessions: sessions, List: tc.list, MaxPerPage: 10})
			api := srv.URL()
			if tc.wrap != nil {
				proxy := httptest.NewServer(tc.wrap(srv))
				t.Cleanup(proxy.Close)
				api = proxy.URL
			}
			out := t.TempDir()
			res := runCLI(t, t.Context(), credsEnv(tc.env), "", "run", "--sessions", "videosdk:", "--output", out,
				"--api-url", api, "--logical-time", listLogicalFlag, "--max-attempts", "2")
			if res.code != tc.code || !strings.Contains(res.stderr, tc.reason) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", res.code, tc.code, tc.reason, tail(res.stderr, 3000))
			}
			if rep := onlyReport(t, out); rep.Status != "failed" || rep.ExitCode != tc.code || rep.Listing == nil || len(rep.Files) != 0 {
				t.Errorf("report: status %q, exit %d, listing %+v, %d files", rep.Status, rep.ExitCode, rep.Listing, len(rep.Files))
			}
			if rows := tabletest.ReadTable(t, out); len(rows) != 0 {
				t.Errorf("%d rows published by a failed run", len(rows))
			}
			if n := len(srv.ParticipantsRequested(0)); n != 0 {
				t.Errorf("participants of %d sessions requested after the listing failed", n)
			}
		})
	}
}

// TestVideoSDKSourceShards: every shard lists the same window and exports
// its own sessions; together they export the window once.
func TestVideoSDKSourceShards(t *testing.T) {
	var sessions, want []videosdktest.Session
	for i, s := range videosdktest.Generate(25, 40) {
		s = startAt(small(s), listLogical.Add(-time.Duration(i)*45*time.Minute))
		sessions = append(sessions, s)
		if inWindow(s, listLogical) {
			want = append(want, s)
		}
	}
	srv := newSim(t, videosdktest.Options{Sessions: sessions, List: videosdktest.ListOptions{MaxPerPage: 9}})
	out := t.TempDir()
	inShards := 0
	for shard := range 2 {
		res := runCLI(t, t.Context(), credsEnv(map[string]string{"JOB_COMPLETION_INDEX": fmt.Sprint(shard)}), "",
			"run", "--sessions", "videosdk:", "--output", out, "--api-url", srv.URL(),
			"--logical-time", listLogicalFlag, "--shard-count", "2")
		if res.code != exitOK {
			t.Fatalf("shard %d: exit %d; stderr:\n%s", shard, res.code, tail(res.stderr, 3000))
		}
	}
	for _, rep := range readReports(t, out) {
		if rep.Listing == nil || rep.Listing.SessionsInWindow != len(want) {
			t.Errorf("shard %d: listing %+v, want %d in the window", rep.Shard.Index, rep.Listing, len(want))
		}
		inShards += rep.Counts.SessionsInShard
	}
	if inShards != len(want) {
		t.Errorf("the shards hold %d sessions, the window %d", inShards, len(want))
	}
	checkRows(t, tabletest.ReadTable(t, out), wantRows(t, want), "", time.Time{}, time.Now())
}

// TestDemoListsItsSessions: the README's first command works: demo finds
// every generated session through the list endpoint, exports it, and
// prints a query of its own run.
func TestDemoListsItsSessions(t *testing.T) {
	out := t.TempDir()
	res := runCLI(t, t.Context(), envMap(nil), "", "demo", "--session-count", "25", "--seed", "3", "--output", out)
	if res.code != exitOK || !strings.Contains(res.stdout, "of 25 sessions") {
		t.Fatalf("demo: exit %d; stdout:\n%s\nstderr:\n%s", res.code, res.stdout, tail(res.stderr, 3000))
	}
	rep := onlyReport(t, out)
	if rep.Sessions != "videosdk:" || rep.Listing == nil || rep.Listing.SessionsInWindow != 25 || rep.Counts.SessionsExported != 25 {
		t.Errorf("demo report: source %q, listing %+v, counts %+v", rep.Sessions, rep.Listing, rep.Counts)
	}
	if !strings.Contains(res.stdout, "WHERE run_id = '"+rep.RunID+"'") || rep.Counts.Rows == 0 {
		t.Errorf("demo's query does not select its run %s (rows %d):\n%s", rep.RunID, rep.Counts.Rows, res.stdout)
	}
}

// TestVideoSDKSourceIncrementalTicks: with --incremental, two ticks an hour
// apart over a 24 h lookback: the second sends no participants request for
// the sessions the first completed; it fetches the open ones again and the
// ones that started in between, and a third skips a session that ended.
func TestVideoSDKSourceIncrementalTicks(t *testing.T) {
	var ended, open []videosdktest.Session
	for i, s := range videosdktest.Generate(26, 24) {
		s = startAt(s, listLogical.Add(-time.Duration(i+1)*50*time.Minute))
		if s.Live != videosdktest.NotLive {
			open = append(open, s)
			continue
		}
		ended = append(ended, startAt(videosdktest.EndOpen(s, "2026-11-26T12:00:00Z"), s.Start))
	}
	if len(open) == 0 || len(ended) == 0 {
		t.Fatalf("%d open and %d ended sessions: a vacuous test", len(open), len(ended))
	}
	srv := newSim(t, videosdktest.Options{Sessions: append(append([]videosdktest.Session{}, ended...), open...),
		List: videosdktest.ListOptions{MaxPerPage: 5}})
	tick := incrementalTicks(t, srv, t.TempDir(), "--sessions", "videosdk:", "--lookback", "24h")

	rep1, got1 := tick(listLogical)
	if len(got1) != len(ended)+len(open) || rep1.Counts.SessionsCompleted != len(ended) {
		t.Fatalf("tick 1 fetched %d sessions, completed %d; want %d and %d", len(got1), rep1.Counts.SessionsCompleted,
			len(ended)+len(open), len(ended))
	}

	// Between the ticks: one open session ends, a new one starts.
	finished := startAt(videosdktest.EndOpen(open[0], "2026-11-26T14:20:00Z"), open[0].Start)
	srv.SetSession(finished)
	fresh := startAt(videosdktest.EndOpen(small(videosdktest.Generate(27, 1)[0]), "2026-11-26T14:40:00Z"), listLogical.Add(30*time.Minute))
	srv.SetSession(fresh)

	next := listLogical.Add(time.Hour)
	rep2, got2 := tick(next)
	for _, s := range ended {
		if got2[s.ID] && inWindow(s, next) {
			t.Errorf("tick 2 requested the participants of session %s, which tick 1 completed", s.ID)
		}
	}
	for _, s := range append(append([]videosdktest.Session{}, open...), fresh) {
		if inWindow(s, next) && !got2[s.ID] {
			t.Errorf("tick 2 did not fetch session %s, open or new", s.ID)
		}
	}
	if rep2.Counts.SessionsSkippedComplete == 0 || rep2.Listing == nil {
		t.Errorf("tick 2: counts %+v, listing %+v", rep2.Counts, rep2.Listing)
	}

	_, got3 := tick(next.Add(time.Hour))
	if got3[finished.ID] || got3[fresh.ID] {
		t.Errorf("tick 3 fetched a session tick 2 completed (%s: %v, %s: %v)", finished.ID, got3[finished.ID], fresh.ID, got3[fresh.ID])
	}
}

// TestOpenSessionFollowedPastTheWindow: with a lookback of one hour, a
// session found open at one tick is fetched at the next ticks, after its
// start has left the window, until it is complete; then no more.
func TestOpenSessionFollowedPastTheWindow(t *testing.T) {
	s := small(videosdktest.Generate(28, 1)[0])
	s.ID = "open-session-0001"
	s.Participants = append(s.Participants, videosdktest.Participant{ID: "stayer", Name: "Still here",
		Timelog: []videosdktest.Entry{{Start: "2026-11-26T13:15:00.000Z", EndIs: videosdktest.Null}}})
	s.Start = listLogical.Add(-50 * time.Minute)
	other := startAt(small(videosdktest.EndOpen(videosdktest.Generate(29, 1)[0], "2026-11-26T13:59:00Z")), listLogical.Add(-10*time.Minute))
	srv := newSim(t, videosdktest.Options{Sessions: []videosdktest.Session{s, other}})
	tick := incrementalTicks(t, srv, t.TempDir(), "--sessions", "videosdk:", "--lookback", "1h")
	if _, got := tick(listLogical); !got[s.ID] || !got[other.ID] {
		t.Fatalf("tick 1 fetched %v, want both sessions of its window", got)
	}
	// Tick 2's window [14:00, 15:00) holds neither; the open one is carried.
	rep2, got := tick(listLogical.Add(time.Hour))
	if !got[s.ID] || got[other.ID] || rep2.Listing == nil || rep2.Listing.CarriedOpen != 1 {
		t.Fatalf("tick 2 fetched %v (listing %+v); want the open session only, carried", got, rep2.Listing)
	}
	srv.SetSession(videosdktest.EndOpen(s, "2026-11-26T15:30:00.000Z"))
	if rep3, got := tick(listLogical.Add(2 * time.Hour)); !got[s.ID] || rep3.Counts.SessionsCompleted != 1 {
		t.Fatalf("tick 3 fetched %v, completed %d; want the session, now ended, fetched and completed", got, rep3.Counts.SessionsCompleted)
	}
	if _, got := tick(listLogical.Add(3 * time.Hour)); len(got) != 0 {
		t.Errorf("tick 4 fetched %v; the session was complete at tick 3", got)
	}
}

// incrementalTicks returns a tick: a run with --incremental and args into
// out, returning its report and the sessions whose participants it
// requested.
func incrementalTicks(t *testing.T, srv *videosdktest.Server, out string, args ...string) func(time.Time) (pipeline.Report, map[string]bool) {
	return func(logical time.Time) (pipeline.Report, map[string]bool) {
		t.Helper()
		n := len(srv.RequestURIs())
		at := logical.Format(time.RFC3339)
		res := runCLI(t, t.Context(), credsEnv(nil), "", append([]string{"run", "--incremental", "--output", out,
			"--api-url", srv.URL(), "--logical-time", at}, args...)...)
		if res.code != exitOK {
			t.Fatalf("tick %s: exit %d; stderr:\n%s", at, res.code, tail(res.stderr, 3000))
		}
		return reportAt(t, out, at), srv.ParticipantsRequested(n)
	}
}
