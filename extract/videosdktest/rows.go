package videosdktest

import (
	"fmt"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/transform"
)

// RowKey is the key of a participant_timelogs row.
type RowKey struct {
	SessionID, ParticipantID string
	TimelogIndex             int32
}

// WantRows is the oracle of end-to-end tests: the rows table schema v1 must
// hold for these sessions, worked out from their raw strings with the
// standard library alone, not with the exporter's decoding or flattening,
// so that a bug there cannot hide in both. ExtractedAt and RunID are left
// zero: they belong to the run.
func WantRows(sessions []Session) (map[RowKey]transform.Row, error) {
	var bad error
	parse := func(raw string) int64 {
		// RFC 3339 allows lower-case t and z; Go's layout wants upper case.
		t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(raw))
		if err != nil && bad == nil {
			bad = fmt.Errorf("oracle cannot parse %q: %w", raw, err)
		}
		return t.UnixMicro()
	}
	opt := func(s string, is Presence) *string {
		if is != Present {
			return nil // null or absent in the API: NULL
		}
		return &s
	}
	want := map[RowKey]transform.Row{}
	for _, s := range sessions {
		for _, p := range s.Participants {
			if p.TimelogIs != Present {
				continue
			}
			for i, e := range p.Timelog {
				if e.StartIs != Present {
					continue // no start, no row; the others keep their index
				}
				r := transform.Row{
					SessionID: s.ID, RoomID: opt(s.RoomID, s.RoomIDIs), CustomRoomID: opt(s.CustomRoomID, s.CustomRoomIDIs),
					ParticipantID: p.ID, ParticipantName: opt(p.Name, p.NameIs), TimelogIndex: int32(i), StartTime: parse(e.Start),
				}
				if e.EndIs == Present {
					end := parse(e.End)
					r.EndTime = &end
					if end >= r.StartTime { // an end before the start has no duration
						d := (end - r.StartTime) / 1000
						r.DurationMS = &d
					}
				}
				k := RowKey{SessionID: s.ID, ParticipantID: p.ID, TimelogIndex: int32(i)}
				if _, dup := want[k]; dup {
					return nil, fmt.Errorf("simulator data holds %v twice", k)
				}
				want[k] = r
			}
		}
	}
	return want, bad
}
