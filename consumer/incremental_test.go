package consumer

import (
	"testing"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/schemas"
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

	for _, s := range first {
		if !s.Ended() {
			srv.SetSession(videosdktest.EndOpen(s, "2026-11-26T14:20:00.123Z"))
		}
	}
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
	if _, err := db.Exec(schemas.DuckDBSQL(root)); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT session_id, room_id, custom_room_id, participant_id, participant_name, timelog_index,
		start_time, end_time, duration_ms FROM participant_timelogs_latest`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[timelogKey]timelogRow{}
	for rows.Next() {
		var k timelogKey
		var r timelogRow
		if err := rows.Scan(&k.SessionID, &r.roomID, &r.customRoomID, &k.ParticipantID, &r.name, &k.TimelogIndex,
			&r.start, &r.end, &r.durationMS); err != nil {
			t.Fatal(err)
		}
		r.start = r.start.UTC()
		if r.end.Valid {
			r.end.Time = r.end.Time.UTC()
		}
		got[k] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	final := simulatorRows(t, srv.Snapshot())
	errs := 0
	for k, w := range final {
		if g, ok := got[k]; !ok || g != w {
			if errs++; errs <= 10 {
				t.Errorf("%v: latest view has %v (present %t), the simulator %v", k, g, ok, w)
			}
		}
	}
	if len(got) != len(final) {
		t.Errorf("latest view: %d rows, the simulator's data %d", len(got), len(final))
	}
}
