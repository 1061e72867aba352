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
	// DuplicateKeys counts entries dropped because their key was already
	// emitted (a participant listed twice).
	DuplicateKeys int `json:"duplicate_keys"`
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
	s.DuplicateKeys += o.DuplicateKeys
	s.IntervalsEndBeforeStart += o.IntervalsEndBeforeStart
}

type rowKey struct {
	participantID string
	index         int32
}

// Rows flattens a session into one Row per timelog entry, in the order the
// session lists its participants and their timelogs.
func Rows(s extract.Session, m Meta) ([]Row, Stats) {
	var st Stats
	extractedAt := m.ExtractedAt.UnixMicro()
	seen := make(map[rowKey]struct{}, len(s.Participants))
	rows := make([]Row, 0, len(s.Participants))
	for _, p := range s.Participants {
		st.Participants++
		if len(p.Timelog) == 0 {
			st.ParticipantsWithoutTimelog++
			continue
		}
		for i, tl := range p.Timelog {
			if tl.Start == nil {
				st.TimelogsWithoutStart++
				continue
			}
			k := rowKey{p.ParticipantID, int32(i)}
			if _, dup := seen[k]; dup {
				st.DuplicateKeys++
				continue
			}
			seen[k] = struct{}{}
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
				r.EndTime = &end
				if end >= r.StartTime {
					d := DurationMS(r.StartTime, end)
					r.DurationMS = &d
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
