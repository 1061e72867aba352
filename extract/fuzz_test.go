package extract

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// FuzzDecodePage holds decodePage to three promises whatever the body: it
// does not panic; a body that is not JSON, and only such a body, is a
// *json.SyntaxError (the retryable kind); and a page it accepts lists
// exactly the participants the body holds, in order, none invented and none
// dropped. The judge is an independent generic decode.
//
// The seeds in testdata/fuzz/FuzzDecodePage and below run with every
// go test; go test -run '^$' -fuzz FuzzDecodePage ./extract explores more.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":1,"total":2},"data":{"id":"s","participants":[{"participantId":"a","name":"x","timelog":[{"start":"2021-10-25T05:09:58.934Z","end":null}]},{"participantId":"b"}]}}`,
		`{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":{"participants":null}}`,
		`{"pageInfo":{"currentPage":1,"perPage":20,"lastPage":0,"total":0},"data":[{"id":"s"}]}`,
		`{"pageInfo":{},"data":{"participants":[{"participantId":"a"},{"participantId":"a"}],"Participants":[{"participantId":"z"}]}}`,
		`{"pageInfo":{},"data":{"participants":[{"participantId":"a","timelog":[{"start":"2016-12-31T23:59:60Z"}]}]}}`,
		`{"pageInfo":{},"data":{"participants":[{"participantId":"a"}]}`,
		`<html>502</html>`,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := decodePage(body)
		var syntax *json.SyntaxError
		if isSyntax := errors.As(err, &syntax); isSyntax == json.Valid(body) {
			t.Fatalf("json.Valid = %v but decodePage error %v (syntax error: %v)", json.Valid(body), err, isSyntax)
		}
		if err != nil {
			return
		}
		want, ok := participantIDs(body)
		if !ok {
			t.Fatalf("decodePage accepted a body whose participants cannot be found: %d participants", len(page.Participants))
		}
		var got []string
		for _, p := range page.Participants {
			got = append(got, p.ParticipantID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("decodePage listed %q, the body holds %q", got, want)
		}
	})
}

// participantIDs is the judge: the participantId of every element of
// data.participants (data an object or a one-element array), found with a
// generic decode. ok is false when the body has no such list or an element
// without a non-empty string participantId.
func participantIDs(body []byte) (ids []string, ok bool) {
	var top map[string]any
	if json.Unmarshal(body, &top) != nil {
		return nil, false
	}
	data := top["data"]
	if arr, isArr := data.([]any); isArr {
		if len(arr) != 1 {
			return nil, false
		}
		data = arr[0]
	}
	session, isObj := data.(map[string]any)
	if !isObj {
		return nil, false
	}
	list, isList := session["participants"].([]any)
	if !isList && session["participants"] != nil {
		return nil, false
	}
	for _, e := range list {
		p, isObj := e.(map[string]any)
		if !isObj {
			return nil, false
		}
		id, isStr := p["participantId"].(string)
		if !isStr || id == "" {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
