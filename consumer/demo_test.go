package consumer

import (
	"strings"
	"testing"
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
