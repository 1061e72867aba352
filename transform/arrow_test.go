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
