package videosdktest

import (
	"testing"
)

func TestWantRows(t *testing.T) {
	sessions := []Session{{
		ID: "s", RoomID: "r", CustomRoomIDIs: Absent,
		Participants: []Participant{
			{ID: "a", Name: "", Timelog: []Entry{
				{Start: "2021-10-25T07:00:00.0015+02:00", End: "2021-10-25t05:00:01z"}, // offset; lower case
				{StartIs: Absent, End: "2021-10-25T06:00:00Z"},                         // no start: no row
				{Start: "2021-10-25T06:00:00Z", EndIs: Null},                           // still in the session
			}},
			{ID: "b", NameIs: Null, TimelogIs: Absent},
		},
	}}
	got, err := WantRows(sessions)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows, want 2: %v", len(got), got)
	}
	first := got[RowKey{SessionID: "s", ParticipantID: "a", TimelogIndex: 0}]
	const start, end = 1635138000001500, 1635138001000000 // 2021-10-25T05:00:00.0015Z, 05:00:01Z
	if first.StartTime != start || first.EndTime == nil || *first.EndTime != end || first.DurationMS == nil || *first.DurationMS != 998 {
		t.Errorf("first interval: %+v", first)
	}
	if first.RoomID == nil || *first.RoomID != "r" || first.CustomRoomID != nil || first.ParticipantName == nil || *first.ParticipantName != "" {
		t.Errorf("first interval's strings: %+v", first)
	}
	open := got[RowKey{SessionID: "s", ParticipantID: "a", TimelogIndex: 2}]
	if open.StartTime != 1635141600000000 || open.EndTime != nil || open.DurationMS != nil {
		t.Errorf("open interval: %+v", open)
	}
	if _, err := WantRows([]Session{{ID: "x", Participants: []Participant{{ID: "p", Timelog: []Entry{{Start: "noon"}}}}}}); err == nil {
		t.Error("an unparseable start gave no error")
	}
}
