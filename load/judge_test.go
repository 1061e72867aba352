package load

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/schemas"
	"github.com/participants-etl/participants-etl/transform"
)

// The tests here take the whole write path, transform.Builder to
// ParquetWriter, and read the file back through internal/tabletest, the
// judge the end-to-end tests use, which shares no code with either. They
// live with the writer, the last step of that path, so that the test
// binaries of transform and tabletest link neither Parquet's writer nor
// the GCS client.

// TestTabletestReadsTheWriter: the judge reads back every value
// ParquetWriter wrote over several row groups, from bytes and from a file.
func TestTabletestReadsTheWriter(t *testing.T) {
	want := tabletest.SampleRows(250)
	b := transform.NewBuilder(nil)
	defer b.Release()
	var recs []arrow.RecordBatch
	for from := 0; from < len(want); from += 60 {
		b.Append(want[from:min(from+60, len(want))]...)
		rec := b.NewRecord()
		defer rec.Release()
		recs = append(recs, rec)
	}
	file := parquetBytes(t, ParquetOptions{RowGroupRows: 100}, recs...) // 3 row groups

	got, err := tabletest.Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, got, want)
	path := filepath.Join(t.TempDir(), "part.parquet")
	if err := os.WriteFile(path, file, 0o644); err != nil {
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
			t.Fatalf("row %d:\n got %s\nwant %s", i, dumpRows(got[i:i+1]), dumpRows(want[i:i+1]))
		}
	}
}

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
		sameRows(t, got, rows)
	}
}

// readBack writes rec with ParquetWriter and reads it through
// internal/tabletest.
func readBack(t *testing.T, rec arrow.RecordBatch) []transform.Row {
	t.Helper()
	got, err := tabletest.Read(bytes.NewReader(parquetBytes(t, ParquetOptions{}, rec)))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// parquetBytes is the Parquet file ParquetWriter makes of recs with opts.
func parquetBytes(t *testing.T, opts ParquetOptions, recs ...arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	pw, err := NewParquetWriter(&buf, opts)
	for i := 0; err == nil && i < len(recs); i++ {
		err = pw.Write(recs[i])
	}
	if err == nil {
		err = pw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBuilderColumnsByName judges Builder with a reader that shares no code
// with it: rows whose every field holds a value of its own go through
// Builder and ParquetWriter and come back through internal/tabletest,
// which finds each column by name. A Builder that put a value into another
// column of the same type (room_id and custom_room_id, say) fails here,
// whereas the Builder → FromRecord round trip would cancel the mistake out.
func TestBuilderColumnsByName(t *testing.T) {
	extracted := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	start := extracted.Add(-time.Hour)
	end := start.Add(90*time.Second + 1500*time.Microsecond)
	s := extract.Session{
		ID: "session-6176", RoomID: ptr("room-abc"), CustomRoomID: ptr("custom-room-xyz"),
		Participants: []extract.Participant{
			{ParticipantID: "participant-a", Name: ptr("Zoë"), Timelog: []extract.Timelog{
				{Start: &start, End: &end}, {Start: &end},
			}},
			{ParticipantID: "participant-b", Timelog: []extract.Timelog{{Start: &start}}},
		},
	}
	rows, _ := transform.Rows(s, transform.Meta{ExtractedAt: extracted, RunID: "run-42"})
	want := []transform.Row{
		{SessionID: "session-6176", RoomID: ptr("room-abc"), CustomRoomID: ptr("custom-room-xyz"),
			ParticipantID: "participant-a", ParticipantName: ptr("Zoë"), TimelogIndex: 0,
			StartTime: start.UnixMicro(), EndTime: ptr(end.UnixMicro()), DurationMS: ptr(int64(90_001)),
			ExtractedAt: extracted.UnixMicro(), RunID: "run-42"},
		{SessionID: "session-6176", RoomID: ptr("room-abc"), CustomRoomID: ptr("custom-room-xyz"),
			ParticipantID: "participant-a", ParticipantName: ptr("Zoë"), TimelogIndex: 1,
			StartTime: end.UnixMicro(), ExtractedAt: extracted.UnixMicro(), RunID: "run-42"},
		{SessionID: "session-6176", RoomID: ptr("room-abc"), CustomRoomID: ptr("custom-room-xyz"),
			ParticipantID: "participant-b", TimelogIndex: 0,
			StartTime: start.UnixMicro(), ExtractedAt: extracted.UnixMicro(), RunID: "run-42"},
	}

	b := transform.NewBuilder(nil)
	defer b.Release()
	b.Append(rows...)
	rec := b.NewRecord()
	defer rec.Release()
	got := readBack(t, rec)
	if len(got) != len(want) {
		t.Fatalf("read %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := reflect.ValueOf(got[i]), reflect.ValueOf(want[i])
		for f := 0; f < g.NumField(); f++ {
			if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
				t.Errorf("row %d %s: read %v, want %v", i, g.Type().Field(f).Name, show(g.Field(f)), show(w.Field(f)))
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func show(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		return v.Elem().Interface()
	}
	return v.Interface()
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
