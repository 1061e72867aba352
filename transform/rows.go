package transform

import (
	"time"

	"github.com/participants-etl/participants-etl/extract"
)

// Meta is what a run stamps on every row of a session.
type Meta struct {
	// ExtractedAt is when the session's pages were read.
	ExtractedAt time.Time
	RunID       string
}

// Stats counts what Rows did with a session.
type Stats struct {
	Rows                       int `json:"rows"`
	Participants               int `json:"participants"`
	ParticipantsWithoutTimelog int `json:"participants_without_timelog"`
	// TimelogsWithoutStart counts entries dropped because the API sent no
	// start time; their neighbours keep their original timelog_index.
	TimelogsWithoutStart int `json:"timelogs_without_start"`
	// IntervalsEndBeforeStart counts rows whose end precedes their start:
	// both times are kept as the API sent them, duration_ms is null.
	IntervalsEndBeforeStart int `json:"intervals_end_before_start"`
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Rows += o.Rows
	s.Participants += o.Participants
	s.ParticipantsWithoutTimelog += o.ParticipantsWithoutTimelog
	s.TimelogsWithoutStart += o.TimelogsWithoutStart
	s.IntervalsEndBeforeStart += o.IntervalsEndBeforeStart
}

// Rows flattens a session into one Row per timelog entry, in the order the
// session lists its participants and their timelogs. It relies on what
// extract.Session promises, each participant listed once, for the key
// (session_id, participant_id, timelog_index) to be unique; it does not
// check it again.
func Rows(s extract.Session, m Meta) ([]Row, Stats) {
	st := Stats{Participants: len(s.Participants)}
	extractedAt := m.ExtractedAt.UnixMicro()
	entries := 0
	for _, p := range s.Participants {
		entries += len(p.Timelog)
	}
	rows := make([]Row, 0, entries)
	// end_time and duration_ms of every row, allocated once rather than
	// two small allocations per closed interval.
	ends := make([]int64, 0, 2*entries)
	for _, p := range s.Participants {
		if len(p.Timelog) == 0 {
			st.ParticipantsWithoutTimelog++
			continue
		}
		for i, tl := range p.Timelog {
			if tl.Start == nil {
				st.TimelogsWithoutStart++
				continue
			}
			r := Row{
				SessionID:       s.ID,
				RoomID:          s.RoomID,
				CustomRoomID:    s.CustomRoomID,
				ParticipantID:   p.ParticipantID,
				ParticipantName: p.Name,
				TimelogIndex:    int32(i),
				StartTime:       tl.Start.UnixMicro(),
				ExtractedAt:     extractedAt,
				RunID:           m.RunID,
			}
			if tl.End != nil {
				end := tl.End.UnixMicro()
				ends = append(ends, end, DurationMS(r.StartTime, end))
				n := len(ends)
				r.EndTime = &ends[n-2]
				if end >= r.StartTime {
					r.DurationMS = &ends[n-1]
				} else {
					st.IntervalsEndBeforeStart++
				}
			}
			rows = append(rows, r)
		}
	}
	st.Rows = len(rows)
	return rows, st
}

// DurationMS is end − start in whole milliseconds, truncated toward zero
// (Rows leaves it null when end is before start),
// computed on the stored microsecond values so that a reader can recompute
// it exactly from start_time and end_time.
func DurationMS(startMicros, endMicros int64) int64 {
	return (endMicros - startMicros) / 1000
}
