package transform_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/schemas"
	"github.com/participants-etl/participants-etl/transform"
)

// TestBuilderIsReusable: after NewRecord the Builder starts empty, and each
// record holds exactly its rows, as a reader that shares no code with the
// Builder sees them.
func TestBuilderIsReusable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rows := []transform.Row{
		{SessionID: "s", RoomID: ptr("r"), CustomRoomID: ptr(""), ParticipantID: "p", ParticipantName: ptr("Zoë 👩‍💻"),
			TimelogIndex: 3, StartTime: -5, EndTime: ptr(int64(1_000_000)), DurationMS: ptr(int64(1000)),
			ExtractedAt: 1_700_000_000_000_000, RunID: "run"},
		{SessionID: "s", ParticipantID: "q", TimelogIndex: 0, StartTime: 7, ExtractedAt: 8, RunID: "run"},
	}
	b := transform.NewBuilder(mem)
	defer b.Release()
	for round := 0; round < 2; round++ {
		b.Append(rows...)
		if b.Len() != len(rows) {
			t.Fatalf("Len = %d, want %d", b.Len(), len(rows))
		}
		rec := b.NewRecord()
		if !rec.Schema().Equal(schemas.Timelogs) {
			t.Fatalf("schema %s", rec.Schema())
		}
		if b.Len() != 0 {
			t.Fatalf("Len after NewRecord = %d", b.Len())
		}
		got := readBack(t, rec)
		rec.Release()
		if !reflect.DeepEqual(got, rows) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, dumpRows(got), dumpRows(rows))
		}
	}
}

// readBack encodes rec as Parquet and reads it through internal/tabletest.
// It encodes with pqarrow, not load's writer: the Builder is judged here,
// and load's test binary is the one that pays for the GCS client.
// load.ParquetWriter takes only records of schemas.Timelogs, so neither
// does this.
func readBack(t *testing.T, rec arrow.RecordBatch) []transform.Row {
	t.Helper()
	if !rec.Schema().Equal(schemas.Timelogs) {
		t.Fatalf("record schema %s is not schemas.Timelogs", rec.Schema())
	}
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(rec.Schema(), &buf, parquet.NewWriterProperties(),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err == nil {
		err = fw.Write(rec)
	}
	if err == nil {
		err = fw.Close()
	}
	var got []transform.Row
	if err == nil {
		got, err = tabletest.Read(bytes.NewReader(buf.Bytes()))
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func dumpRows(rows []transform.Row) string {
	var b bytes.Buffer
	for _, r := range rows {
		v := reflect.ValueOf(r)
		b.WriteString("{")
		for i := 0; i < v.NumField(); i++ {
			fmt.Fprintf(&b, "%s:%v ", v.Type().Field(i).Name, show(v.Field(i)))
		}
		b.WriteString("}\n")
	}
	return b.String()
}
