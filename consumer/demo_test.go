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

// TestDemoQueryCountsItsOwnRun: after two demo runs into one directory, the
// query the second one prints counts only the second run's rows.
func TestDemoQueryCountsItsOwnRun(t *testing.T) {
	root := t.TempDir()
	mustRunETL(t, 0, nil, "demo", "--output", root, "--logical-time", "2026-11-25T14:00:00Z", "--session-count", "40")
	res := mustRunETL(t, 0, nil, "demo", "--output", root, "--logical-time", "2026-11-26T14:00:00Z", "--session-count", "40")
	var from, where string
	for _, line := range strings.Split(res.stdout, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "FROM read_parquet("):
			from = line
		case strings.HasPrefix(line, "WHERE "):
			where = line
		}
	}
	if from == "" || where == "" {
		t.Fatalf("demo printed no query with a FROM and a WHERE line:\n%s", res.stdout)
	}
	var second int64
	for _, r := range readReports(t, root) {
		if r.LogicalTime == "2026-11-26T14:00:00Z" {
			second = r.Counts.Rows
		}
	}
	db := openDuckDB(t)
	if got := queryInt(t, db, "SELECT count(*) "+from+" "+where); got != second || second == 0 {
		t.Errorf("the printed query counts %d rows; the run that printed it wrote %d", got, second)
	}
}
