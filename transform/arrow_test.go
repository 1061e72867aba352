package transform

import "testing"

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
