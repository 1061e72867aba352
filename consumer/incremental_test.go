package consumer

import (
	"testing"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestIncrementalLatestEqualsSimulator runs the binary twice with
// --incremental: tick 1 over ended and ongoing sessions; then the ongoing
// ones end and new ones join the list; tick 2 asks only for what was not
// complete at tick 1, and the participant_timelogs_latest view of
// schemas/duckdb equals the simulator's final data row for row.
func TestIncrementalLatestEqualsSimulator(t *testing.T) {
	first := videosdktest.GenerateStatic(51, 30, 3, "2026-11-26T13:45:00.5Z", videosdktest.Absent)
	srv := newSimulator(t, first)
	root := t.TempDir()
	run := func(list, logical string) {
		mustRunETL(t, 0, credentials, "run", "--incremental", "--sessions", list, "--output", root,
			"--api-url", srv.URL(), "--concurrency", "4", "--logical-time", logical)
	}
	run(writeFile(t, "tick1.txt", sessionList(first)), "2026-11-26T14:00:00Z")

	srv.EndOngoing(first, "2026-11-26T14:20:00.123Z")
	fresh := videosdktest.GenerateStatic(52, 12, 3, "2026-11-26T13:45:00.5Z", videosdktest.Absent)
	for _, s := range fresh {
		srv.SetSession(s)
	}
	n := len(srv.RequestURIs())
	run(writeFile(t, "tick2.txt", sessionList(append(append([]videosdktest.Session{}, first...), fresh...))), "2026-11-26T15:00:00Z")

	asked := srv.ParticipantsRequested(n)
	want := 0
	for _, s := range first {
		switch {
		case s.Ended() && asked[s.ID]:
			t.Errorf("tick 2 asked for %s, complete at tick 1", s.ID)
		case !s.Ended() && !asked[s.ID]:
			t.Errorf("tick 2 did not ask for %s, ongoing at tick 1", s.ID)
		case !s.Ended():
			want++
		}
	}
	for _, s := range fresh {
		if !asked[s.ID] {
			t.Errorf("tick 2 did not ask for the new session %s", s.ID)
		}
	}
	if want += len(fresh); len(asked) != want {
		t.Errorf("tick 2 asked for %d sessions, want %d", len(asked), want)
	}

	db := openDuckDB(t)
	checkTable(t, db, root, readReports(t, root)) // creates the views
	errs := 0
	report := func(format string, args ...any) {
		if errs++; errs <= 10 {
			t.Errorf("latest view: "+format, args...)
		}
	}
	got := map[timelogKey]timelogRow{}
	for k, s := range scanTimelogs(t, db, "participant_timelogs_latest", report) {
		got[k] = s.row
	}
	compareRows(got, simulatorRows(t, srv.Snapshot()), report)
}
