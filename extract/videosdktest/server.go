package videosdktest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	Sessions []Session
	// Secret verifies HS256 tokens. APIKey, when set, must match the
	// token's apikey claim. StaticToken, when set, is accepted as is.
	Secret      []byte
	APIKey      string
	StaticToken string

	DefaultPerPage int           // when perPage is not given; default 20
	MaxPerPage     int           // perPage is capped to this; default 50
	Latency        time.Duration // added to every request
	// RateLimit, in requests/s, answers 429 beyond it, with a Retry-After
	// in the form RateLimitRetryAfter says; RateBurst defaults to a tenth
	// of a second's worth, at least 1.
	RateLimit           float64
	RateBurst           int
	RateLimitRetryAfter RetryAfterForm
	Faults              Faults

	// TokenMaxAge, when set, refuses (401) a token once this long has passed
	// since the server first accepted it: a server-side validity shorter
	// than the token's exp. Counting from first use rather than from iat
	// keeps a client that backdates iat for clock skew from being refused
	// at once.
	TokenMaxAge time.Duration
	// NeverAnswer accepts every connection and request and never answers
	// (until the client gives up or the server is closed).
	NeverAnswer bool
	List        ListOptions // the session list, GET /v2/sessions/
	// InMemory serves over in-memory connections (net.Pipe), which only
	// Client reaches, instead of on 127.0.0.1. Every wait between client
	// and server is then on a channel or a timer, so that a test can run
	// both in a testing/synctest bubble, where backoff, pacing,
	// Retry-After, timeouts and the server's latency and rate limit all
	// run on the bubble's fake clock, take no real time, and measure
	// exactly. Make and close such a server inside the bubble.
	InMemory bool
}

// RetryAfterForm is how a rate-limited answer says when to come back.
type RetryAfterForm uint8

const (
	RetryAfterSeconds RetryAfterForm = iota // whole seconds, rounded up, at least 1
	RetryAfterDate                          // an HTTP date (whole seconds, so often already past)
	RetryAfterNone                          // no Retry-After header
)

// Server is a simulated VideoSDK participants API on 127.0.0.1, or in
// memory (Options.InMemory).
type Server struct {
	opts    Options
	url     string
	client  *http.Client // nil on a socket
	close   func()
	limiter *rate.Limiter

	mu       sync.Mutex
	sessions []Session
	byID     map[string]int
	streak   map[string]int // faults in a row per session page
	rnd      *rand.Rand
	served   map[Fault]int
	// firstSeen is when each token was first accepted, for TokenMaxAge.
	firstSeen map[string]time.Time

	inFlight, maxInFlight, requests, rateLimited, tokensAged atomic.Int64
	list                                                     listState

	urisMu sync.Mutex
	uris   []string
}

// maxURIsKept bounds RequestURIs for long demo runs.
const maxURIsKept = 1 << 20

// NewServer starts a Server on 127.0.0.1 (or in memory) serving a copy of
// opts.Sessions, whose IDs must be distinct (it panics otherwise). Close
// it.
func NewServer(opts Options) *Server {
	s := newServer(opts)
	if opts.InMemory {
		s.serveInMemory()
		return s
	}
	ts := httptest.NewServer(s)
	s.url = ts.URL
	s.close = func() {
		ts.CloseClientConnections()
		ts.Close()
	}
	return s
}

func newServer(opts Options) *Server {
	if opts.DefaultPerPage <= 0 {
		opts.DefaultPerPage = 20
	}
	if opts.MaxPerPage <= 0 {
		opts.MaxPerPage = 50
	}
	opts.Faults = opts.Faults.withDefaults()
	s := &Server{
		opts:      opts,
		sessions:  make([]Session, 0, len(opts.Sessions)),
		byID:      make(map[string]int, len(opts.Sessions)),
		streak:    make(map[string]int),
		rnd:       rand.New(rand.NewPCG(uint64(opts.Faults.Seed), 0x5eed)),
		served:    make(map[Fault]int),
		firstSeen: make(map[string]time.Time),
	}
	for _, sess := range opts.Sessions {
		if _, dup := s.byID[sess.ID]; dup {
			panic("videosdktest: duplicate session ID " + strconv.Quote(sess.ID))
		}
		s.byID[sess.ID] = len(s.sessions)
		s.sessions = append(s.sessions, sess.clone())
	}
	if opts.RateLimit > 0 {
		burst := opts.RateBurst
		if burst <= 0 {
			burst = max(1, int(opts.RateLimit/10))
		}
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), burst)
	}
	return s
}

// URL is the base URL to give the client.
func (s *Server) URL() string { return s.url }

// Client is the HTTP client that reaches a server in memory, and nil for
// one on a socket, which any client reaches at URL.
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the server down, ending stalled responses.
func (s *Server) Close() { s.close() }

// MaxInFlight is the most requests the server has handled at once.
func (s *Server) MaxInFlight() int { return int(s.maxInFlight.Load()) }

// Requests counts every request received, faulted ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// RateLimited counts requests answered 429 by the server-side rate limit
// (not by fault mode).
func (s *Server) RateLimited() int64 { return s.rateLimited.Load() }

// TokensAged counts requests refused because their token had outlived
// TokenMaxAge.
func (s *Server) TokensAged() int64 { return s.tokensAged.Load() }

// FaultsServed counts the faults served, by kind.
func (s *Server) FaultsServed() map[Fault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Fault]int, len(s.served))
	for k, v := range s.served {
		out[k] = v
	}
	return out
}

// RequestURIs returns the raw request URIs received, in order of arrival.
func (s *Server) RequestURIs() []string {
	s.urisMu.Lock()
	defer s.urisMu.Unlock()
	return slices.Clone(s.uris)
}

// Snapshot returns a deep copy of the sessions as they stand now, after
// any live growth, in the order they were given.
func (s *Server) Snapshot() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, len(s.sessions))
	for i, sess := range s.sessions {
		out[i] = sess.clone()
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	n := s.inFlight.Add(1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	var leave sync.Once
	done := func() { leave.Do(func() { s.inFlight.Add(-1) }) }
	defer done()
	s.urisMu.Lock()
	if len(s.uris) < maxURIsKept {
		s.uris = append(s.uris, r.RequestURI)
	}
	s.urisMu.Unlock()

	if s.opts.NeverAnswer {
		<-r.Context().Done()
		return
	}
	if s.opts.Latency > 0 && !wait(r, s.opts.Latency) {
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	id, ok := sessionFromPath(r.RequestURI)
	list := isListPath(r.RequestURI)
	if list {
		s.list.requests.Add(1)
	}
	if !ok && !list {
		writeError(w, http.StatusNotFound, "no such route")
		return
	}
	page, perPage, err := s.paging(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	key := id + "\x00" + strconv.Itoa(page)
	fault := s.pickFault(key)
	if fault.failsAlone() {
		s.serveFault(w, r, fault, nil, done)
		return
	}
	if fault == FaultLatency && !wait(r, s.randDuration(s.opts.Faults.Latency)) {
		return
	}
	if s.limiter != nil && !s.limiter.Allow() {
		s.rateLimited.Add(1)
		res := s.limiter.Reserve()
		delay := res.Delay()
		res.Cancel()
		switch s.opts.RateLimitRetryAfter {
		case RetryAfterSeconds:
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(delay.Seconds())))))
		case RetryAfterDate:
			w.Header().Set("Retry-After", time.Now().Add(delay).UTC().Format(http.TimeFormat))
		}
		writeError(w, http.StatusTooManyRequests, "rate limit exceeded")
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		writeError(w, http.StatusUnauthorized, "invalid or expired token")
		return
	}
	// A fault that breaks the body still needs one; it is not a visit that
	// grows a live session.
	status, body := s.respond(list, r.URL.Query(), id, page, perPage, fault == 0 || fault == FaultLatency)
	if fault != 0 && fault != FaultLatency && status == http.StatusOK {
		s.serveFault(w, r, fault, body, done)
		return
	}
	if status == http.StatusOK {
		s.mu.Lock()
		delete(s.streak, key)
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// Out of the in-flight gauge before the client can have the answer: a
	// body larger than the connection's buffer goes out during Write, and
	// the client's next request may arrive before this handler returns.
	done()
	w.WriteHeader(status)
	w.Write(body)
}

// sessionFromPath takes the session ID from /v2/sessions/{id}/participants,
// reading the raw URI: the ID must be one escaped segment.
func sessionFromPath(requestURI string) (string, bool) {
	path, _, _ := strings.Cut(requestURI, "?")
	const prefix, suffix = "/v2/sessions/", "/participants"
	if !strings.HasPrefix(path, prefix) || !strings.HasSuffix(path, suffix) || len(path) <= len(prefix)+len(suffix) {
		return "", false
	}
	seg := path[len(prefix) : len(path)-len(suffix)]
	// A real front end resolves dot segments before routing.
	if strings.Contains(seg, "/") || seg == "." || seg == ".." {
		return "", false
	}
	id, err := url.PathUnescape(seg)
	return id, err == nil && id != ""
}

func (s *Server) paging(q url.Values) (page, perPage int, err error) {
	page, perPage = 1, s.opts.DefaultPerPage
	for name, v := range map[string]*int{"page": &page, "perPage": &perPage} {
		switch vals := q[name]; len(vals) {
		case 0:
		case 1:
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 {
				return 0, 0, fmt.Errorf("%s must be a positive integer", name)
			}
			*v = n
		default:
			return 0, 0, fmt.Errorf("%s given %d times", name, len(vals))
		}
	}
	return page, min(perPage, s.opts.MaxPerPage), nil
}

func (s *Server) authorized(token string) bool {
	if token == "" {
		return false
	}
	if s.opts.StaticToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.StaticToken)) == 1 {
		return true
	}
	if len(s.opts.Secret) == 0 {
		return false
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.opts.Secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return false
	}
	if s.opts.APIKey != "" && claims["apikey"] != s.opts.APIKey {
		return false
	}
	roles, _ := claims["roles"].([]any)
	if !slices.Contains(roles, any("crawler")) {
		return false
	}
	if s.opts.TokenMaxAge > 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		first, seen := s.firstSeen[token]
		if !seen {
			s.firstSeen[token] = time.Now()
		} else if time.Since(first) > s.opts.TokenMaxAge {
			s.tokensAged.Add(1)
			return false
		}
	}
	return true
}

// render answers one page request, growing a live session first when grow
// is set.
func (s *Server) render(id string, page, perPage int, grow bool) (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return errorBody(http.StatusNotFound, "session not found")
	}
	sess := &s.sessions[i]
	if body, ok := sess.Override[page]; ok {
		return http.StatusOK, []byte(body)
	}
	if grow {
		sess.grow()
	}
	total := len(sess.Participants)
	var parts []Participant
	if sess.Endless {
		total = (page + 1) * perPage
		for j := range perPage {
			parts = append(parts, Participant{ID: fmt.Sprintf("endless-%d-%d", page, j), NameIs: Absent, TimelogIs: Absent})
		}
	} else if from := (page - 1) * perPage; from < total {
		parts = sess.Participants[from:min(total, from+perPage)]
	}
	// Written by hand, keys in the order encoding/json gives a map's: the
	// simulator is most of what a test run spends its CPU on, and maps
	// through encoding/json cost five times as much.
	b := make([]byte, 0, 256+200*len(parts))
	b = append(b, `{"apiVersion":"v2.simulated","data":`...)
	if sess.DataAsArray {
		b = append(b, '[')
	}
	b = append(b, '{')
	b = appendField(b, "customRoomId", sess.CustomRoomID, sess.CustomRoomIDIs, ",")
	b = append(b, `"end":null,"id":`...)
	b = appendString(b, sess.ID)
	b = append(b, `,"links":{"get_room":`...)
	b = appendString(b, "https://api.videosdk.live/v2/rooms/"+sess.RoomID)
	b = append(b, `,"get_session":`...)
	b = appendString(b, "https://api.videosdk.live/v2/sessions/"+sess.ID)
	b = append(b, `},"metadata":{"shard":`...)
	b = strconv.AppendInt(b, int64(i%7), 10)
	b = append(b, `,"simulated":true}`...)
	switch sess.ParticipantsIs {
	case Present:
		b = append(b, `,"participants":`...)
		b = appendParticipants(b, parts)
	case Null:
		b = append(b, `,"participants":null`...)
	}
	b = append(b, `,"region":"in002"`...)
	b = appendField(b, ",roomId", sess.RoomID, sess.RoomIDIs, "")
	b = append(b, `,"start":"2021-10-25T05:09:58.934Z","status":"ongoing"}`...)
	if sess.DataAsArray {
		b = append(b, ']')
	}
	b = append(b, `,"pageInfo":`...)
	b = newPageInfo(page, perPage, total).appendJSON(b)
	return http.StatusOK, append(b, '}')
}

func (sess *Session) grow() {
	if sess.Live == NotLive {
		return
	}
	step := max(1, sess.LiveStep)
	for k := 0; k < step && len(sess.Participants) < sess.LiveCap; k++ {
		sess.added++
		p := Participant{
			ID:      fmt.Sprintf("live-%d", sess.added),
			Name:    fmt.Sprintf("Late joiner %d", sess.added),
			Timelog: []Entry{{Start: time.Date(2021, 10, 25, 6, 0, sess.added, 0, time.UTC).Format("2006-01-02T15:04:05.000Z07:00"), EndIs: Null}},
		}
		if sess.Live == GrowFront {
			sess.Participants = slices.Insert(sess.Participants, 0, p)
		} else {
			sess.Participants = append(sess.Participants, p)
		}
	}
}

var devices = []string{"web", "android", "ios"}

// appendParticipants appends the JSON array of parts, as a page lists them.
func appendParticipants(b []byte, parts []Participant) []byte {
	b = append(b, '[')
	for j, p := range parts {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metadata":{"device":`...)
		b = appendString(b, devices[j%3])
		b = append(b, '}')
		b = appendField(b, ",name", p.Name, p.NameIs, "")
		b = append(b, `,"participantId":`...)
		b = appendString(b, p.ID)
		switch p.TimelogIs {
		case Present:
			b = append(b, `,"timelog":[`...)
			for k, e := range p.Timelog {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				b = appendField(b, "end", e.End, e.EndIs, ",")
				b = append(b, `"mode":"CONFERENCE"`...)
				b = appendField(b, ",start", e.Start, e.StartIs, "")
				b = append(b, '}')
			}
			b = append(b, ']')
		case Null:
			b = append(b, `,"timelog":null`...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendField appends "key":value, or "key":null, or nothing, as is says,
// followed by after. A key starting with a comma has it written first.
func appendField(b []byte, key, value string, is Presence, after string) []byte {
	if is == Absent {
		return b
	}
	if key[0] == ',' {
		b, key = append(b, ','), key[1:]
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	if is == Null {
		b = append(b, "null"...)
	} else {
		b = appendString(b, value)
	}
	return append(b, after...)
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters, U+2028 and U+2029 included; invalid UTF-8
// as U+FFFD).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func errorBody(status int, message string) (int, []byte) {
	body, _ := json.Marshal(map[string]any{
		"statusCode": status, "error": http.StatusText(status), "message": message,
	})
	return status, body
}

func writeError(w http.ResponseWriter, status int, message string) {
	_, body := errorBody(status, message)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// wait sleeps d, or less if the client goes away; false if it went away.
func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// pageInfo is the paging block of a participants or list answer, its
// fields in the order encoding/json writes a map's keys.
type pageInfo struct {
	CurrentPage int `json:"currentPage"`
	LastPage    int `json:"lastPage"`
	PerPage     int `json:"perPage"`
	Total       int `json:"total"`
}

func newPageInfo(page, perPage, total int) pageInfo {
	return pageInfo{CurrentPage: page, LastPage: (total + perPage - 1) / perPage, PerPage: perPage, Total: total}
}

// appendJSON appends the block as encoding/json writes it.
func (pi pageInfo) appendJSON(b []byte) []byte {
	b = append(b, `{"currentPage":`...)
	b = strconv.AppendInt(b, int64(pi.CurrentPage), 10)
	b = append(b, `,"lastPage":`...)
	b = strconv.AppendInt(b, int64(pi.LastPage), 10)
	b = append(b, `,"perPage":`...)
	b = strconv.AppendInt(b, int64(pi.PerPage), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(pi.Total), 10)
	return append(b, '}')
}
