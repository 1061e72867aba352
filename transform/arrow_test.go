package transform

import (
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/participants-etl/participants-etl/schemas"
)

func TestBuilderRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rows := []Row{
		{SessionID: "s", RoomID: ptr("r"), CustomRoomID: ptr(""), ParticipantID: "p", ParticipantName: ptr("Zoë 👩‍💻"),
			TimelogIndex: 3, StartTime: -5, EndTime: ptr(int64(1_000_000)), DurationMS: ptr(int64(1000)),
			ExtractedAt: 1_700_000_000_000_000, RunID: "run"},
		{SessionID: "s", ParticipantID: "q", TimelogIndex: 0, StartTime: 7, ExtractedAt: 8, RunID: "run"},
	}
	b := NewBuilder(mem)
	defer b.Release()

	for round := 0; round < 2; round++ { // the Builder is reusable after NewRecord
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
		got, err := FromRecord(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rows) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, dump(got), dump(rows))
		}
	}
}

func TestFromRecordRejectsOtherSchemas(t *testing.T) {
	other := arrow.NewSchema([]arrow.Field{{Name: "session_id", Type: arrow.BinaryTypes.String}}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, other)
	defer rb.Release()
	rb.Field(0).(*array.StringBuilder).Append("x")
	rec := rb.NewRecordBatch()
	defer rec.Release()
	if _, err := FromRecord(rec); err == nil {
		t.Fatal("FromRecord accepted a record of another schema")
	}
}

func BenchmarkRowsAndBuild(b *testing.B) {
	rows := make([]Row, 10_000)
	for i := range rows {
		rows[i] = Row{SessionID: "6176c2597b0c743cf454204", RoomID: ptr("abc-xyzw-lmno"), ParticipantID: "a1pu7evl",
			ParticipantName: ptr("Demo participant"), TimelogIndex: int32(i % 4), StartTime: int64(i), EndTime: ptr(int64(i + 5)),
			DurationMS: ptr(int64(0)), ExtractedAt: 1, RunID: "run"}
	}
	bld := NewBuilder(nil)
	defer bld.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bld.Append(rows...)
		bld.NewRecord().Release()
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// TestBuilderGrowsGeometrically: the writer appends many small sessions to
// one batch, so the builder's buffers must grow by doubling, not by each
// Append's size (which copied the whole batch once per session).
func TestBuilderGrowsGeometrically(t *testing.T) {
	name := "Participant"
	row := Row{SessionID: "6176abcdef0123456789abcd", ParticipantID: "p0000001", ParticipantName: &name, RunID: "20261126T000000Z-0123456789ab"}
	allocs := testing.AllocsPerRun(1, func() {
		b := NewBuilder(nil)
		for range 4096 {
			b.Append(row)
		}
		b.Release()
	})
	if allocs > 1000 {
		t.Errorf("%.0f allocations to append 4096 rows one at a time; want a few per doubling", allocs)
	}
	t.Logf("%.0f allocations", allocs)
}
