package transform_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/transform"
)

// TestBuilderColumnsByName judges Builder with a reader that shares no code
// with it: rows whose every field holds a value of its own go through
// Builder and the Parquet writer and come back through internal/tabletest,
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
