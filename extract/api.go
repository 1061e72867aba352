package extract

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// The errors a caller tells apart, with errors.Is.
var (
	// ErrUnauthorized is wrapped by every error caused by a 401 or 403: the
	// credentials are wrong and the whole run must stop (exit 2).
	ErrUnauthorized = errors.New("videosdk rejected the credentials")

	// ErrAPIUnreachable is wrapped by the error that stops a client whose first
	// requests all failed the same way, none succeeding: connection refused,
	// no answer, or the same HTTP error to every request (a 404 "no such
	// route" from a wrong API URL). Its message names the cause and a request.
	// Nothing further is sent; the run fails rather than grind through its list.
	ErrAPIUnreachable = errors.New("the VideoSDK API cannot be used")
)

// TokenSource hands out the bare JWT for the Authorization header.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Options configures a Client. Zero values take the documented defaults.
type Options struct {
	BaseURL        string        // default https://api.videosdk.live
	Tokens         TokenSource   // required
	HTTPClient     *http.Client  // default: a client with sane transport timeouts
	Concurrency    int           // hard cap on requests in flight, all sessions; default 8
	PerPage        int           // default 100
	RequestTimeout time.Duration // per attempt, body included; default 30s
	// FirstByteTimeout ends an attempt that got no response headers in this
	// long, a retried timeout; default 10s, at most RequestTimeout.
	FirstByteTimeout time.Duration
	MaxAttempts      int // per request, genuine faults only; default 6
	// RetryDeadline bounds the retries of back-pressure (429, 503 with
	// Retry-After), which do not count against MaxAttempts, from the
	// request's first such answer: no retry waits past it, for a
	// Retry-After or for its turn; default 10m.
	RetryDeadline time.Duration
	// Rate caps the requests/s of all workers; 0 = no cap. Below it the
	// client finds the rate the server accepts by itself.
	Rate          float64
	MaxPages      int           // per session; default 10000
	MaxRereads    int           // re-pagings of a session that shifted; default 3, negative none
	MaxBodyBytes  int64         // default 32 MiB
	Logger        *slog.Logger  // default slog.Default()
	BackoffBase   time.Duration // first retry waits up to this (full jitter); default 200ms
	BackoffMax    time.Duration // cap on one backoff wait; default 30s
	MaxRetryAfter time.Duration // cap on an honoured Retry-After; default 5m
}

// Stats counts what a Client did. Safe to read at any time.
type Stats struct {
	Requests       int64            `json:"requests"`
	Pages          int64            `json:"pages"`
	ListPages      int64            `json:"list_pages"` // pages of the session list
	RetriesByCause map[string]int64 `json:"retries_by_cause"`
	Rereads        int64            `json:"session_rereads"`
	RateLimited    int64            `json:"rate_limited_responses"`
}

// SessionError is a failure confined to one session: the run goes on.
type SessionError struct {
	SessionID string
	Reason    string // one line, safe for reports: no headers, no tokens
	Err       error
}

func (e *SessionError) Error() string { return "session " + e.SessionID + ": " + e.Reason }
func (e *SessionError) Unwrap() error { return e.Err }

// InvalidLine is a line of the session list that was not sent.
type InvalidLine struct {
	Line   int    `json:"line"`
	Value  string `json:"value"` // quoted, shortened, safe to log
	Reason string `json:"reason"`
}
