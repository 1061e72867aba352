package extract

import (
	"strings"
	"testing"
	"time"
)

func TestDecodePage(t *testing.T) {
	const page1 = `{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":1,"total":2},"status":"x",
		"data":{"id":"s1","roomId":"r","participants":[
			{"participantId":"a","name":"Zoë","timelog":[{"start":"2021-10-25T05:09:58.934Z","end":null}],"metadata":{"k":1}},
			{"participantId":"b","name":null,"timelog":[{"start":"2021-10-25T07:09:58+02:00"}]}],
			"links":{"get_room":"x"},"region":"in002"}}`
	tests := []struct {
		name    string
		body    string
		wantErr string // substring; "" = no error
		check   func(t *testing.T, p Page)
	}{
		{name: "object", body: page1, check: func(t *testing.T, p Page) {
			if p.Session.ID != "s1" || *p.Session.RoomID != "r" || p.Session.CustomRoomID != nil {
				t.Errorf("session info = %+v", p.Session)
			}
			if len(p.Participants) != 2 || *p.Participants[0].Name != "Zoë" || p.Participants[1].Name != nil {
				t.Errorf("participants = %+v", p.Participants)
			}
			want := time.Date(2021, 10, 25, 5, 9, 58, 0, time.UTC)
			if got := *p.Participants[1].Timelog[0].Start; !got.Equal(want) {
				t.Errorf("offset start = %v, want %v", got, want)
			}
			if p.Participants[0].Timelog[0].End != nil || p.Participants[1].Timelog[0].End != nil {
				t.Error("null and absent end should both be nil")
			}
		}},
		{name: "one-element array", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":1,"total":1},
			"data":[{"id":"s1","participants":[{"participantId":"a"}]}]}`, check: func(t *testing.T, p Page) {
			if len(p.Participants) != 1 || p.Participants[0].Timelog != nil || p.Participants[0].Name != nil {
				t.Errorf("participants = %+v", p.Participants)
			}
		}},
		{name: "empty session", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":{"participants":[]}}`},
		{name: "empty array", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":1,"total":1},"data":[]}`, wantErr: "array of 0 elements"},
		{name: "two-element array", body: `{"pageInfo":{"currentPage":1},"data":[{"participants":[]},{"participants":[]}]}`, wantErr: "array of 2 elements"},
		{name: "no pageInfo", body: `{"data":{"participants":[]}}`, wantErr: "pageInfo missing"},
		{name: "no data", body: `{"pageInfo":{"currentPage":1}}`, wantErr: "data missing"},
		{name: "null data", body: `{"pageInfo":{"currentPage":1},"data":null}`, wantErr: "data missing"},
		{name: "participants absent", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":{"id":"s"}}`, check: func(t *testing.T, p Page) {
			if len(p.Participants) != 0 || p.Session.ID != "s" {
				t.Errorf("page = %+v, want an empty session s", p)
			}
		}},
		{name: "participants null", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":{"participants":null,"roomId":null,"customRoomId":""}}`, check: func(t *testing.T, p Page) {
			if len(p.Participants) != 0 || p.Session.RoomID != nil || p.Session.CustomRoomID == nil || *p.Session.CustomRoomID != "" {
				t.Errorf("page = %+v, want no participants, roomId nil, customRoomId empty", p)
			}
		}},
		{name: "case of keys matters", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":1,"total":1},"data":{"participants":[{"participantId":"a","ParticipantId":"b"}],"Participants":[{"participantId":"c"}]}}`, check: func(t *testing.T, p Page) {
			if len(p.Participants) != 1 || p.Participants[0].ParticipantID != "a" {
				t.Errorf("participants = %+v, want only a", p.Participants)
			}
		}},
		{name: "participants not an array", body: `{"pageInfo":{"currentPage":1},"data":{"participants":{"a":1}}}`, wantErr: "data.participants: want an array"},
		{name: "participant null", body: `{"pageInfo":{"currentPage":1},"data":{"participants":[null]}}`, wantErr: "participants[0]: want an object"},
		{name: "data a string", body: `{"pageInfo":{"currentPage":1},"data":"x"}`, wantErr: "data: want the session object"},
		{name: "roomId a number", body: `{"pageInfo":{"currentPage":1},"data":{"roomId":1,"participants":[]}}`, wantErr: "data.roomId"},
		{name: "leap second", body: `{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":1,"total":1},"data":{"participants":[{"participantId":"a","timelog":[{"start":"2016-12-31T23:59:60Z","end":"2016-12-31T23:59:60.5+00:00"}]}]}}`, check: func(t *testing.T, p Page) {
			tl := p.Participants[0].Timelog[0]
			if want := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC); !tl.Start.Equal(want) {
				t.Errorf("start %v, want %v", tl.Start, want)
			}
			if want := time.Date(2017, 1, 1, 0, 0, 0, 5e8, time.UTC); !tl.End.Equal(want) {
				t.Errorf("end %v, want %v", tl.End, want)
			}
		}},
		{name: "participantId missing", body: `{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a"},{"name":"x"}]}}`, wantErr: "participants[1]: participantId missing"},
		{name: "participantId empty", body: `{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":""}]}}`, wantErr: "participants[0]: participantId missing"},
		{name: "bad timestamp", body: `{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","timelog":[{"start":"yesterday"}]}]}}`, wantErr: "participants[0]: timelog start"},
		{name: "timestamp not a string", body: `{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","timelog":[{"start":12}]}]}}`, wantErr: "timelog start"},
		{name: "name a number", body: `{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","name":3}]}}`, wantErr: "participants[0]"},
		{name: "pageInfo a string", body: `{"pageInfo":"1","data":{"participants":[]}}`, wantErr: "pageInfo:"},
		{name: "top level an array", body: `[1]`, wantErr: "response:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodePage([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("decodePage: %v", err)
				}
				if tt.check != nil {
					tt.check(t, p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckPage(t *testing.T) {
	page := func(cur, per, last, total, n int, id string) Page {
		p := Page{PageInfo: PageInfo{CurrentPage: cur, PerPage: per, LastPage: last, Total: total}, Session: SessionInfo{ID: id}}
		p.Participants = make([]Participant, n)
		return p
	}
	tests := []struct {
		name    string
		p       Page
		page    int
		perPage int
		wantErr string
	}{
		{"fine", page(2, 50, 3, 120, 50, "s"), 2, 50, ""},
		{"no id in data is fine", page(1, 50, 1, 3, 3, ""), 1, 0, ""},
		{"empty, lastPage 0", page(1, 50, 0, 0, 0, "s"), 1, 0, ""},
		{"empty, lastPage 1", page(1, 50, 1, 0, 0, "s"), 1, 0, ""},
		{"wrong page", page(1, 50, 3, 120, 50, "s"), 2, 50, "answered as page 1"},
		{"other session", page(2, 50, 3, 120, 50, "t"), 2, 50, `belongs to session "t"`},
		{"perPage zero", page(1, 0, 3, 120, 0, "s"), 1, 0, "perPage is 0"},
		{"perPage changed", page(2, 20, 6, 120, 20, "s"), 2, 50, "page 1 said 50"},
		{"negative total", page(1, 50, 0, -1, 0, "s"), 1, 0, "total -1"},
		{"lastPage off", page(1, 50, 7, 120, 50, "s"), 1, 0, "does not fit"},
		{"too many participants", page(1, 50, 3, 120, 51, "s"), 1, 0, "51 participants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPage(tt.p, "s", tt.page, tt.perPage)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMergeKeepsTheMoreCompleteCopy(t *testing.T) {
	ts := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	open := Timelog{Start: &ts}
	closed := Timelog{Start: &ts, End: &ts}
	name := func(s string) *string { return &s }
	pages := map[int]Page{
		1: {Participants: []Participant{
			{ParticipantID: "a", Name: name("first"), Timelog: []Timelog{open}},
			{ParticipantID: "b", Name: name("first"), Timelog: []Timelog{open}},
			{ParticipantID: "c", Name: name("first"), Timelog: []Timelog{closed}},
		}},
		2: {Participants: []Participant{
			{ParticipantID: "b", Name: name("more entries"), Timelog: []Timelog{closed, open}},
			{ParticipantID: "a", Name: name("ended"), Timelog: []Timelog{closed}},
			{ParticipantID: "c", Name: name("tie"), Timelog: []Timelog{closed}},
			{ParticipantID: "d", Name: name("new")},
		}},
	}
	s := merge("s", pages, 2)
	var got []string
	for _, p := range s.Participants {
		got = append(got, p.ParticipantID+"="+*p.Name)
	}
	want := "a=ended b=more entries c=first d=new"
	if strings.Join(got, " ") != want {
		t.Errorf("merged %v, want %s", got, want)
	}
}
