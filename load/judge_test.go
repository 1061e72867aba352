package load

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/transform"
)

// TestTabletestReadsTheWriter: internal/tabletest, the judge the end-to-end
// tests read the table through, reads back every value ParquetWriter wrote
// over several row groups, from bytes and from a file. It lives here, not
// beside tabletest, so that tabletest's test binary does not link the GCS
// client with load.
func TestTabletestReadsTheWriter(t *testing.T) {
	want := tabletest.SampleRows(250)
	b := transform.NewBuilder(nil)
	defer b.Release()
	var buf bytes.Buffer
	pw, err := NewParquetWriter(&buf, ParquetOptions{RowGroupRows: 100}) // 3 row groups
	if err != nil {
		t.Fatal(err)
	}
	for from := 0; from < len(want) && err == nil; from += 60 {
		b.Append(want[from:min(from+60, len(want))]...)
		rec := b.NewRecord()
		err = pw.Write(rec)
		rec.Release()
	}
	if err == nil {
		err = pw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}

	got, err := tabletest.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, got, want)
	path := filepath.Join(t.TempDir(), "part.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err = tabletest.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	sameRows(t, got, want)
}

func sameRows(t *testing.T, got, want []transform.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			t.Fatalf("row %d:\n got %s\nwant %s", i, g, w)
		}
	}
}
