package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// The defaults of Options, exported so that a command's flags show the
// values the client would take anyway.
const (
	DefaultBaseURL          = "https://api.videosdk.live"
	DefaultConcurrency      = 8
	DefaultPerPage          = 100
	DefaultRequestTimeout   = 30 * time.Second
	DefaultFirstByteTimeout = 10 * time.Second
	DefaultMaxAttempts      = 6
	DefaultRetryDeadline    = 10 * time.Minute
)

const (
	defaultMaxPages      = 10000
	defaultMaxRereads    = 3
	defaultMaxBodyBytes  = 32 << 20
	defaultBackoffBase   = 200 * time.Millisecond
	defaultBackoffMax    = 30 * time.Second
	defaultMaxRetryAfter = 5 * time.Minute
	// stallWarnAfter is how long without a successful request before a
	// warning says so (and again every as long).
	stallWarnAfter = time.Minute
	// maxErrorBodyBytes is what is read of an error response for its message.
	maxErrorBodyBytes = 4 << 10
)

// Client fetches sessions from the participants endpoint. It is safe for
// concurrent use; all its requests share one cap on requests in flight, one
// rate limit and one backoff gate.
type Client struct {
	opts    Options
	base    *url.URL
	http    *http.Client
	log     *slog.Logger
	sem     chan struct{} // one slot per request in flight
	pace    *pace
	jitter  func(int64) int64
	now     func() time.Time
	halted  chan struct{} // closed on a fatal 401/403 or an unreachable API
	haltErr error         // set once, before halted is closed
	halt    sync.Once
	probe   probe

	requests, pages, listPages, rereads, rateLimited, sessionsDone atomic.Int64
	// lastProgress and lastStallWarn are Unix nanoseconds by c.now.
	lastProgress, lastStallWarn atomic.Int64
	retriesMu                   sync.Mutex
	retries                     map[string]int64
	// bodies holds response-body buffers (*[]byte) between requests.
	bodies sync.Pool
}

// NewClient checks opts, fills in defaults and returns a Client.
func NewClient(opts Options) (*Client, error) {
	if opts.Tokens == nil {
		return nil, errors.New("extract: Options.Tokens is required")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, errors.New("extract: the API URL does not parse")
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("extract: API URL %q is not an http(s) base URL without query or credentials", base.Redacted())
	}
	defaults := []struct {
		v   *int
		def int
	}{
		{&opts.Concurrency, DefaultConcurrency},
		{&opts.PerPage, DefaultPerPage},
		{&opts.MaxAttempts, DefaultMaxAttempts},
		{&opts.MaxPages, defaultMaxPages},
	}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.MaxRereads < 0 {
		opts.MaxRereads = 0
	} else if opts.MaxRereads == 0 {
		opts.MaxRereads = defaultMaxRereads
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&opts.RequestTimeout, DefaultRequestTimeout},
		{&opts.BackoffBase, defaultBackoffBase},
		{&opts.BackoffMax, defaultBackoffMax},
		{&opts.MaxRetryAfter, defaultMaxRetryAfter},
		{&opts.RetryDeadline, DefaultRetryDeadline},
		{&opts.FirstByteTimeout, DefaultFirstByteTimeout},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	opts.FirstByteTimeout = min(opts.FirstByteTimeout, opts.RequestTimeout)
	if opts.Rate < 0 {
		return nil, fmt.Errorf("extract: rate %v is negative", opts.Rate)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	hc := opts.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.Concurrency
		// The first-byte timeout is the client's own (attempt), so that
		// it holds for a given HTTPClient as well.
		// The API does not redirect; following one could read another
		// resource as this session, so a 3xx fails the session instead.
		hc = &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	c := &Client{
		opts:    opts,
		base:    base,
		http:    hc,
		log:     opts.Logger,
		sem:     make(chan struct{}, opts.Concurrency),
		pace:    newPace(opts.Rate),
		jitter:  randJitter,
		now:     time.Now,
		halted:  make(chan struct{}),
		retries: make(map[string]int64),
	}
	c.lastProgress.Store(c.now().UnixNano())
	return c, nil
}

// Stats returns a snapshot of what the client has done so far.
func (c *Client) Stats() Stats {
	c.retriesMu.Lock()
	retries := make(map[string]int64, len(c.retries))
	for k, v := range c.retries {
		retries[k] = v
	}
	c.retriesMu.Unlock()
	return Stats{
		Requests:       c.requests.Load(),
		Pages:          c.pages.Load(),
		ListPages:      c.listPages.Load(),
		RetriesByCause: retries,
		Rereads:        c.rereads.Load(),
		RateLimited:    c.rateLimited.Load(),
	}
}

// FetchSession reads every page of session id and returns each of its
// participants once. A failure confined to this session is a *SessionError;
// an error wrapping ErrUnauthorized means no further request will be sent by
// this client; otherwise the error is ctx's.
func (c *Client) FetchSession(ctx context.Context, id string) (Session, error) {
	if reason := implausible(id); reason != "" {
		return Session{}, &SessionError{SessionID: strconv.QuoteToASCII(id), Reason: "not a session ID: " + reason}
	}
	if err := c.haltedErr(); err != nil {
		return Session{}, err
	}
	// A 401 anywhere cancels this session's requests at once.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-c.halted:
			cancel(c.haltErr)
		case <-ctx.Done():
		}
	}()

	perPage := c.opts.PerPage
	pages := 0
	for pass := 1; ; pass++ {
		r, err := c.readPass(ctx, id, perPage)
		pages += r.pages
		if err != nil {
			return Session{}, err
		}
		perPage = r.perPage
		if len(r.session.Participants) == r.maxTotal {
			r.session.Pages = pages
			c.sessionsDone.Add(1)
			return r.session, nil
		}
		if pass > c.opts.MaxRereads {
			return Session{}, &SessionError{SessionID: id, Reason: r.shortfall(pass)}
		}
		c.rereads.Add(1)
		c.log.Info("session shifted while paged; reading it again",
			"session_id", id, "pass", pass, "participants", len(r.session.Participants), "total", r.maxTotal)
	}
}

// passResult is one read of every page of a session.
type passResult struct {
	session  Session // participants deduplicated, in page order
	maxTotal int     // the largest total any page reported
	perPage  int     // as the server applied it
	pages    int     // successful page fetches
	// What explains a shortfall other than a session shifting while paged:
	// every page agreeing on the total, the participants the pages list
	// (repeats included), and the first participant one page lists twice.
	sameTotal bool
	listed    int
	twice     string
}

// shortfall says why the distinct participants fell short of the total
// after the last pass.
func (r passResult) shortfall(passes int) string {
	got := len(r.session.Participants)
	switch {
	case r.twice != "":
		return fmt.Sprintf("%s (got %d distinct participants of total %d, the same in each of %d passes)",
			r.twice, got, r.maxTotal, passes)
	case r.sameTotal && r.listed < r.maxTotal:
		return fmt.Sprintf("the pages list %d participants but pageInfo.total says %d (the same in each of %d passes)",
			r.listed, r.maxTotal, passes)
	default:
		return fmt.Sprintf("participant list kept shifting while paged (got %d of %d after %d passes)",
			got, r.maxTotal, passes)
	}
}

// readPass fetches page 1, then the rest in parallel, then any pages a
// growing session added meanwhile.
func (c *Client) readPass(ctx context.Context, id string, perPage int) (passResult, error) {
	var r passResult
	first, err := c.fetchPage(ctx, id, 1, perPage)
	if err != nil {
		return r, err
	}
	r.pages = 1
	if err := checkPage(first, id, 1, 0); err != nil {
		return r, pageError(id, 1, oneLine(err.Error()), err)
	}
	r.perPage = first.PageInfo.PerPage
	r.maxTotal = first.PageInfo.Total
	byNumber := map[int]Page{1: first}
	fetched, last := 1, max(1, first.PageInfo.LastPage)
	for fetched < last {
		if last > c.opts.MaxPages {
			return r, &SessionError{SessionID: id, Reason: fmt.Sprintf(
				"session claims %d pages, more than the limit of %d", last, c.opts.MaxPages)}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(c.opts.Concurrency)
		var mu sync.Mutex
		for n := fetched + 1; n <= last; n++ {
			g.Go(func() error {
				p, err := c.fetchPage(gctx, id, n, r.perPage)
				if err != nil {
					return err
				}
				if err := checkPage(p, id, n, r.perPage); err != nil {
					return pageError(id, n, oneLine(err.Error()), err)
				}
				mu.Lock()
				byNumber[n] = p
				r.pages++
				mu.Unlock()
				return nil
			})
		}
		err := g.Wait()
		if err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return r, cause
			}
			return r, err
		}
		fetched = last
		for _, p := range byNumber {
			last = max(last, p.PageInfo.LastPage)
			r.maxTotal = max(r.maxTotal, p.PageInfo.Total)
		}
	}
	r.session = merge(id, byNumber, last)
	r.sameTotal = true
	for n := 1; n <= last; n++ {
		p := byNumber[n]
		r.sameTotal = r.sameTotal && p.PageInfo.Total == r.maxTotal
		r.listed += len(p.Participants)
		if r.twice == "" {
			seen := make(map[string]bool, len(p.Participants))
			for _, part := range p.Participants {
				if seen[part.ParticipantID] {
					r.twice = fmt.Sprintf("page %d lists participant %s twice", n, showValue([]byte(part.ParticipantID)))
					break
				}
				seen[part.ParticipantID] = true
			}
		}
	}
	return r, nil
}

// merge lists the participants of pages 1..last in page order, each once:
// of two copies the more complete is kept, in the place of the first.
func merge(id string, pages map[int]Page, last int) Session {
	s := Session{ID: id}
	at := make(map[string]int)
	for n := 1; n <= last; n++ {
		p := pages[n]
		if n == 1 {
			s.RoomID, s.CustomRoomID = p.Session.RoomID, p.Session.CustomRoomID
		}
		for _, part := range p.Participants {
			i, seen := at[part.ParticipantID]
			switch {
			case !seen:
				at[part.ParticipantID] = len(s.Participants)
				s.Participants = append(s.Participants, part)
			case better(part, s.Participants[i]):
				s.Participants[i] = part
			}
		}
	}
	return s
}

// pageError is the failure of session id at page: reason in one line, and
// err, what it wraps.
func pageError(id string, page int, reason string, err error) error {
	return &SessionError{SessionID: id, Reason: fmt.Sprintf("page %d: %s", page, reason), Err: err}
}

// fetchPage fetches and decodes one participants page (see get).
func (c *Client) fetchPage(ctx context.Context, id string, page, perPage int) (Page, error) {
	var p Page
	err := c.get(ctx, request{
		url:      c.pageURL(id, page, perPage),
		decode:   func(body []byte) (err error) { p, err = decodePage(body); return err },
		fail:     func(reason string, err error) error { return pageError(id, page, reason, err) },
		counter:  &c.pages,
		logAttrs: []any{"session_id", id, "page", page},
	})
	return p, err
}

// request is one GET that get retries until it is decoded or given up.
type request struct {
	url *url.URL
	// decode takes the body of a 200; a *json.SyntaxError in its error
	// is retried (invalid_json), any other error is permanent.
	decode func(body []byte) error
	// fail turns what ended the request (a permanent answer, or retries
	// given up, in one line) into the error get returns.
	fail     func(reason string, err error) error
	counter  *atomic.Int64 // counts the request once decoded
	logAttrs []any         // name the request in the retry log
}

// get sends r until it is decoded, retrying transient failures. Genuine
// faults count against MaxAttempts; back-pressure (429, 503 with
// Retry-After) and a refused token that has been renewed do not, and are
// bounded by RetryDeadline instead: from the request's first back-pressure
// answer, neither a Retry-After nor a retry's wait for its turn (behind
// other requests' pauses) runs past it. An error wrapping ErrUnauthorized
// or ErrAPIUnreachable (the client has stopped) or ctx's is returned as
// is.
func (c *Client) get(ctx context.Context, r request) error {
	var (
		deadline   time.Time // set by the first back-pressure answer
		waitUntil  time.Time // bounds the next attempt's wait for its turn
		lastPushed error     // the last back-pressure answer
	)
	overDeadline := func(pushedBack int) error {
		return r.fail(fmt.Sprintf("the server pushed back %d times over the retry deadline of %v: %s",
			pushedBack, c.opts.RetryDeadline, oneLine(lastPushed.Error())), lastPushed)
	}
	faults, pushedBack := 0, 0
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, r.url, r.decode, waitUntil)
		if errors.Is(err, errRetryDeadline) {
			return overDeadline(pushedBack)
		}
		waitUntil = time.Time{}
		c.probe.record(c, err)
		if err == nil {
			r.counter.Add(1)
			c.lastProgress.Store(c.now().UnixNano())
			return nil
		}
		var te *transientError
		if !errors.As(err, &te) {
			if cause := context.Cause(ctx); cause != nil {
				return cause
			}
			if err := c.haltedErr(); err != nil {
				return err
			}
			var perm *permanentError
			if errors.As(err, &perm) {
				return r.fail(oneLine(err.Error()), err)
			}
			return err
		}
		var delay time.Duration
		switch {
		case te.renewed:
			// A fresh token is ready: retry at once.
		case te.backPressure:
			pushedBack++
			lastPushed = err
			if deadline.IsZero() {
				deadline = c.now().Add(c.opts.RetryDeadline)
			}
			// The shared pace does the slowing down; the retry only waits
			// what it was told, or a moment, so as not to retry in step.
			delay = te.retryAfter
			if !te.told {
				delay = backoff(1, c.opts.BackoffBase, c.opts.BackoffMax, c.jitter)
			}
			if c.now().Add(delay).After(deadline) {
				return overDeadline(pushedBack)
			}
			waitUntil = deadline
		default:
			faults++
			if faults >= c.opts.MaxAttempts {
				return r.fail(fmt.Sprintf("gave up after %d attempts: %s", faults, oneLine(err.Error())), err)
			}
			delay = max(te.retryAfter, backoff(faults, c.opts.BackoffBase, c.opts.BackoffMax, c.jitter))
		}
		c.countRetry(te.cause)
		c.log.Warn("retrying page", append(r.logAttrs, "attempt", attempt,
			"status", te.status, "cause", te.cause, "delay_seconds", delay.Seconds(), "error", err.Error())...)
		c.warnIfStalled(te.cause)
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// warnIfStalled says so, once every stallWarnAfter, when no request has
// succeeded for that long.
func (c *Client) warnIfStalled(cause string) {
	now := c.now()
	since := now.Sub(time.Unix(0, c.lastProgress.Load()))
	last := c.lastStallWarn.Load()
	if since < stallWarnAfter || now.Sub(time.Unix(0, last)) < stallWarnAfter ||
		!c.lastStallWarn.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	c.log.Warn("no request has succeeded for a while", "seconds", int(since.Seconds()), "cause", cause,
		"requests", c.requests.Load(), "pages", c.pages.Load())
}

func (c *Client) countRetry(cause string) {
	c.retriesMu.Lock()
	c.retries[cause]++
	c.retriesMu.Unlock()
}

// permanentError is a response that no retry will change: a 4xx other than
// 401, 403, 408 and 429, a body over the limit, a page off the schema.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// errNoAnswer ends an attempt that got no response headers within the
// first-byte timeout.
var errNoAnswer = errors.New("no answer")

// errRetryDeadline ends an attempt's wait for its turn at the retry
// deadline of the request it retries.
var errRetryDeadline = errors.New("retry deadline reached while waiting for a turn")

// attempt sends one request and decodes its body, holding a slot of the
// in-flight cap only while the request and its body are on the wire. Its
// waits for a turn end with errRetryDeadline at waitUntil, unless that is
// zero; the request itself, once sent, is bounded by RequestTimeout only.
func (c *Client) attempt(ctx context.Context, u *url.URL, decode func([]byte) error, waitUntil time.Time) error {
	if err := c.haltedErr(); err != nil {
		return err
	}
	wctx := ctx
	if !waitUntil.IsZero() {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeoutCause(ctx, waitUntil.Sub(c.now()), errRetryDeadline)
		defer cancel()
	}
	if err := c.pace.waitGate(wctx); err != nil {
		return err
	}
	select {
	case c.sem <- struct{}{}:
	case <-wctx.Done():
		return context.Cause(wctx)
	}
	defer func() { <-c.sem }()
	// The gate may have closed while this request queued for a slot; the
	// token is taken only now, so that queueing cannot bunch requests up.
	sentAt, err := c.pace.wait(wctx)
	if err != nil {
		return err
	}
	defer c.pace.done()
	if err := c.haltedErr(); err != nil {
		return err
	}
	token, err := c.opts.Tokens.Token(ctx)
	if err != nil {
		return c.stop(fmt.Errorf("%w: %w", ErrUnauthorized, err))
	}

	actx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	// A server that takes the request and says nothing is found out long
	// before the whole request's timeout.
	actx, noAnswer := context.WithCancelCause(actx)
	defer noAnswer(nil)
	firstByte := time.AfterFunc(c.opts.FirstByteTimeout, func() { noAnswer(errNoAnswer) })
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		firstByte.Stop()
		return err
	}
	req.URL = u // keep the escaping exactly as built
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	firstByte.Stop()
	if err != nil {
		return c.transportFailure(ctx, actx, u, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return c.statusFailure(u, resp, token, sentAt)
	}
	c.pace.accept()
	if m, ok := c.opts.Tokens.(*Minter); ok {
		m.accepted(token)
	}
	if resp.ContentLength > c.opts.MaxBodyBytes {
		return permanent("response body of %d bytes is over the limit of %d bytes", resp.ContentLength, c.opts.MaxBodyBytes)
	}
	buf, _ := c.bodies.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer c.putBody(buf)
	body, err := readBody(resp.Body, resp.ContentLength, c.opts.MaxBodyBytes, *buf)
	*buf = body
	if err != nil {
		return c.transportFailure(ctx, actx, u, fmt.Errorf("read body of GET %s: %w", u, err))
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return permanent("response body over the limit of %d bytes", c.opts.MaxBodyBytes)
	}
	// body goes back to the pool: decode keeps no reference to it
	// (decodePage and decodeListPage copy what they keep).
	if err := decode(body); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			// Truncated, or an HTML page from a proxy: the next attempt may be whole.
			return &transientError{cause: CauseInvalidJSON, status: http.StatusOK, err: fmt.Errorf(
				"GET %s: 200 with a body that is not JSON (%d bytes, %s): %w", u, len(body), contentType(resp), syntax)}
		}
		return &permanentError{err}
	}
	return nil
}

// maxPooledBody is the largest body buffer kept for the next request; a
// rare huge page is not held on to.
const maxPooledBody = 4 << 20

func (c *Client) putBody(buf *[]byte) {
	if cap(*buf) <= maxPooledBody {
		*buf = (*buf)[:0]
		c.bodies.Put(buf)
	}
}

// readBody reads r to its end into buf, reallocated once to fit size (the
// Content-Length, -1 if unknown) instead of growing from 512 bytes as
// io.ReadAll does. It reads at most limit+1 bytes, so that the caller sees
// a body over the limit.
func readBody(r io.Reader, size, limit int64, buf []byte) ([]byte, error) {
	if size >= 0 && size <= limit && int64(cap(buf)) <= size {
		buf = make([]byte, 0, size+1) // +1: EOF is seen without growing
	}
	buf = buf[:0]
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// transportFailure classifies an error from sending a request or reading
// its body.
func (c *Client) transportFailure(ctx, actx context.Context, u *url.URL, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if errors.Is(context.Cause(actx), errNoAnswer) {
		return &transientError{cause: CauseTimeout, noAnswer: true, err: fmt.Errorf(
			"GET %s: no response headers within %v", u, c.opts.FirstByteTimeout)}
	}
	var ne net.Error
	if errors.Is(actx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &transientError{cause: CauseTimeout, err: err}
	}
	return &transientError{cause: CauseNetwork, err: err}
}

// statusFailure turns a non-200 response to a request sent at sentAt into
// an error.
func (c *Client) statusFailure(u *url.URL, resp *http.Response, token string, sentAt time.Time) error {
	// A broken error body leaves the status to speak for itself.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	status := resp.StatusCode
	reply := fmt.Sprintf("HTTP %d%s", status, errorMessage(body, token))
	what := fmt.Sprintf("GET %s: %s", u, reply)
	retryAfter, told := parseRetryAfter(resp.Header.Get("Retry-After"), c.now(), c.opts.MaxRetryAfter)
	if status == http.StatusTooManyRequests || (status == http.StatusServiceUnavailable && told) {
		// Back-pressure: the server is fine, the pace is not.
		cause := CauseHTTP429
		if status == http.StatusTooManyRequests {
			c.rateLimited.Add(1)
		} else {
			cause = CauseHTTP5xx
		}
		if cut, ok := c.pace.pushBack(sentAt, retryAfter); ok {
			c.log.Debug("server pushed back; slowing down", "status", status, "rate_per_second", round3(cut.rate),
				"accepted_per_second", round3(cut.accepted), "sent_per_second", round3(cut.sent))
		}
		return &transientError{cause: cause, status: status, retryAfter: retryAfter, told: told,
			backPressure: true, err: errors.New(what)}
	}
	c.pace.accept()
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return c.refused(token, status, what)
	case status == http.StatusRequestTimeout:
		return &transientError{cause: CauseHTTP408, status: status, reply: reply, err: errors.New(what)}
	case status >= 500:
		return &transientError{cause: CauseHTTP5xx, status: status, reply: reply, err: errors.New(what)}
	default:
		return &httpError{reply: reply, permanentError: permanentError{errors.New(what)}}
	}
}

// httpError is a permanent failure with a status, kept apart so that the
// probe can tell "every request is a 404" from anything else.
type httpError struct {
	reply string // "HTTP 404: no such route"
	permanentError
}

func (e *httpError) Unwrap() error { return &e.permanentError }

// errorMessage pulls the message out of a JSON error body, one line, short,
// and with the token removed should a proxy echo it.
func errorMessage(body []byte, token string) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := e.Message
	if msg == "" {
		msg = e.Error
	}
	if msg == "" {
		return ""
	}
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[redacted]")
	}
	msg = oneLine(msg)
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return ": " + msg
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return strconv.Quote(ct)
	}
	return "no content type"
}

// refused answers a 401 or 403 to a request sent with token. A minted
// token the server had accepted was refused for its age (a server-side
// validity shorter than exp, clock skew): a fresh one is minted, once for
// all workers, and the request retried. A minted token never accepted, or
// a given one, means the credentials are wrong: the run stops.
func (c *Client) refused(token string, status int, what string) error {
	switch tokens := c.opts.Tokens.(type) {
	case *Minter:
		if err := tokens.renewRefused(token); err == nil {
			return &transientError{cause: CauseTokenRefused, status: status, renewed: true, err: errors.New(what)}
		}
		return c.stop(fmt.Errorf("%w: %s, to a freshly minted token; check VIDEOSDK_API_KEY and VIDEOSDK_SECRET_KEY",
			ErrUnauthorized, what))
	case staticToken:
		return c.stop(fmt.Errorf("%w: %s, to the given token, which %s; %d sessions were fetched before; "+
			"give a new VIDEOSDK_TOKEN, or set VIDEOSDK_API_KEY and VIDEOSDK_SECRET_KEY instead so that the job mints its own",
			ErrUnauthorized, what, tokens.expiry(c.now()), c.sessionsDone.Load()))
	default:
		return c.stop(fmt.Errorf("%w: %s; check VIDEOSDK_API_KEY and VIDEOSDK_SECRET_KEY (or VIDEOSDK_TOKEN)", ErrUnauthorized, what))
	}
}

// stop makes err the answer to every request of this client from now on.
func (c *Client) stop(err error) error {
	c.halt.Do(func() {
		c.haltErr = err
		close(c.halted)
		c.log.Error("sending no further requests", "error", err.Error())
	})
	return c.haltErr
}

func (c *Client) haltedErr() error {
	select {
	case <-c.halted:
		return c.haltErr
	default:
		return nil
	}
}

// pageURL builds {base}/v2/sessions/{id}/participants?page=&perPage= with
// the ID as exactly one path segment. url.PathEscape leaves "." and ".."
// alone, which a server would resolve, so those are escaped here.
func (c *Client) pageURL(id string, page, perPage int) *url.URL {
	seg := url.PathEscape(id)
	if strings.Trim(seg, ".") == "" {
		seg = strings.Repeat("%2E", len(seg))
	}
	u := *c.base
	prefix := strings.TrimSuffix(c.base.EscapedPath(), "/")
	u.RawPath = prefix + "/v2/sessions/" + seg + "/participants"
	u.Path = strings.TrimSuffix(c.base.Path, "/") + "/v2/sessions/" + id + "/participants"
	u.RawQuery = url.Values{"page": {strconv.Itoa(page)}, "perPage": {strconv.Itoa(perPage)}}.Encode()
	return &u
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
