package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// bigQueryType is how BigQuery reads each Arrow type of Timelogs from Parquet.
func bigQueryType(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case *arrow.StringType:
		return "STRING", nil
	case *arrow.Int32Type, *arrow.Int64Type:
		return "INT64", nil
	case *arrow.TimestampType:
		if t.TimeZone != "UTC" {
			// Without a zone Parquet says isAdjustedToUTC=false and BigQuery
			// reads DATETIME, not TIMESTAMP.
			return "", fmt.Errorf("timestamp in zone %q, want UTC", t.TimeZone)
		}
		return "TIMESTAMP", nil
	}
	return "", fmt.Errorf("no BigQuery type for %s", t)
}

func mode(nullable bool) string {
	if nullable {
		return "NULLABLE"
	}
	return "REQUIRED"
}

// bqField is one entry of a BigQuery JSON schema file, with only the keys we
// write: any other key is a mistake the strict decoder reports.
type bqField struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Mode        string `json:"mode"`
	Description string `json:"description"`
}

func readBigQueryJSON(t *testing.T) []bqField {
	t.Helper()
	b, err := Files.ReadFile("bigquery/participant_timelogs.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var fields []bqField
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("decode BigQuery schema: %v", err)
	}
	if dec.More() {
		t.Fatal("BigQuery schema: data after the top-level array")
	}
	return fields
}

func TestBigQueryJSONAgreesWithArrow(t *testing.T) {
	fields := readBigQueryJSON(t)
	want := Timelogs.Fields()
	if len(fields) != len(want) {
		t.Fatalf("BigQuery schema has %d columns, Timelogs %d", len(fields), len(want))
	}
	for i, f := range want {
		got := fields[i]
		typ, err := bigQueryType(f.Type)
		if err != nil {
			t.Fatalf("column %s: %v", f.Name, err)
		}
		// The JSON keys are case-sensitive for bq; encoding/json is not, so
		// compare the literal names too.
		if got.Name != f.Name || got.Type != typ || got.Mode != mode(f.Nullable) {
			t.Errorf("column %d: BigQuery has %s %s %s, want %s %s %s",
				i, got.Name, got.Type, got.Mode, f.Name, typ, mode(f.Nullable))
		}
		if strings.TrimSpace(got.Description) == "" {
			t.Errorf("column %s: no description", f.Name)
		}
	}
	raw, _ := Files.ReadFile("bigquery/participant_timelogs.json")
	for _, key := range []string{`"name"`, `"type"`, `"mode"`, `"description"`} {
		if c := bytes.Count(raw, []byte(key+":")); c != len(want) {
			t.Errorf("key %s written %d times, want %d (miscased key?)", key, c, len(want))
		}
	}
}

// ddlColumn is one column definition of a CREATE TABLE statement.
type ddlColumn struct {
	Name, Type, Mode, Description string
}

var (
	createTableRE = regexp.MustCompile("(?s)CREATE (?:OR REPLACE )?(?:EXTERNAL )?TABLE (?:IF NOT EXISTS )?`([^`]+)`\\s*\\((.*?)\\n\\)")
	columnRE      = regexp.MustCompile(`^(\w+) ([A-Z0-9]+)( NOT NULL)?(?: OPTIONS \(description = "((?:[^"\\]|\\.)*)"\))?$`)
)

// parseCreateTables returns the column lists of the CREATE TABLE statements
// of a BigQuery DDL file, by table name. It knows only the layout we write:
// one column per line, the closing parenthesis alone at the start of a line.
func parseCreateTables(sql string) (map[string][]ddlColumn, error) {
	tables := map[string][]ddlColumn{}
	for _, m := range createTableRE.FindAllStringSubmatch(sql, -1) {
		var cols []ddlColumn
		for line := range strings.SplitSeq(m[2], "\n") {
			line = strings.TrimSuffix(strings.TrimSpace(line), ",")
			if line == "" {
				continue
			}
			c := columnRE.FindStringSubmatch(line)
			if c == nil {
				return nil, fmt.Errorf("table %s: cannot read column definition %q", m[1], line)
			}
			md := "NULLABLE"
			if c[3] != "" {
				md = "REQUIRED"
			}
			cols = append(cols, ddlColumn{Name: c[1], Type: c[2], Mode: md, Description: c[4]})
		}
		tables[m[1]] = cols
	}
	return tables, nil
}

func TestBigQueryDDLAgreesWithSchemaJSON(t *testing.T) {
	fields := readBigQueryJSON(t)
	want := make([]ddlColumn, len(fields))
	for i, f := range fields {
		want[i] = ddlColumn(f)
	}
	// dt is a column of the native table only; the external table has it as
	// a Hive partition column.
	dt := ddlColumn{Name: "dt", Type: "DATE", Mode: "REQUIRED",
		Description: "UTC date of the run's logical time (the dt= folder)."}
	cases := []struct {
		file, table string
		want        []ddlColumn
	}{
		{"bigquery/participant_timelogs_external.sql", "${PROJECT}.${DATASET}.participant_timelogs", want},
		{"bigquery/participant_timelogs_native.sql", "${PROJECT}.${DATASET}.participant_timelogs_native", append(slices.Clone(want), dt)},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := Files.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			tables, err := parseCreateTables(string(b))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tables[tc.table]
			if !ok {
				t.Fatalf("no CREATE TABLE for %s; found %v", tc.table, tables)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("columns of %s:\n got %+v\nwant %+v", tc.table, got, tc.want)
			}
		})
	}
}

func TestExternalTableIsHivePartitionedOnDT(t *testing.T) {
	b, err := Files.ReadFile("bigquery/participant_timelogs_external.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"WITH PARTITION COLUMNS (\n  dt DATE\n)",
		"format = 'PARQUET'",
		"uris = ['gs://${BUCKET}/${PREFIX}/" + TableName + "/*']",
		"hive_partition_uri_prefix = 'gs://${BUCKET}/${PREFIX}/" + TableName + "'",
		"require_hive_partition_filter = false",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("external table DDL lacks %q", want)
		}
	}
}

var latestViewRE = regexp.MustCompile(`(?is)CREATE OR REPLACE VIEW\s+(\S+)\s+AS\s+SELECT \*\s+FROM\s+(\S+)\s+(?:WHERE TRUE\s+)?QUALIFY (?:row_number|ROW_NUMBER)\(\) OVER \(\s*PARTITION BY ([\w, ]+?)\s+ORDER BY extracted_at DESC, run_id DESC\s*\) = 1;`)

func TestLatestViewsDedupByKey(t *testing.T) {
	cases := []struct{ file, view, from string }{
		{"duckdb/participant_timelogs.sql", "participant_timelogs_latest", "participant_timelogs"},
		{"bigquery/participant_timelogs_external.sql", "`${PROJECT}.${DATASET}.participant_timelogs_latest`", "`${PROJECT}.${DATASET}.participant_timelogs`"},
		{"bigquery/participant_timelogs_native.sql", "`${PROJECT}.${DATASET}.participant_timelogs_native_latest`", "`${PROJECT}.${DATASET}.participant_timelogs_native`"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := Files.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			m := latestViewRE.FindStringSubmatch(string(b))
			if m == nil {
				t.Fatal("no latest-per-key view of the expected form")
			}
			if m[1] != tc.view || m[2] != tc.from {
				t.Errorf("view %s over %s, want %s over %s", m[1], m[2], tc.view, tc.from)
			}
			key := strings.Split(m[3], ", ")
			if !slices.Equal(key, Key()) {
				t.Errorf("view partitions by %v, want Key() %v", key, Key())
			}
			for _, c := range append(key, "extracted_at", "run_id") {
				if !slices.Contains(Columns(), c) {
					t.Errorf("view uses %s, which is not a column of Timelogs", c)
				}
			}
		})
	}
}

func TestDuckDBViewReadsTheTable(t *testing.T) {
	sql := DuckDBSQL("/data/it's here/")
	for _, want := range []string{
		"read_parquet(\n    '/data/it''s here/participant_timelogs/*/*.parquet',",
		"hive_partitioning = true",
		"hive_types = {'dt': DATE}",
		"CREATE OR REPLACE VIEW participant_timelogs AS",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("DuckDB SQL lacks %q:\n%s", want, sql)
		}
	}
	if strings.Contains(sql, "${") {
		t.Errorf("placeholder left after substitution:\n%s", sql)
	}
}

// Every placeholder used in an analyst file is explained in doc.go.
func TestPlaceholdersDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`\$\{(\w+)\}`)
	err = fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range placeholder.FindAllSubmatch(b, -1) {
			name := string(m[0])
			if !bytes.Contains(doc, []byte(name)) {
				t.Errorf("%s: placeholder %s is not explained in doc.go", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestColumnsAndKey(t *testing.T) {
	want := []string{"session_id", "room_id", "custom_room_id", "participant_id", "participant_name",
		"timelog_index", "start_time", "end_time", "duration_ms", "extracted_at", "run_id"}
	if got := Columns(); !slices.Equal(got, want) {
		t.Errorf("Columns() = %v, want %v", got, want)
	}
	for _, k := range Key() {
		i := Timelogs.FieldIndices(k)
		if len(i) != 1 {
			t.Fatalf("key column %s is not a column of Timelogs", k)
		}
		if Timelogs.Field(i[0]).Nullable {
			t.Errorf("key column %s is nullable", k)
		}
	}
}
