package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract"
)

func ptr[T any](v T) *T { return &v }

// micros parses an RFC 3339 time the slow, obvious way, for expectations.
func micros(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC().UnixMicro()
}

// participants decodes API JSON, so the tests go through the same decoding
// the client uses.
func participants(t *testing.T, js string) []extract.Participant {
	t.Helper()
	var ps []extract.Participant
	if err := json.Unmarshal([]byte(js), &ps); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return ps
}

func TestRows(t *testing.T) {
	extractedAt := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)
	meta := Meta{ExtractedAt: extractedAt, RunID: "run-1"}
	at := extractedAt.UnixMicro() // sub-microsecond digits truncated

	tests := []struct {
		name      string
		session   extract.Session
		want      []Row
		wantStats Stats
	}{
		{
			name:      "empty session",
			session:   extract.Session{ID: "s0"},
			want:      []Row{},
			wantStats: Stats{},
		},
		{
			name: "closed and open intervals",
			session: extract.Session{ID: "s1", RoomID: ptr("abc-xyzw-lmno"), CustomRoomID: ptr("testing-room"),
				Participants: participants(t, `[
				{"participantId":"a1","name":"Demo-1","timelog":[
					{"start":"2021-10-25T05:09:58.934Z","end":"2021-10-25T05:28:45.002Z"},
					{"start":"2021-10-25T06:00:00.000Z","end":null}]}]`)},
			want: []Row{
				{SessionID: "s1", RoomID: ptr("abc-xyzw-lmno"), CustomRoomID: ptr("testing-room"), ParticipantID: "a1",
					ParticipantName: ptr("Demo-1"), TimelogIndex: 0,
					StartTime: micros(t, "2021-10-25T05:09:58.934Z"), EndTime: ptr(micros(t, "2021-10-25T05:28:45.002Z")),
					DurationMS: ptr(int64(1126068)), ExtractedAt: at, RunID: "run-1"},
				{SessionID: "s1", RoomID: ptr("abc-xyzw-lmno"), CustomRoomID: ptr("testing-room"), ParticipantID: "a1",
					ParticipantName: ptr("Demo-1"), TimelogIndex: 1,
					StartTime: micros(t, "2021-10-25T06:00:00Z"), ExtractedAt: at, RunID: "run-1"},
			},
			wantStats: Stats{Rows: 2, Participants: 1},
		},
		{
			name: "offsets, no fraction, nanoseconds and lower-case z all land in UTC micros",
			session: extract.Session{ID: "s2", Participants: participants(t, `[
				{"participantId":"p","name":"","timelog":[
					{"start":"2021-10-25T07:09:58+02:00","end":"2021-10-25T05:10:00Z"},
					{"start":"2021-10-24T23:00:00.123456789-06:30","end":"2021-10-25t05:30:00.5z"}]}]`)},
			want: []Row{
				{SessionID: "s2", ParticipantID: "p", ParticipantName: ptr(""), TimelogIndex: 0,
					StartTime: micros(t, "2021-10-25T05:09:58Z"), EndTime: ptr(micros(t, "2021-10-25T05:10:00Z")),
					DurationMS: ptr(int64(2000)), ExtractedAt: at, RunID: "run-1"},
				{SessionID: "s2", ParticipantID: "p", ParticipantName: ptr(""), TimelogIndex: 1,
					StartTime: micros(t, "2021-10-25T05:30:00.123456Z"), EndTime: ptr(micros(t, "2021-10-25T05:30:00.5Z")),
					DurationMS: ptr(int64(376)), ExtractedAt: at, RunID: "run-1"},
			},
			wantStats: Stats{Rows: 2, Participants: 1},
		},
		{
			name: "absent, null and unicode names; no timelog; entry without start",
			session: extract.Session{ID: "s3", Participants: participants(t, `[
				{"participantId":"n1","timelog":[{"start":"2021-10-25T05:00:00Z"}]},
				{"participantId":"n2","name":null,"timelog":[{"start":"2021-10-25T05:00:00Z","end":"2021-10-25T05:00:00.001Z"}]},
				{"participantId":"n3","name":"Zoë 李 👩‍💻 مرحبا"},
				{"participantId":"n4","name":"x","timelog":null},
				{"participantId":"n5","name":"y","timelog":[]},
				{"participantId":"n6","name":"z","timelog":[{"end":"2021-10-25T05:00:00Z"},{"start":"2021-10-25T05:01:00Z"}],
				 "metadata":{"x":1},"status":"ongoing"}]`)},
			want: []Row{
				{SessionID: "s3", ParticipantID: "n1", TimelogIndex: 0, StartTime: micros(t, "2021-10-25T05:00:00Z"),
					ExtractedAt: at, RunID: "run-1"},
				{SessionID: "s3", ParticipantID: "n2", TimelogIndex: 0, StartTime: micros(t, "2021-10-25T05:00:00Z"),
					EndTime: ptr(micros(t, "2021-10-25T05:00:00.001Z")), DurationMS: ptr(int64(1)), ExtractedAt: at, RunID: "run-1"},
				{SessionID: "s3", ParticipantID: "n6", ParticipantName: ptr("z"), TimelogIndex: 1,
					StartTime: micros(t, "2021-10-25T05:01:00Z"), ExtractedAt: at, RunID: "run-1"},
			},
			wantStats: Stats{Rows: 3, Participants: 6, ParticipantsWithoutTimelog: 3, TimelogsWithoutStart: 1},
		},
		{
			name: "an end before the start keeps both times, no duration, and is counted",
			session: extract.Session{ID: "s5", Participants: participants(t, `[
				{"participantId":"b","timelog":[{"start":"2021-10-25T05:00:00.0025Z","end":"2021-10-25T05:00:00Z"},
					{"start":"2021-10-25T06:00:00Z","end":"2021-10-25T06:00:00Z"}]}]`)},
			want: []Row{
				{SessionID: "s5", ParticipantID: "b", TimelogIndex: 0, StartTime: micros(t, "2021-10-25T05:00:00.0025Z"),
					EndTime: ptr(micros(t, "2021-10-25T05:00:00Z")), ExtractedAt: at, RunID: "run-1"},
				{SessionID: "s5", ParticipantID: "b", TimelogIndex: 1, StartTime: micros(t, "2021-10-25T06:00:00Z"),
					EndTime: ptr(micros(t, "2021-10-25T06:00:00Z")), DurationMS: ptr(int64(0)), ExtractedAt: at, RunID: "run-1"},
			},
			wantStats: Stats{Rows: 2, Participants: 1, IntervalsEndBeforeStart: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := Rows(tt.session, meta)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows:\n got %s\nwant %s", dump(got), dump(tt.want))
			}
			if st != tt.wantStats {
				t.Errorf("stats = %+v, want %+v", st, tt.wantStats)
			}
		})
	}
}

func TestTimelogRejectsWhatIsNotRFC3339(t *testing.T) {
	for _, js := range []string{
		`{"start":"2021-10-25 05:09:58"}`,
		`{"start":"25/10/2021"}`,
		`{"start":1635138598}`,
		`{"start":"2021-10-25T05:09:58.934Z","end":"yesterday"}`,
	} {
		var tl extract.Timelog
		if err := json.Unmarshal([]byte(js), &tl); err == nil {
			t.Errorf("%s decoded without error to %+v", js, tl)
		}
	}
}

func TestStatsAdd(t *testing.T) {
	s := Stats{Rows: 1, Participants: 2, ParticipantsWithoutTimelog: 3, TimelogsWithoutStart: 4}
	s.Add(Stats{Rows: 10, Participants: 20, ParticipantsWithoutTimelog: 30, TimelogsWithoutStart: 40})
	want := Stats{Rows: 11, Participants: 22, ParticipantsWithoutTimelog: 33, TimelogsWithoutStart: 44}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}

func dump(rows []Row) string {
	b, _ := json.MarshalIndent(rows, "", " ")
	return string(b)
}

// BenchmarkRows flattens a session of 1000 participants with three
// intervals each, the last one open.
func BenchmarkRows(b *testing.B) {
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	s := extract.Session{ID: "6176c2597b0c743cf454204", RoomID: ptr("abc-xyzw-lmno")}
	for i := range 1000 {
		p := extract.Participant{ParticipantID: fmt.Sprintf("p%04d", i), Name: ptr("Demo participant")}
		for k := range 3 {
			start := base.Add(time.Duration(i*10+k) * time.Second)
			tl := extract.Timelog{Start: &start}
			if k < 2 {
				end := start.Add(time.Minute)
				tl.End = &end
			}
			p.Timelog = append(p.Timelog, tl)
		}
		s.Participants = append(s.Participants, p)
	}
	m := Meta{ExtractedAt: base, RunID: "run"}
	b.ReportAllocs()
	for b.Loop() {
		Rows(s, m)
	}
	b.ReportMetric(float64(b.N*3000)/b.Elapsed().Seconds(), "rows/s")
}
