package tabletest

import (
	"fmt"

	"github.com/participants-etl/participants-etl/transform"
)

// SampleRows returns n rows with a distinct value in every column of every
// row and a null in each nullable column now and then: rows in which a
// value put into the wrong column, or a null lost, shows.
func SampleRows(n int) []transform.Row {
	rows := make([]transform.Row, n)
	for i := range rows {
		r := transform.Row{
			SessionID:     fmt.Sprintf("session-%d", i/10),
			ParticipantID: fmt.Sprintf("participant-%d", i),
			TimelogIndex:  int32(i % 4),
			StartTime:     1_764_165_600_000_000 + int64(i)*1_000_001,
			ExtractedAt:   1_764_170_000_000_000 + int64(i),
			RunID:         fmt.Sprintf("run-%d", i%3),
		}
		if i%5 != 1 {
			r.RoomID = ptr(fmt.Sprintf("room-%d", i))
		}
		if i%5 != 2 {
			r.CustomRoomID = ptr(fmt.Sprintf("custom-room-%d", i))
		}
		switch i % 7 {
		case 3: // null
		case 4:
			r.ParticipantName = ptr("")
		default:
			r.ParticipantName = ptr(fmt.Sprintf("Zoë %d 参加者", i))
		}
		if i%6 != 5 {
			r.EndTime = ptr(r.StartTime + int64(i)*7_000)
			r.DurationMS = ptr(transform.DurationMS(r.StartTime, *r.EndTime))
		}
		rows[i] = r
	}
	return rows
}
