package consumer

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

const (
	testAPIKey = "consumer-test-key"
	testSecret = "consumer-test-secret-0d9e"
)

var credentials = []string{"VIDEOSDK_API_KEY=" + testAPIKey, "VIDEOSDK_SECRET_KEY=" + testSecret}

// newSimulator serves sessions on 127.0.0.1 and checks the job's tokens.
func newSimulator(t *testing.T, sessions []videosdktest.Session) *videosdktest.Server {
	t.Helper()
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: testAPIKey, Secret: []byte(testSecret)})
	t.Cleanup(srv.Close)
	return srv
}

func sessionList(sessions []videosdktest.Session, extra ...string) string {
	var b strings.Builder
	b.WriteString("# consumer test\n")
	for _, s := range sessions {
		b.WriteString(s.ID + "\n")
	}
	for _, id := range extra {
		b.WriteString(id + "\n")
	}
	return b.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// timelogKey identifies a row across runs (schemas.Key).
type timelogKey = videosdktest.RowKey

// timelogRow is one row as an analyst reads it from DuckDB; extracted_at
// and run_id are checked apart.
type timelogRow struct {
	roomID, customRoomID, name sql.NullString
	start                      time.Time
	end                        sql.NullTime
	durationMS                 sql.NullInt64
}

func (r timelogRow) String() string {
	return fmt.Sprintf("room=%v custom=%v name=%v start=%s end=%v duration=%v", r.roomID, r.customRoomID, r.name,
		r.start.UTC().Format(time.RFC3339Nano), r.end, r.durationMS)
}

// simulatorRows is the simulator's oracle (videosdktest.WantRows: the rows
// schema v1 must hold, worked out from the raw data without the exporter's
// code) in the form DuckDB hands an analyst.
func simulatorRows(t *testing.T, sessions []videosdktest.Session) map[timelogKey]timelogRow {
	t.Helper()
	rows, err := videosdktest.WantRows(sessions)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s *string) sql.NullString {
		if s == nil {
			return sql.NullString{}
		}
		return sql.NullString{String: *s, Valid: true}
	}
	want := make(map[timelogKey]timelogRow, len(rows))
	for k, r := range rows {
		w := timelogRow{roomID: str(r.RoomID), customRoomID: str(r.CustomRoomID), name: str(r.ParticipantName),
			start: time.UnixMicro(r.StartTime).UTC()}
		if r.EndTime != nil {
			w.end = sql.NullTime{Time: time.UnixMicro(*r.EndTime).UTC(), Valid: true}
			if r.DurationMS != nil { // nil when the end is before the start
				w.durationMS = sql.NullInt64{Int64: *r.DurationMS, Valid: true}
			}
		}
		want[k] = w
	}
	return want
}

// checkEqualsSimulator reads the table under root through DuckDB and
// compares every row with the simulator's data: every key once, every value
// equal, all rows of run runID, extracted during the run.
func checkEqualsSimulator(t *testing.T, db *sql.DB, root string, want map[timelogKey]timelogRow, runID string, from, to time.Time) {
	t.Helper()
	errs := 0
	report := func(format string, args ...any) {
		if errs++; errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	got := scanTimelogs(t, db, `read_parquet(`+sqlString(tableGlob(root))+`, hive_partitioning = true)`, report)
	rows := make(map[timelogKey]timelogRow, len(got))
	for k, g := range got {
		rows[k] = g.row
		if g.runID != runID {
			report("%v: run_id %q, want %q", k, g.runID, runID)
		}
		if g.extractedAt.Before(from.Truncate(time.Microsecond)) || g.extractedAt.After(to) {
			report("%v: extracted_at %s outside the run (%s .. %s)", k, g.extractedAt, from, to)
		}
	}
	compareRows(rows, want, report)
	if errs > 20 {
		t.Errorf("... %d differences in all", errs)
	}
}

// scanned is one row as DuckDB reads it, with the run that wrote it.
type scanned struct {
	row         timelogRow
	extractedAt time.Time
	runID       string
}

// scanTimelogs reads every row of relation (a view, or a read_parquet
// call) by its key; a key seen twice is reported.
func scanTimelogs(t *testing.T, db *sql.DB, relation string, report func(format string, args ...any)) map[timelogKey]scanned {
	t.Helper()
	rows, err := db.Query(`SELECT session_id, room_id, custom_room_id, participant_id, participant_name, timelog_index,
		start_time, end_time, duration_ms, extracted_at, run_id FROM ` + relation)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[timelogKey]scanned{}
	for rows.Next() {
		var k timelogKey
		var s scanned
		r := &s.row
		if err := rows.Scan(&k.SessionID, &r.roomID, &r.customRoomID, &k.ParticipantID, &r.name, &k.TimelogIndex,
			&r.start, &r.end, &r.durationMS, &s.extractedAt, &s.runID); err != nil {
			t.Fatal(err)
		}
		r.start = r.start.UTC()
		if r.end.Valid {
			r.end.Time = r.end.Time.UTC()
		}
		if _, dup := got[k]; dup {
			report("%v: more than one row", k)
		}
		got[k] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// compareRows reports every key of want missing from got or different
// there, and every key of got not in want.
func compareRows(got, want map[timelogKey]timelogRow, report func(format string, args ...any)) {
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			report("%v: missing", k)
		case g != w:
			report("%v:\n got %s\nwant %s", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			report("%v: not in the simulator's data", k)
		}
	}
}

// onlyRun returns the one report of the run whose rows the table holds.
func onlyRun(t *testing.T, reports map[string]runReport, stats tableStats) runReport {
	t.Helper()
	if len(stats.runIDs) != 1 {
		t.Fatalf("rows of %d runs in the table, want 1", len(stats.runIDs))
	}
	return reports[stats.runIDs[0]]
}

// An ID that is listed but unknown to the API: the run exports the rest,
// commits, names it in the report, and exits 3.
const unknownID = "ffffffffffffffffffffffff"

// TestRunEqualsSimulator runs the exporter against the API simulator and
// proves in DuckDB that the table holds exactly the simulator's rows:
// unicode, null and empty names, absent room IDs, open intervals, offsets
// and nanoseconds, sessions of many pages, live sessions, data as an array.
func TestRunEqualsSimulator(t *testing.T) {
	sessions := videosdktest.Generate(11, 80)
	srv := newSimulator(t, sessions)
	root := t.TempDir()
	list := writeFile(t, "sessions.txt", sessionList(sessions, unknownID))

	from := time.Now()
	mustRunETL(t, 3, credentials, "run", "--sessions", list, "--output", root, "--api-url", srv.URL(),
		"--concurrency", "4", "--logical-time", "2026-11-26T14:00:00Z")
	to := time.Now()

	reports := readReports(t, root)
	db := openDuckDB(t)
	stats := checkTable(t, db, root, reports)
	rep := onlyRun(t, reports, stats)
	if rep.ExitCode != 3 || rep.Counts.SessionsFailed != 1 || rep.Counts.SessionsExported != len(sessions) {
		t.Errorf("report: exit %d, %d sessions exported, %d failed; want 3, %d, 1",
			rep.ExitCode, rep.Counts.SessionsExported, rep.Counts.SessionsFailed, len(sessions))
	}
	// Live sessions have stopped growing by now: the snapshot is what the
	// run read.
	checkEqualsSimulator(t, db, root, simulatorRows(t, srv.Snapshot()), rep.RunID, from, to)
}

// TestRerunKeepsOneCopy: a rerun of the same logical time replaces the
// first run's rows; a run of a later logical time adds its own, and the
// latest view shows each key once, from the later run.
func TestRerunKeepsOneCopy(t *testing.T) {
	sessions := videosdktest.Generate(12, 30)
	for i := range sessions {
		sessions[i].Live = videosdktest.NotLive // the same data for every run
	}
	srv := newSimulator(t, sessions)
	root := t.TempDir()
	list := writeFile(t, "sessions.txt", sessionList(sessions))
	want := simulatorRows(t, sessions)
	run := func(logical string) {
		mustRunETL(t, 0, credentials, "run", "--sessions", list, "--output", root, "--api-url", srv.URL(),
			"--logical-time", logical)
	}

	run("2026-11-26T14:00:00Z")
	from := time.Now()
	run("2026-11-26T14:00:00Z")
	to := time.Now()

	reports := readReports(t, root)
	db := openDuckDB(t)
	stats := checkTable(t, db, root, reports)
	rep := onlyRun(t, reports, stats)
	if stats.rows != int64(len(want)) {
		t.Errorf("after a rerun the table holds %d rows, want one copy: %d", stats.rows, len(want))
	}
	checkEqualsSimulator(t, db, root, want, rep.RunID, from, to)

	run("2026-11-26T15:00:00Z")
	reports = readReports(t, root)
	db = openDuckDB(t)
	stats = checkTable(t, db, root, reports) // creates the views
	if len(stats.runIDs) != 2 || stats.rows != 2*int64(len(want)) {
		t.Fatalf("two logical times: rows of %d runs, %d rows; want 2 runs, %d rows", len(stats.runIDs), stats.rows, 2*len(want))
	}
	var later string
	for id, r := range reports {
		if r.LogicalTime == "2026-11-26T15:00:00Z" {
			later = id
		}
	}
	if n := queryInt(t, db, "SELECT count(*) FROM participant_timelogs_latest WHERE run_id = "+sqlString(later)); n != int64(len(want)) {
		t.Errorf("latest view: %d rows from the later run, want all %d", n, len(want))
	}
}
