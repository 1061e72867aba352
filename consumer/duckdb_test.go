package consumer

import (
	"database/sql"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/participants-etl/participants-etl/schemas"
)

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	// One connection: views created by one statement are seen by the next.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDuckDBDriver(t *testing.T) {
	db := openDuckDB(t)
	var version string
	if err := db.QueryRow("SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("DuckDB %s", version)
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func tableGlob(root string) string {
	return filepath.Join(root, schemas.TableName, "*", "*.parquet")
}

// duckDBType is how DuckDB shows each Arrow type of the schema. Timestamps
// must come out WITH TIME ZONE: Parquet's isAdjustedToUTC, which BigQuery
// also needs to read TIMESTAMP rather than DATETIME.
func duckDBType(t *testing.T, dt arrow.DataType) string {
	switch dt.ID() {
	case arrow.STRING:
		return "VARCHAR"
	case arrow.INT32:
		return "INTEGER"
	case arrow.INT64:
		return "BIGINT"
	case arrow.TIMESTAMP:
		return "TIMESTAMP WITH TIME ZONE"
	}
	t.Fatalf("no DuckDB type known for %s", dt)
	return ""
}

// analystColumns is the table as an analyst sees it in DuckDB, written out
// rather than derived, so that a change of the Go schema shows up here too.
var analystColumns = [][2]string{
	{"session_id", "VARCHAR"},
	{"room_id", "VARCHAR"},
	{"custom_room_id", "VARCHAR"},
	{"participant_id", "VARCHAR"},
	{"participant_name", "VARCHAR"},
	{"timelog_index", "INTEGER"},
	{"start_time", "TIMESTAMP WITH TIME ZONE"},
	{"end_time", "TIMESTAMP WITH TIME ZONE"},
	{"duration_ms", "BIGINT"},
	{"extracted_at", "TIMESTAMP WITH TIME ZONE"},
	{"run_id", "VARCHAR"},
	{"dt", "DATE"}, // from the dt=YYYY-MM-DD folder
}

func describe(t *testing.T, db *sql.DB, relation string) [][2]string {
	t.Helper()
	rows, err := db.Query("DESCRIBE " + relation)
	if err != nil {
		t.Fatalf("DESCRIBE %s: %v", relation, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][2]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]string{vals[0].(string), vals[1].(string)})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func queryInt(t *testing.T, db *sql.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// tableStats is what checkTable found.
type tableStats struct {
	rows   int64
	runIDs []string
}

// checkTable asserts what analysts rely on in the table under root, which
// the runs in reports wrote: the columns and their types, nullability in
// the files, zstd and statistics, the row counts the reports promise, the
// dt partitions, duration_ms, one row per key per run, and the views of
// schemas/duckdb.
func checkTable(t *testing.T, db *sql.DB, root string, reports map[string]runReport) tableStats {
	t.Helper()
	glob := sqlString(tableGlob(root))
	scan := "read_parquet(" + glob + ", hive_partitioning = true)"

	t.Run("columns", func(t *testing.T) {
		got := describe(t, db, "SELECT * FROM "+scan)
		if !slices.Equal(got, analystColumns) {
			t.Errorf("DuckDB sees\n %v\nwant\n %v", got, analystColumns)
		}
		var derived [][2]string
		for _, f := range schemas.Timelogs.Fields() {
			derived = append(derived, [2]string{f.Name, duckDBType(t, f.Type)})
		}
		if !slices.Equal(derived, analystColumns[:len(analystColumns)-1]) {
			t.Errorf("schemas.Timelogs maps to\n %v\nbut analysts are promised\n %v", derived, analystColumns)
		}
	})

	t.Run("nullability in the files", func(t *testing.T) {
		rows, err := db.Query("SELECT DISTINCT name, repetition_type FROM parquet_schema(" + glob + ") WHERE num_children IS NULL OR num_children = 0")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string][]string{}
		for rows.Next() {
			var name, rep string
			if err := rows.Scan(&name, &rep); err != nil {
				t.Fatal(err)
			}
			got[name] = append(got[name], rep)
		}
		for _, f := range schemas.Timelogs.Fields() {
			want := "REQUIRED"
			if f.Nullable {
				want = "OPTIONAL"
			}
			if !slices.Equal(got[f.Name], []string{want}) {
				t.Errorf("column %s is %v in the files, want %s", f.Name, got[f.Name], want)
			}
		}
	})

	t.Run("zstd and statistics", func(t *testing.T) {
		if n := queryInt(t, db, "SELECT count(*) FROM parquet_metadata("+glob+")"); n == 0 {
			t.Fatal("no column chunks")
		}
		if n := queryInt(t, db, "SELECT count(*) FROM parquet_metadata("+glob+") WHERE compression <> 'ZSTD'"); n != 0 {
			t.Errorf("%d column chunks not zstd-compressed", n)
		}
		// A chunk that is not all nulls must say its min and max, or
		// readers cannot skip row groups; every chunk must count its nulls.
		q := "SELECT count(*) FROM parquet_metadata(" + glob + ") WHERE stats_null_count IS NULL OR " +
			"(stats_null_count < row_group_num_rows AND (stats_min_value IS NULL OR stats_max_value IS NULL))"
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%d column chunks without statistics", n)
		}
		q = "SELECT count(*) FROM parquet_kv_metadata(" + glob + ") WHERE decode(key) = 'participants_etl.schema_version' AND decode(value) = '" +
			strconv.Itoa(schemas.Version) + "'"
		files := queryInt(t, db, "SELECT count(DISTINCT file_name) FROM parquet_metadata("+glob+")")
		if n := queryInt(t, db, q); n != files {
			t.Errorf("%d of %d files carry participants_etl.schema_version = %d", n, files, schemas.Version)
		}
	})

	var stats tableStats
	stats.rows = queryInt(t, db, "SELECT count(*) FROM "+scan)

	t.Run("rows match the run reports", func(t *testing.T) {
		rows, err := db.Query("SELECT run_id, count(*), min(dt)::VARCHAR, max(dt)::VARCHAR FROM " + scan + " GROUP BY run_id ORDER BY run_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, minDT, maxDT string
			var n int64
			if err := rows.Scan(&id, &n, &minDT, &maxDT); err != nil {
				t.Fatal(err)
			}
			stats.runIDs = append(stats.runIDs, id)
			rep, ok := reports[id]
			if !ok {
				t.Errorf("rows of run %s, which has no report", id)
				continue
			}
			if n != rep.Counts.Rows {
				t.Errorf("run %s: %d rows in the table, report says %d", id, n, rep.Counts.Rows)
			}
			lt, err := time.Parse(time.RFC3339Nano, rep.LogicalTime)
			if err != nil {
				t.Errorf("run %s: logical_time %q: %v", id, rep.LogicalTime, err)
				continue
			}
			if want := lt.UTC().Format(time.DateOnly); minDT != want || maxDT != want {
				t.Errorf("run %s: dt %s..%s, want the UTC date of its logical time %s", id, minDT, maxDT, want)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}

		// Every file a report lists holds the rows it says.
		fileRows := map[string]int64{}
		frows, err := db.Query("SELECT filename, count(*) FROM read_parquet(" + glob + ", filename = true) GROUP BY filename")
		if err != nil {
			t.Fatal(err)
		}
		defer frows.Close()
		for frows.Next() {
			var name string
			var n int64
			if err := frows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			fileRows[filepath.Base(name)] = n
		}
		claimed := map[string]bool{}
		for _, id := range stats.runIDs {
			for _, f := range reports[id].Files {
				claimed[path.Base(f.Path)] = true
				if got := fileRows[path.Base(f.Path)]; got != f.Rows {
					t.Errorf("run %s: file %s has %d rows, report says %d", id, f.Path, got, f.Rows)
				}
			}
		}
		for name := range fileRows {
			if !claimed[name] {
				t.Errorf("file %s is in no report of the runs in the table", name)
			}
		}
	})

	t.Run("required columns have values", func(t *testing.T) {
		for _, f := range schemas.Timelogs.Fields() {
			if f.Nullable {
				continue
			}
			if n := queryInt(t, db, "SELECT count(*) FROM "+scan+" WHERE "+f.Name+" IS NULL"); n != 0 {
				t.Errorf("%d rows with %s NULL", n, f.Name)
			}
		}
	})

	t.Run("duration_ms", func(t *testing.T) {
		// Whole milliseconds of the stored microseconds, truncated toward
		// zero, so that a reader recomputes it exactly. (epoch_ms(end) -
		// epoch_ms(start) differs when the times have sub-millisecond parts.)
		// An end before the start has no duration (NULL).
		q := "SELECT count(*) FROM (SELECT *, epoch_us(end_time) - epoch_us(start_time) AS d FROM " + scan + ") WHERE " +
			"((end_time IS NULL OR d < 0) AND duration_ms IS NOT NULL) OR " +
			"(end_time IS NOT NULL AND d >= 0 AND duration_ms IS DISTINCT FROM d // 1000)"
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%d rows whose duration_ms is not end_time - start_time (NULL with end_time, or when end_time < start_time)", n)
		}
	})

	key := strings.Join(schemas.Key(), ", ")
	t.Run("one row per key per run", func(t *testing.T) {
		q := "SELECT count(*) FROM (SELECT run_id, " + key + " FROM " + scan + " GROUP BY ALL HAVING count(*) > 1)"
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%d keys occur more than once within a run", n)
		}
	})

	t.Run("views of schemas/duckdb", func(t *testing.T) {
		if _, err := db.Exec(schemas.DuckDBSQL(root)); err != nil {
			t.Fatalf("create views: %v", err)
		}
		if got := describe(t, db, "participant_timelogs"); !slices.Equal(got, analystColumns) {
			t.Errorf("view participant_timelogs has columns\n %v\nwant\n %v", got, analystColumns)
		}
		if got := describe(t, db, "participant_timelogs_latest"); !slices.Equal(got, analystColumns) {
			t.Errorf("view participant_timelogs_latest has columns\n %v\nwant\n %v", got, analystColumns)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM participant_timelogs"); n != stats.rows {
			t.Errorf("view participant_timelogs has %d rows, the files %d", n, stats.rows)
		}
		keys := queryInt(t, db, "SELECT count(*) FROM (SELECT DISTINCT "+key+" FROM participant_timelogs)")
		if n := queryInt(t, db, "SELECT count(*) FROM participant_timelogs_latest"); n != keys {
			t.Errorf("latest view has %d rows, want one per key: %d", n, keys)
		}
		q := "SELECT count(*) FROM participant_timelogs_latest l JOIN participant_timelogs a USING (" + key + ") " +
			"WHERE a.extracted_at > l.extracted_at"
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%d rows newer than the latest view's row for their key", n)
		}
	})
	return stats
}
