package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/tabletest"
)

// hostileIDs are list entries that must each stay one escaped path segment.
// None exists on the server, so each must come back as a failed session.
var hostileIDs = []string{"../../v2/rooms/x", "a?page=9", "..", ".", "%2e%2e", "x#frag", "unknown-session-id"}

// TestExportEqualsSimulator is the main acceptance test: every row the
// simulator holds is in the table once, with every column right.
func TestExportEqualsSimulator(t *testing.T) {
	inBubble(t, func(t *testing.T) { // the latency on a fake clock
		sessions := videosdktest.Generate(7, 150)
		// An ID that needs escaping and exists: it must round-trip.
		odd := videosdktest.Generate(8, 1)[0]
		odd.ID = "we/ird?id#1 ü"
		sessions = append(sessions, odd)
		srv := newSim(t, videosdktest.Options{InMemory: true, Sessions: sessions, Latency: time.Millisecond})

		out := t.TempDir()
		list := writeList(t, append(append([]string{"# nightly list", ""}, ids(sessions)...), hostileIDs...)...)
		start := time.Now()
		res := runCLIOn(t, t.Context(), srv.Client(), credsEnv(nil), "", "run", "--sessions", list, "--output", out,
			"--api-url", srv.URL(), "--concurrency", "3", "--logical-time", "2026-11-26T14:00:00Z")
		end := time.Now()
		if res.code != exitPartial {
			t.Fatalf("exit %d, want 3 (unknown IDs); stderr:\n%s", res.code, res.stderr)
		}
		rep := onlyReport(t, out)
		// The simulator's final state, after live sessions stopped growing.
		checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), rep.RunID, start, end)

		if got := srv.MaxInFlight(); got > 3 {
			t.Errorf("simulator saw %d requests in flight, --concurrency is 3", got)
		}
		c := rep.Counts
		if c.SessionsListed != len(sessions)+len(hostileIDs) || c.SessionsExported != len(sessions) || c.SessionsFailed != len(hostileIDs) {
			t.Errorf("counts %+v", c)
		}
		failed := map[string]string{}
		for _, f := range rep.Failed {
			failed[f.SessionID] = f.Reason
		}
		for _, id := range hostileIDs {
			if !strings.Contains(failed[id], "404") && !strings.Contains(strings.ToLower(failed[id]), "not found") {
				t.Errorf("hostile/unknown ID %q: reason %q, want a 404", id, failed[id])
			}
		}
		for _, uri := range srv.RequestURIs() {
			if !strings.HasPrefix(uri, "/v2/sessions/") || strings.Count(strings.SplitN(uri, "?", 2)[0], "/") != 4 {
				t.Errorf("request %q left the participants path", uri)
			}
		}
		var noTimelog int
		for _, s := range srv.Snapshot() {
			for _, p := range s.Participants {
				if p.TimelogIs != videosdktest.Present || len(p.Timelog) == 0 {
					noTimelog++
				}
			}
		}
		if c.ParticipantsWithoutTimelog != noTimelog {
			t.Errorf("participants_without_timelog = %d, simulator has %d", c.ParticipantsWithoutTimelog, noTimelog)
		}
		if rep.Status != "partial" || rep.ExitCode != exitPartial || len(rep.Files) == 0 {
			t.Errorf("report status %q exit %d files %d", rep.Status, rep.ExitCode, len(rep.Files))
		}
		var fileRows int64
		for _, f := range rep.Files {
			fileRows += f.Rows
		}
		if fileRows != int64(c.Rows) {
			t.Errorf("files hold %d rows, report counts %d", fileRows, c.Rows)
		}
	})
}

// TestRerunSameLogicalTimeIsExactlyOnce: the second run replaces the first.
func TestRerunSameLogicalTimeIsExactlyOnce(t *testing.T) {
	sessions := videosdktest.Generate(3, 40)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	list := writeList(t, ids(sessions)...)
	other := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", list, "--output", out, "--api-url", srv.URL(),
		"--logical-time", "2026-11-25T14:00:00Z")
	if other.code != exitOK {
		t.Fatalf("exit %d: %s", other.code, other.stderr)
	}
	otherFiles, _ := filepath.Glob(filepath.Join(out, "participant_timelogs", "dt=2026-11-25", "*"))
	for i := 0; i < 2; i++ {
		res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", list, "--output", out, "--api-url", srv.URL(),
			"--logical-time", "2026-11-26T14:00:00Z")
		if res.code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i, res.code, res.stderr)
		}
	}
	want := wantRows(t, srv.Snapshot())
	var day []string
	_ = filepath.WalkDir(filepath.Join(out, "participant_timelogs", "dt=2026-11-26"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			day = append(day, p)
		}
		return nil
	})
	var rows int
	seen := map[key]bool{}
	for _, p := range day {
		for _, r := range readParquet(t, p) {
			k := key{SessionID: r.SessionID, ParticipantID: r.ParticipantID, TimelogIndex: r.TimelogIndex}
			if seen[k] {
				t.Fatalf("row %v twice after a rerun", k)
			}
			seen[k] = true
			rows++
		}
	}
	if rows != len(want) {
		t.Errorf("dt=2026-11-26 holds %d rows, want %d", rows, len(want))
	}
	// The other logical time was not touched.
	stillThere, _ := filepath.Glob(filepath.Join(out, "participant_timelogs", "dt=2026-11-25", "*"))
	if len(otherFiles) == 0 || strings.Join(stillThere, ",") != strings.Join(otherFiles, ",") {
		t.Errorf("files of another logical time changed: %v → %v", otherFiles, stillThere)
	}
	if got := len(readReports(t, out)); got != 3 {
		t.Errorf("%d reports, want one per run (3)", got)
	}
}

// TestChaos: a fifth of requests fail in every way the API can, under a
// server rate limit, with live sessions shifting; the table is still exact.
func TestChaos(t *testing.T) {
	inBubble(t, func(t *testing.T) { // stalls, timeouts, backoff and the rate on a fake clock
		sessions := videosdktest.Generate(11, 60)
		srv := newSim(t, videosdktest.Options{
			InMemory:  true,
			Sessions:  sessions,
			RateLimit: 400,
			Faults:    videosdktest.Faults{Fraction: 0.2, Seed: 5, Stall: 1500 * time.Millisecond},
		})
		out := t.TempDir()
		start := time.Now()
		res := runCLIOn(t, t.Context(), srv.Client(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...),
			"--output", out, "--api-url", srv.URL(), "--request-timeout", "500ms", "--max-attempts", "10",
			"--logical-time", "2026-11-26T15:00:00Z")
		if res.code != exitOK {
			t.Fatalf("exit %d; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
		}
		rep := onlyReport(t, out)
		checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), rep.RunID, start, time.Now())
		causes := rep.API.RetriesByCause
		var total int64
		for _, n := range causes {
			total += n
		}
		if total == 0 || len(causes) < 3 {
			t.Errorf("retries by cause %v: want several causes counted", causes)
		}
		t.Logf("requests %d, retries by cause %v, faults served %v", rep.API.Requests, causes, srv.FaultsServed())
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
