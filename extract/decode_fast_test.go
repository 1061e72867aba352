package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodePageDifferential holds decodePage (the one-pass decoder with
// its fallback) to decodePageReference, the lenient rules' definition, on
// any body: the same page (participants, their fields and times, the
// session and pageInfo), error or not alike, and a *json.SyntaxError (the
// retryable kind, as for a truncated body) exactly when the reference
// gives one. It also checks that the fast path took the seeds of the usual
// shape, so that a fallback on everything cannot pass for exactness.
//
// The seeds below and in testdata/fuzz/FuzzDecodePageDifferential run with
// every go test; go test -run '^$' -fuzz FuzzDecodePageDifferential
// ./extract explores more.
func FuzzDecodePageDifferential(f *testing.F) {
	for _, seed := range fastSeeds {
		f.Add([]byte(seed))
	}
	for _, seed := range []string{
		`{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":1,"total":2},"data":{"participants":[{"participantId":"a","timelog":[{"start":"2021-10-25T05:09`,
		`{"pageInfo":{"currentPage":1,"Total":3,"total":2},"data":{"participants":[]}}`,
		`{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","timelog":[null,{"START":"2021-10-25T05:09:58.934Z"}]}]}}`,
		`{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","participantId":"b"}]}}`,
		`{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a\u00e9","name":"\ud83d\ude00 \"x\"","timelog":[{"start":"2021-02-29T05:09:58.934Z"}]}]}}`,
		`{"pageInfo":{"currentPage":1.0},"data":{"participants":[]}}`,
		`{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","name":"bad\xffutf8"}]}}`,
		`{"pageInfo":{"currentPage":1},"data":{"participants":[],"x":[01]}}`,
		`{"pageInfo":{"currentPage":1},"d\u0061ta":{"participants":[{"participantId":"a"}]},"data":{"participants":[]}}`,
		`{"pageInfo":{"currentPage":1},"data":{"participants":[{"participantId":"a","timelog":[{"start":"2021-10-25t05:09:58.934z","end":"2021-10-25T05:09:58.934+05:30"}]}]}} `,
		`{"pageInfo":{"currentPage":99999999999999999999},"data":{"participants":[]}}`,
		` {"pageInfo":{"currentPage":-0},"data":[{"participants":[{"participantId":"a","timelog":[]}]}]}` + "\n",
		`{"pageInfo":{},"data":{"participants":[{"participantId":"a","timelog":[{"start":"2021-10-25T05:09:58.934Z","end":"2021-10-25T24:09:58.934Z"}]}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := decodePage(body)
		want, wantErr := decodePageReference(body)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decodePage error %v, reference error %v", gotErr, wantErr)
		}
		var syntax *json.SyntaxError
		if errors.As(gotErr, &syntax) != errors.As(wantErr, &syntax) {
			t.Fatalf("decodePage error %v, reference error %v: not both syntax errors", gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodePage and the reference differ:\n%s\n%s", dumpPage(got), dumpPage(want))
		}
	})
}

// fastSeeds are bodies of the usual shape: the fast path must take them.
var fastSeeds = []string{
	`{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":1,"total":2},"data":{"id":"s","participants":[{"participantId":"a","name":"x","timelog":[{"start":"2021-10-25T05:09:58.934Z","end":null}]},{"participantId":"b"}]}}`,
	`{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":{"participants":null}}`,
	`{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":[{"id":"s"}]}`,
	`{"pageInfo":{},"data":{"participants":[{"participantId":"a","timelog":[{"start":"2016-12-31T23:59:60Z"}]}]}}`,
	`{"pageInfo":{"currentPage":2,"perPage":100,"lastPage":3,"total":250},"status":"ok","data":{"id":"6176","roomId":"abc-xyzw-lmno","customRoomId":null,"region":"in002","links":{"get_room":"https://x/y?z=1"},"participants":[` +
		`{"participantId":"p1","name":"Zoë 会议","metadata":{"k":[1,-2.5e3,true,false,null,"\n"]},"timelog":[{"start":"2021-10-25T05:09:58.934Z","end":"2021-10-25T06:09:58.934Z"},{"start":"2021-10-25T07:00:00+02:00"}]},` +
		`{"participantId":"p2","name":"","timelog":[]},{"participantId":"p3","name":null,"timelog":null}]}}`,
}

// TestFastPathTakesTheUsualShape: the differential test above would pass
// if the fast path refused everything; this one says it does not.
func TestFastPathTakesTheUsualShape(t *testing.T) {
	for i, seed := range fastSeeds {
		if _, ok := decodePageFast([]byte(seed)); !ok {
			t.Errorf("seed %d: the fast path refused a body of the usual shape:\n%s", i, seed)
		}
	}
}

func dumpPage(p Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pageInfo %+v session %q", p.PageInfo, p.Session.ID)
	for _, s := range []*string{p.Session.RoomID, p.Session.CustomRoomID} {
		if s != nil {
			fmt.Fprintf(&b, " %q", *s)
		} else {
			b.WriteString(" nil")
		}
	}
	fmt.Fprintf(&b, " participants (nil %t):", p.Participants == nil)
	for _, pt := range p.Participants {
		fmt.Fprintf(&b, "\n  %q", pt.ParticipantID)
		if pt.Name != nil {
			fmt.Fprintf(&b, " name %q", *pt.Name)
		}
		fmt.Fprintf(&b, " timelog (nil %t)", pt.Timelog == nil)
		for _, tl := range pt.Timelog {
			fmt.Fprintf(&b, " [%v %v]", tl.Start, tl.End)
		}
	}
	return b.String()
}

func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 3000)
	tests := []struct {
		name        string
		size, limit int64
		buf         []byte
		want        int
	}{
		{"known size", 3000, 1 << 20, nil, 3000},
		{"unknown size", -1, 1 << 20, nil, 3000},
		{"pooled buffer too small", 3000, 1 << 20, make([]byte, 10, 100), 3000},
		{"pooled buffer big enough", -1, 1 << 20, make([]byte, 0, 5000), 3000},
		{"over the limit", 3000, 1000, nil, 1001},
		{"over the limit, size unknown", -1, 1000, nil, 1001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(body), tt.size, tt.limit, tt.buf)
			if err != nil || len(got) != tt.want || string(got) != body[:tt.want] {
				t.Fatalf("read %d bytes, err %v; want %d", len(got), err, tt.want)
			}
		})
	}
}
