package extract

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// decodePageFast decodes a participants response in one pass, when the
// body has the usual shape: valid JSON, each known key once and spelled
// exactly, values of the expected types, no error. ok is false for anything
// else (a truncated body, an error of any kind, a duplicate or
// differently-cased key, a null timelog entry, nesting over fastMaxDepth),
// and decodePageReference decides. So it only has to be right about pages
// it accepts, and then it returns what decodePageReference returns.
//
// Strings are cut from one copy of the body, and timelog entries and times
// from one slab per page: a few allocations per page, not per participant.
func decodePageFast(body []byte) (page Page, ok bool) {
	d := fastDecoder{b: body}
	if !d.page(&page) {
		return Page{}, false
	}
	return page, true
}

// fastMaxDepth bounds the nesting of skipped values; deeper bodies go to
// the reference decoder, which has its own limit.
const fastMaxDepth = 64

type fastDecoder struct {
	b   []byte
	i   int
	str string // the body as a string, made on first use: strings are cut from it

	times    []time.Time // slab for Timelog.Start and End
	timelogs []Timelog   // slab for Participant.Timelog
	strs     []string    // slab for *string fields
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (d *fastDecoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDecoder) eat(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// object calls member for each key of an object, with the decoder at the
// key's value. Keys are returned as raw bytes; a key with an escape is
// refused (ok false), as member may need its exact spelling.
func (d *fastDecoder) object(member func(key []byte) bool) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		key, escaped, ok := d.rawString()
		if !ok || escaped || !d.eat(':') {
			return false
		}
		d.ws()
		if !member(key) {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// array calls elem for each element of an array.
func (d *fastDecoder) array(elem func() bool) bool {
	if !d.eat('[') {
		return false
	}
	if d.eat(']') {
		return true
	}
	for {
		d.ws()
		if !elem() {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat(']')
	}
}

// rawString reads a string token at d.i and returns its content between
// the quotes, checking it as JSON does: no control characters, valid
// escapes.
func (d *fastDecoder) rawString() (s []byte, escaped, ok bool) {
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			j++
			if j >= len(d.b) {
				return nil, false, false
			}
			switch d.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(d.b) {
					return nil, false, false
				}
				for _, h := range d.b[j+1 : j+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				j += 4
			default:
				return nil, false, false
			}
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// stringValue reads a string value into dst as encoding/json would decode
// it into a Go string.
func (d *fastDecoder) stringValue(dst *string) bool {
	if d.peek() != '"' {
		return false
	}
	start := d.i
	raw, escaped, ok := d.rawString()
	if !ok {
		return false
	}
	if escaped || !utf8.Valid(raw) {
		// Rare: let encoding/json unescape it, or replace invalid bytes.
		// Into a local, so that dst does not escape to the heap.
		var s string
		if json.Unmarshal(d.b[start:d.i], &s) != nil {
			return false
		}
		*dst = s
		return true
	}
	if d.str == "" {
		d.str = string(d.b)
	}
	from := start + 1
	*dst = d.str[from : from+len(raw)]
	return true
}

// stringPtr reads null (nil) or a string into dst, a *string from the slab.
func (d *fastDecoder) stringPtr(dst **string) bool {
	if d.null() {
		*dst = nil
		return true
	}
	var s string
	if !d.stringValue(&s) {
		return false
	}
	if len(d.strs) == cap(d.strs) {
		d.strs = make([]string, 0, max(16, 2*cap(d.strs)))
	}
	d.strs = append(d.strs, s)
	*dst = &d.strs[len(d.strs)-1]
	return true
}

func (d *fastDecoder) null() bool {
	if d.peek() == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// intValue reads null (no change, as encoding/json leaves the field) or an
// integer without fraction or exponent that fits in an int.
func (d *fastDecoder) intValue(dst *int) bool {
	if d.null() {
		return true
	}
	j, neg := d.i, false
	if j < len(d.b) && d.b[j] == '-' {
		neg = true
		j++
	}
	start := j
	n := 0
	for ; j < len(d.b) && '0' <= d.b[j] && d.b[j] <= '9'; j++ {
		n = n*10 + int(d.b[j]-'0')
	}
	digits := j - start
	if digits == 0 || digits > 18 || digits > 1 && d.b[start] == '0' {
		return false
	}
	if j < len(d.b) {
		switch d.b[j] {
		case '.', 'e', 'E':
			return false
		}
	}
	if neg {
		n = -n
	}
	d.i = j
	*dst = n
	return true
}

// skip checks and passes over one JSON value of any kind.
func (d *fastDecoder) skip(depth int) bool {
	if depth > fastMaxDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		return d.array(func() bool { return d.skip(depth + 1) })
	case c == '"':
		_, _, ok := d.rawString()
		return ok
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return false
}

func (d *fastDecoder) literal(s string) bool {
	if bytes.HasPrefix(d.b[d.i:], []byte(s)) {
		d.i += len(s)
		return true
	}
	return false
}

// number passes over a number in JSON's grammar.
func (d *fastDecoder) number() bool {
	b, j := d.b, d.i
	digits := func() bool {
		start := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		return j > start
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	if j < len(b) && b[j] == '0' {
		j++
	} else if !digits() {
		return false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return false
		}
	}
	d.i = j
	return true
}

// once marks bit in *seen, refusing a key seen before on the same object:
// encoding/json keeps the last, and such pages go to the reference.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// foldsTo reports whether key would match one of names in encoding/json's
// case-insensitive struct-field matching. Non-ASCII keys count as matching,
// as Unicode folding (K, ſ) is for the reference to apply.
func foldsTo(key []byte, names ...string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}

func (d *fastDecoder) page(page *Page) bool {
	var seen uint8
	haveInfo, haveData := false, false
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "pageInfo":
			haveInfo = true
			return once(&seen, 1) && d.pageInfo(&page.PageInfo)
		case "data":
			haveData = true
			return once(&seen, 2) && d.data(page)
		}
		return d.skip(1)
	})
	if !ok || !haveInfo || !haveData {
		return false
	}
	d.ws()
	return d.i == len(d.b)
}

// structObject reads an object that the reference decodes into a struct
// whose fields are named names: value(i) reads the value of names[i], each
// at most once. Other keys are skipped at depth, unless encoding/json would
// match them to a field case-insensitively: those go to the reference.
func (d *fastDecoder) structObject(depth int, names []string, value func(i int) bool) bool {
	var seen uint8
	return d.object(func(key []byte) bool {
		for i, name := range names {
			if string(key) == name {
				return once(&seen, 1<<i) && value(i)
			}
		}
		return !foldsTo(key, names...) && d.skip(depth)
	})
}

var pageInfoNames = []string{"currentPage", "perPage", "lastPage", "total"}

func (d *fastDecoder) pageInfo(pi *PageInfo) bool {
	fields := [...]*int{&pi.CurrentPage, &pi.PerPage, &pi.LastPage, &pi.Total}
	return d.structObject(2, pageInfoNames, func(i int) bool { return d.intValue(fields[i]) })
}

// data reads the session object, or a one-element array of it.
func (d *fastDecoder) data(page *Page) bool {
	if d.peek() != '[' {
		return d.session(page)
	}
	n := 0
	return d.array(func() bool {
		n++
		return n == 1 && d.session(page)
	}) && n == 1
}

func (d *fastDecoder) session(page *Page) bool {
	var seen uint8
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			// null leaves the ID empty, as encoding/json does.
			return once(&seen, 1) && (d.null() || d.stringValue(&page.Session.ID))
		case "roomId":
			return once(&seen, 2) && d.stringPtr(&page.Session.RoomID)
		case "customRoomId":
			return once(&seen, 4) && d.stringPtr(&page.Session.CustomRoomID)
		case "participants":
			return once(&seen, 8) && d.participants(page)
		}
		return d.skip(2)
	})
	if ok && page.Participants == nil {
		page.Participants = make([]Participant, 0) // as the reference, for null or absent
	}
	return ok
}

func (d *fastDecoder) participants(page *Page) bool {
	if d.null() {
		return true
	}
	if d.peek() != '[' {
		return false
	}
	// A participant takes about 150 bytes of JSON: size the slabs once.
	guess := max(1, (len(d.b)-d.i)/150)
	page.Participants = make([]Participant, 0, guess)
	d.timelogs = make([]Timelog, 0, guess)
	d.times = make([]time.Time, 0, 2*guess)
	d.strs = make([]string, 0, guess)
	return d.array(func() bool {
		page.Participants = append(page.Participants, Participant{})
		return d.participant(&page.Participants[len(page.Participants)-1])
	})
}

func (d *fastDecoder) participant(p *Participant) bool {
	var seen uint8
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "participantId":
			return once(&seen, 1) && d.stringValue(&p.ParticipantID) && p.ParticipantID != ""
		case "name":
			return once(&seen, 2) && d.stringPtr(&p.Name)
		case "timelog":
			return once(&seen, 4) && d.timelog(p)
		}
		return d.skip(3)
	})
	return ok && seen&1 != 0
}

func (d *fastDecoder) timelog(p *Participant) bool {
	if d.null() {
		return true
	}
	if d.peek() != '[' {
		return false
	}
	start := len(d.timelogs)
	ok := d.array(func() bool {
		if d.peek() != '{' {
			return false // a null entry, or an error: the reference's
		}
		d.timelogs = append(d.timelogs, Timelog{})
		return d.entry(&d.timelogs[len(d.timelogs)-1])
	})
	if !ok {
		return false
	}
	// The slab may have moved while growing: slice it only now, capped so
	// that an append to one participant's timelog cannot reach the next.
	n := len(d.timelogs) - start
	if n == 0 {
		p.Timelog = []Timelog{}
		return true
	}
	p.Timelog = d.timelogs[start:len(d.timelogs):len(d.timelogs)]
	return true
}

var timelogNames = []string{"start", "end"}

func (d *fastDecoder) entry(t *Timelog) bool {
	fields := [...]**time.Time{&t.Start, &t.End}
	return d.structObject(4, timelogNames, func(i int) bool { return d.timestamp(fields[i]) })
}

func (d *fastDecoder) timestamp(dst **time.Time) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if d.peek() != '"' {
		return false
	}
	raw, escaped, ok := d.rawString()
	if !ok || escaped {
		return false
	}
	t, ok := parseMillisZ(raw)
	if !ok {
		var err error
		if t, err = ParseRFC3339(string(raw)); err != nil {
			return false
		}
	}
	if len(d.times) == cap(d.times) {
		d.times = make([]time.Time, 0, max(16, 2*cap(d.times)))
	}
	d.times = append(d.times, t)
	*dst = &d.times[len(d.times)-1]
	return true
}

// parseMillisZ parses the API's usual form, 2006-01-02T15:04:05.000Z,
// exactly as time.Parse would; anything else (other forms, a leap second,
// a day the month lacks) is left to ParseRFC3339.
func parseMillisZ(b []byte) (time.Time, bool) {
	if len(b) != 24 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, ms := num(11, 13), num(14, 16), num(17, 19), num(20, 23)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 || ms < 0 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ms*int(time.Millisecond), time.UTC), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
