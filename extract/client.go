package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	DefaultBaseURL        = "https://api.videosdk.live"
	DefaultConcurrency    = 8
	DefaultPerPage        = 100
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxAttempts    = 6
)

const (
	defaultMaxPages      = 10000
	defaultMaxRereads    = 3
	defaultMaxBodyBytes  = 32 << 20
	defaultBackoffBase   = 200 * time.Millisecond
	defaultBackoffMax    = 30 * time.Second
	defaultMaxRetryAfter = 5 * time.Minute
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
	halted  chan struct{} // closed on 401/403
	haltErr error         // set once, before halted is closed
	halt    sync.Once

	requests, pages, rereads, rateLimited atomic.Int64
	retriesMu                             sync.Mutex
	retries                               map[string]int64
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
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
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
		t.ResponseHeaderTimeout = opts.RequestTimeout
		// The API does not redirect; following one could read another
		// resource as this session, so a 3xx fails the session instead.
		hc = &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return &Client{
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
	}, nil
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
			return r.session, nil
		}
		if pass > c.opts.MaxRereads {
			return Session{}, &SessionError{SessionID: id, Reason: fmt.Sprintf(
				"participant list kept shifting while paged (got %d of %d after %d passes)",
				len(r.session.Participants), r.maxTotal, pass)}
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
		return r, c.pageFailure(id, 1, err)
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
					return c.pageFailure(id, n, err)
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

func (c *Client) pageFailure(id string, page int, err error) error {
	return &SessionError{SessionID: id, Reason: fmt.Sprintf("page %d: %s", page, oneLine(err.Error())), Err: err}
}

// fetchPage fetches and decodes one page, retrying transient failures.
func (c *Client) fetchPage(ctx context.Context, id string, page, perPage int) (Page, error) {
	u := c.pageURL(id, page, perPage)
	for attempt := 1; ; attempt++ {
		p, err := c.attempt(ctx, u)
		if err == nil {
			c.pages.Add(1)
			c.pace.recover()
			return p, nil
		}
		var te *transientError
		if !errors.As(err, &te) {
			if cause := context.Cause(ctx); cause != nil {
				return Page{}, cause
			}
			var perm *permanentError
			if errors.As(err, &perm) {
				return Page{}, c.pageFailure(id, page, err)
			}
			return Page{}, err
		}
		if attempt >= c.opts.MaxAttempts {
			return Page{}, &SessionError{SessionID: id, Err: err, Reason: fmt.Sprintf(
				"page %d: gave up after %d attempts: %s", page, attempt, oneLine(err.Error()))}
		}
		delay := max(te.retryAfter, backoff(attempt, c.opts.BackoffBase, c.opts.BackoffMax, c.jitter))
		c.countRetry(te.cause)
		c.log.Debug("retrying page", "session_id", id, "page", page, "attempt", attempt,
			"status", te.status, "cause", te.cause, "delay", delay, "error", err.Error())
		if err := sleep(ctx, delay); err != nil {
			return Page{}, err
		}
	}
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

// attempt sends one request, holding a slot of the in-flight cap only while
// the request and its body are on the wire.
func (c *Client) attempt(ctx context.Context, u *url.URL) (Page, error) {
	if err := c.haltedErr(); err != nil {
		return Page{}, err
	}
	if err := c.pace.waitGate(ctx); err != nil {
		return Page{}, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Page{}, context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	// The gate may have closed while this request queued for a slot; the
	// token is taken only now, so that queueing cannot bunch requests up.
	if err := c.pace.wait(ctx); err != nil {
		return Page{}, err
	}
	if err := c.haltedErr(); err != nil {
		return Page{}, err
	}
	token, err := c.opts.Tokens.Token(ctx)
	if err != nil {
		return Page{}, c.stop(fmt.Errorf("%w: %w", ErrUnauthorized, err))
	}

	actx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Page{}, err
	}
	req.URL = u // keep the escaping exactly as built
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return Page{}, c.transportFailure(ctx, actx, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return Page{}, c.statusFailure(u, resp, token)
	}
	if resp.ContentLength > c.opts.MaxBodyBytes {
		return Page{}, permanent("response body of %d bytes is over the limit of %d bytes", resp.ContentLength, c.opts.MaxBodyBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		return Page{}, c.transportFailure(ctx, actx, fmt.Errorf("read body of GET %s: %w", u, err))
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return Page{}, permanent("response body over the limit of %d bytes", c.opts.MaxBodyBytes)
	}
	p, err := decodePage(body)
	if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			// Truncated, or an HTML page from a proxy: the next attempt may be whole.
			return Page{}, &transientError{cause: CauseInvalidJSON, status: http.StatusOK, err: fmt.Errorf(
				"GET %s: 200 with a body that is not JSON (%d bytes, %s)", u, len(body), contentType(resp))}
		}
		return Page{}, &permanentError{err}
	}
	return p, nil
}

// transportFailure classifies an error from sending a request or reading
// its body.
func (c *Client) transportFailure(ctx, actx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	var ne net.Error
	if errors.Is(actx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &transientError{cause: CauseTimeout, err: err}
	}
	return &transientError{cause: CauseNetwork, err: err}
}

// statusFailure turns a non-200 response into an error.
func (c *Client) statusFailure(u *url.URL, resp *http.Response, token string) error {
	// A broken error body leaves the status to speak for itself.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	status := resp.StatusCode
	what := fmt.Sprintf("GET %s: HTTP %d%s", u, status, errorMessage(body, token))
	retryAfter, told := parseRetryAfter(resp.Header.Get("Retry-After"), c.now(), c.opts.MaxRetryAfter)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return c.stop(fmt.Errorf("%w: %s; check VIDEOSDK_API_KEY and VIDEOSDK_SECRET_KEY (or VIDEOSDK_TOKEN)",
			ErrUnauthorized, what))
	case status == http.StatusTooManyRequests:
		c.rateLimited.Add(1)
		// Without a Retry-After, hold everyone back briefly; "0" means now.
		gate := retryAfter
		if !told {
			gate = c.opts.BackoffBase
		}
		if r := c.pace.throttle(gate); r > 0 {
			c.log.Debug("rate limited; slowing down", "status", status, "delay", gate, "rate", r)
		}
		return &transientError{cause: CauseHTTP429, status: status, retryAfter: retryAfter, err: errors.New(what)}
	case status == http.StatusRequestTimeout:
		return &transientError{cause: CauseHTTP408, status: status, err: errors.New(what)}
	case status >= 500:
		if status != http.StatusServiceUnavailable {
			retryAfter = 0
		} else if retryAfter > 0 {
			c.pace.throttle(retryAfter)
		}
		return &transientError{cause: CauseHTTP5xx, status: status, retryAfter: retryAfter, err: errors.New(what)}
	default:
		return permanent("%s", what)
	}
}

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

// stop makes err the answer to every request of this client from now on.
func (c *Client) stop(err error) error {
	c.halt.Do(func() {
		c.haltErr = err
		close(c.halted)
		c.log.Error("credentials rejected; sending no further requests", "error", err.Error())
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

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
