package main

import (
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/tabletest"
)

func TestWrongSecretStopsTheRunAtOnce(t *testing.T) {
	sessions := videosdktest.Generate(5, 200)
	srv := newSim(t, videosdktest.Options{Sessions: sessions, Latency: 5 * time.Millisecond})
	out := t.TempDir()
	start := time.Now()
	res := runCLI(t, t.Context(), envMap(map[string]string{"VIDEOSDK_API_KEY": testAPIKey, "VIDEOSDK_SECRET_KEY": "not-the-secret"}), "",
		"run", "--sessions", writeList(t, ids(sessions)...), "--output", out, "--api-url", srv.URL())
	if res.code != exitUsage {
		t.Fatalf("exit %d, want 2; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to give up", d)
	}
	if n := srv.Requests(); n > 10 {
		t.Errorf("%d requests sent with bad credentials; want a handful (concurrency 8)", n)
	}
	low := strings.ToLower(res.stderr)
	if !strings.Contains(low, "credential") && !strings.Contains(low, "authori") {
		t.Errorf("no word about authorisation in:\n%s", tail(res.stderr, 2000))
	}
	if !strings.Contains(res.stderr, "VIDEOSDK_SECRET_KEY") {
		t.Errorf("message does not say which credential to check:\n%s", tail(res.stderr, 2000))
	}
	if rows := tabletest.ReadTable(t, out); len(rows) != 0 {
		t.Errorf("%d rows committed by a run that failed", len(rows))
	}
	rep := onlyReport(t, out)
	if rep.Status != "failed" || rep.ExitCode != exitUsage || rep.Error == "" {
		t.Errorf("report: status %q exit %d error %q", rep.Status, rep.ExitCode, rep.Error)
	}
}

func TestNoCredentialsNamesTheVariable(t *testing.T) {
	res := runCLI(t, t.Context(), envMap(nil), "", "run", "--sessions", writeList(t, "abc"), "--output", t.TempDir())
	if res.code != exitUsage || !strings.Contains(res.stderr, "VIDEOSDK_API_KEY") {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	if n := strings.Count(strings.TrimSpace(res.stderr), "\n"); n != 0 {
		t.Errorf("usage error is %d lines, want one: %q", n+1, res.stderr)
	}
}

func TestGarbageListLines(t *testing.T) {
	sessions := videosdktest.Generate(9, 12)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	lines := []string{
		"  " + sessions[0].ID + "  ", // trimmed: fine
		"bad\x00nul",
		"bad\xffutf8",
		strings.Repeat("x", 129),
		strings.Repeat("y", 200_000), // one overlong physical line
		"tab\tinside",
		sessions[0].ID, // duplicate
	}
	lines = append(lines, ids(sessions[1:])...)
	out := t.TempDir()
	res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", writeList(t, lines...), "--output", out, "--api-url", srv.URL())
	if res.code != exitPartial {
		t.Fatalf("exit %d, want 3; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	rep := onlyReport(t, out)
	checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), rep.RunID, time.Time{}, time.Now())
	byLine := map[int]string{}
	for _, bad := range rep.Invalid {
		byLine[bad.Line] = bad.Reason
		if strings.ContainsRune(bad.Value, 0) || len(bad.Value) > 200 {
			t.Errorf("line %d: unsafe value %q in the report", bad.Line, bad.Value)
		}
	}
	for _, line := range []int{2, 3, 4, 5, 6} {
		if byLine[line] == "" {
			t.Errorf("line %d not reported invalid; report has %+v", line, rep.Invalid)
		}
	}
	if rep.Counts.SessionsInvalid != 5 || rep.Counts.DuplicateLines != 1 || rep.Counts.SessionsExported != len(sessions) {
		t.Errorf("counts %+v", rep.Counts)
	}
}

func TestEmptyListIsANoOp(t *testing.T) {
	out := t.TempDir()
	res := runCLI(t, t.Context(), credsEnv(nil), "# nothing today\n\n", "run", "--sessions", "-", "--output", out,
		"--api-url", "http://127.0.0.1:1")
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if rows := tabletest.ReadTable(t, out); len(rows) != 0 {
		t.Errorf("%d rows from an empty list", len(rows))
	}
	if rep := onlyReport(t, out); rep.Status != "succeeded" || rep.Counts.SessionsListed != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestFailureCeilingCommitsNothing(t *testing.T) {
	sessions := videosdktest.Generate(4, 3)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	list := ids(sessions)
	for i := 0; i < 5; i++ {
		list = append(list, "missing-"+string(rune('a'+i)))
	}
	out := t.TempDir()
	res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", writeList(t, list...), "--output", out, "--api-url", srv.URL())
	if res.code != exitFailed {
		t.Fatalf("exit %d, want 1 (5 of 8 failed > 0.5); stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	if rows := tabletest.ReadTable(t, out); len(rows) != 0 {
		t.Errorf("%d rows committed past the failure ceiling", len(rows))
	}
	checkNoStaging(t, out, "a run past the failure ceiling")
	if rep := onlyReport(t, out); rep.Status != "failed" || !strings.Contains(rep.Error, "max-failed-fraction") {
		t.Errorf("report status %q error %q", rep.Status, rep.Error)
	}
	// With a higher ceiling the same list commits and exits 3.
	res = runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", writeList(t, list...), "--output", out, "--api-url", srv.URL(),
		"--max-failed-fraction", "0.9")
	if res.code != exitPartial {
		t.Fatalf("exit %d, want 3", res.code)
	}
}

// TestShardsSplitTheList: two shards run separately give exactly the whole
// table, and a rerun of one leaves the other's files alone.
func TestShardsSplitTheList(t *testing.T) {
	sessions := videosdktest.Generate(21, 60)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	list := writeList(t, ids(sessions)...)
	shard := func(i string) {
		t.Helper()
		res := runCLI(t, t.Context(), credsEnv(map[string]string{"JOB_COMPLETION_INDEX": i, "ETL_SHARD_COUNT": "2"}), "",
			"run", "--sessions", list, "--output", out, "--api-url", srv.URL(), "--logical-time", "2026-11-26T02:00:00Z")
		if res.code != exitOK {
			t.Fatalf("shard %s: exit %d: %s", i, res.code, tail(res.stderr, 2000))
		}
	}
	shard("0")
	shard("1")
	checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), "", time.Time{}, time.Now())
	reps := readReports(t, out)
	if len(reps) != 2 || reps[0].Counts.SessionsInShard+reps[1].Counts.SessionsInShard != len(sessions) ||
		reps[0].Counts.SessionsInShard == 0 || reps[1].Counts.SessionsInShard == 0 {
		t.Fatalf("shard reports: %d reports, in-shard counts %d and %d", len(reps), reps[0].Counts.SessionsInShard, reps[1].Counts.SessionsInShard)
	}
	before := fileStamps(t, out, "*shard-000-of-002*")
	shard("1")
	if after := fileStamps(t, out, "*shard-000-of-002*"); after != before || before == "" {
		t.Errorf("rerun of shard 1 touched shard 0's files: %s → %s", before, after)
	}
	checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), "", time.Time{}, time.Now())
}
