package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/pipeline"
	"github.com/participants-etl/participants-etl/internal/tabletest"
)

// endedSessions are static sessions whose every interval has an end.
func endedSessions(seed int64, n int) []videosdktest.Session {
	sessions := videosdktest.Generate(seed, n)
	for i := range sessions {
		sessions[i] = videosdktest.EndOpen(sessions[i], "2026-11-26T12:00:00Z")
	}
	return sessions
}

func reportAt(t *testing.T, root, logical string) pipeline.Report {
	t.Helper()
	for _, r := range readReports(t, root) {
		if r.LogicalTime == logical {
			return r
		}
	}
	t.Fatalf("no report of logical time %s", logical)
	return pipeline.Report{}
}

// TestForget: forgetting a session, or a day of completions, makes the next
// incremental tick fetch those sessions again; usage mistakes exit 2.
func TestForget(t *testing.T) {
	sessions := endedSessions(41, 6)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	list := writeList(t, ids(sessions)...)
	tick := incrementalTicks(t, srv, out, "--sessions", list)
	tick(mustTime(t, "2026-11-26T14:00:00Z"))
	if _, asked := tick(mustTime(t, "2026-11-26T15:00:00Z")); len(asked) != 0 {
		t.Fatalf("every session is complete, yet the second tick asked for %v", asked)
	}

	forget := func(args ...string) cliResult {
		return runForget(t, append([]string{"--output", out}, args...)...)
	}
	res := forget("--session", sessions[0].ID, "--sessions", writeList(t, sessions[1].ID))
	if res.code != exitOK || !strings.Contains(res.stdout, "forgot 2 ledger entries") {
		t.Fatalf("forget sessions: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	rep, asked := tick(mustTime(t, "2026-11-26T16:00:00Z"))
	if len(asked) != 2 || !asked[sessions[0].ID] || !asked[sessions[1].ID] || rep.Counts.SessionsSkippedComplete != len(sessions)-2 {
		t.Errorf("after forgetting two sessions the tick asked for %v, skipped %d", asked, rep.Counts.SessionsSkippedComplete)
	}

	// The day of the first tick held every completion but the two
	// recorded again at 16:00.
	if res := forget("--completed-on", "2026-11-26"); res.code != exitOK || !strings.Contains(res.stdout, "forgot 6 ledger entries") {
		t.Fatalf("forget a day: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	if _, asked := tick(mustTime(t, "2026-11-26T17:00:00Z")); len(asked) != len(sessions) {
		t.Errorf("after forgetting the day the tick asked for %d sessions, want all %d", len(asked), len(sessions))
	}

	for name, args := range map[string][]string{
		"nothing to forget": nil,
		"both kinds":        {"--session", "a", "--completed-on", "2026-11-26"},
		"bad date":          {"--completed-on", "26/11/2026"},
		"empty ID":          {"--session", " "},
		"stray argument":    {"--session", "a", "b"},
	} {
		if res := forget(args...); res.code != exitUsage || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want 2 and one line", name, res.code, res.stderr)
		}
	}
	if res := runForget(t, "--session", "a"); res.code != exitUsage {
		t.Errorf("forget without --output: exit %d, want 2", res.code)
	}
}

// runForget runs the forget command in-process (it takes no log flags).
func runForget(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb strings.Builder
	code := runMain(t.Context(), append([]string{"forget"}, args...), process{getenv: envMap(nil), stdout: &out, stderr: &errb})
	return cliResult{code, out.String(), errb.String()}
}

// TestKillBetweenPublishAndLedger kills a real process (SIGKILL) after it
// published a tick's files and before it recorded the tick's completions
// in the ledger. The table holds the tick; the ledger claims nothing of
// it; the next tick fetches every session again and records them, so
// nothing is lost.
func TestKillBetweenPublishAndLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	sessions := endedSessions(42, 8)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	list := writeList(t, ids(sessions)...)
	args := func(logical string) []string {
		return []string{"run", "--incremental", "--sessions", list, "--output", out, "--api-url", srv.URL(), "--logical-time", logical}
	}

	c := startChild(t, []string{"PARTICIPANTS_ETL_PAUSE_AT=" + pipeline.StepLedgerPending}, args("2026-11-26T14:00:00Z")...)
	c.stderr.waitFor(t, 30*time.Second, "the child to publish", func(s string) bool {
		return strings.Contains(s, pausedLine+" "+pipeline.StepLedgerPending+"\n")
	})
	c.signal(t, syscall.SIGKILL)
	if code := c.wait(t, 10*time.Second); code != -1 {
		t.Fatalf("exit %d, want killed", code)
	}
	checkRows(t, tabletest.ReadTable(t, out), wantRows(t, sessions), "", time.Time{}, time.Now())
	ledger, _ := filepath.Glob(filepath.Join(out, "_ledger", "*", "*"))
	for _, f := range ledger {
		if fi, err := os.Stat(f); err == nil && !strings.HasPrefix(filepath.Base(f), ".") {
			t.Errorf("ledger object %s (%d bytes) after a kill before the ledger update", f, fi.Size())
		}
	}

	n := len(srv.RequestURIs())
	res := runCLI(t, t.Context(), credsEnv(nil), "", args("2026-11-26T15:00:00Z")...)
	if res.code != exitOK {
		t.Fatalf("next tick: exit %d: %s", res.code, tail(res.stderr, 2000))
	}
	if asked := srv.ParticipantsRequested(n); len(asked) != len(sessions) {
		t.Errorf("the next tick asked for %d sessions, want all %d again", len(asked), len(sessions))
	}
	// The summary line carries the counts.
	for _, kv := range []string{`"sessions_skipped_complete":0`, `"sessions_fetched_open":8`, `"sessions_completed":8`} {
		if !strings.Contains(res.stderr, kv) {
			t.Errorf("the summary line lacks %s", kv)
		}
	}
	if rep := reportAt(t, out, "2026-11-26T15:00:00Z"); rep.Counts.SessionsCompleted != len(sessions) {
		t.Errorf("the next tick recorded %d completions, want %d", rep.Counts.SessionsCompleted, len(sessions))
	}
	n = len(srv.RequestURIs())
	if res := runCLI(t, t.Context(), credsEnv(nil), "", args("2026-11-26T16:00:00Z")...); res.code != exitOK {
		t.Fatalf("third tick: exit %d", res.code)
	}
	if asked := srv.ParticipantsRequested(n); len(asked) != 0 {
		t.Errorf("the third tick asked for %v; all were recorded complete", asked)
	}
}
