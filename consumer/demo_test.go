package consumer

import (
	"strings"
	"testing"

	"github.com/participants-etl/participants-etl/schemas"
)

// TestDemo is what a new user sees first: `participants-etl demo` writes a
// table that DuckDB reads with the promised columns, and every row the run
// reports is there once.
func TestDemo(t *testing.T) {
	root := t.TempDir()
	res := mustRunETL(t, 0, nil, "demo", "--output", root)
	if !strings.Contains(res.stdout+res.stderr, root) {
		t.Errorf("demo does not say where it wrote the files (%s)", root)
	}
	reports := readReports(t, root)
	db := openDuckDB(t)
	stats := checkTable(t, db, root, reports)

	var reported int64
	for _, r := range reports {
		reported += r.Counts.Rows
	}
	if stats.rows == 0 || stats.rows != reported {
		t.Errorf("the table has %d rows; the run reports sum to %d", stats.rows, reported)
	}
	if len(reports) != 1 || len(stats.runIDs) != 1 {
		t.Errorf("one demo run left %d reports and rows of %d runs", len(reports), len(stats.runIDs))
	}
}

// TestDemoRerunKeepsOneCopy: two demo runs of the same logical time into
// one directory leave exactly one copy of every row, the second run's.
func TestDemoRerunKeepsOneCopy(t *testing.T) {
	root := t.TempDir()
	args := []string{"demo", "--output", root, "--logical-time", "2026-11-26T14:00:00Z"}
	mustRunETL(t, 0, nil, args...)
	mustRunETL(t, 0, nil, args...)

	reports := readReports(t, root)
	db := openDuckDB(t)
	stats := checkTable(t, db, root, reports)
	rep := onlyRun(t, reports, stats)
	if stats.rows != rep.Counts.Rows {
		t.Errorf("the table holds %d rows, the run that wrote them %d", stats.rows, rep.Counts.Rows)
	}
	key := strings.Join(schemas.Key(), ", ")
	if n := queryInt(t, db, "SELECT count(*) - count(DISTINCT ("+key+")) FROM "+
		"read_parquet("+sqlString(tableGlob(root))+", hive_partitioning = true)"); n != 0 {
		t.Errorf("%d rows are second copies", n)
	}
}
