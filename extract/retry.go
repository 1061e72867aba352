package extract

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Retry causes, the keys of Stats.RetriesByCause.
const (
	CauseNetwork     = "network"
	CauseTimeout     = "timeout"
	CauseInvalidJSON = "invalid_json"
	CauseHTTP408     = "http_408"
	CauseHTTP429     = "http_429"
	CauseHTTP5xx     = "http_5xx"
)

// transientError is a failed attempt that a later attempt may cure.
type transientError struct {
	cause      string
	status     int           // HTTP status; 0 when no response came
	retryAfter time.Duration // from a Retry-After header; 0 when absent
	err        error
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// backoff is the wait before retry number attempt (1 = the first retry):
// full jitter, uniform in [0, min(max, base·2^(attempt-1))). jitter(n)
// returns a number in [0, n).
func backoff(attempt int, base, max time.Duration, jitter func(int64) int64) time.Duration {
	ceiling := base
	for i := 1; i < attempt && ceiling < max; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, max)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(jitter(int64(ceiling)))
}

func randJitter(n int64) int64 { return rand.Int64N(n) }

// parseRetryAfter reads a Retry-After value, delta-seconds or an HTTP-date,
// capped at max. ok is false when the value is absent or unreadable.
func parseRetryAfter(v string, now time.Time, max time.Duration) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
				return max, true
			}
			return 0, false
		}
		if secs > uint64(max/time.Second) {
			return max, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	if d < 0 {
		d = 0
	}
	return min(max, d), true
}

// pace is what every request waits on before it is sent: a gate closed
// until a Retry-After has passed, and a token bucket whose rate is cut on a
// 429 and recovers with success. It slows the whole client, not one worker.
type pace struct {
	mu         sync.Mutex
	notBefore  time.Time
	limiter    *rate.Limiter // nil: no rate limit
	configured float64
	current    float64
	lastChange time.Time // of the rate, by a cut or a recovery
	lastCut    time.Time
	now        func() time.Time
}

func newPace(r float64) *pace {
	p := &pace{now: time.Now, configured: r, current: r}
	if r > 0 {
		// Burst 1: the client never sends faster than r, even after a lull.
		p.limiter = rate.NewLimiter(rate.Limit(r), 1)
	}
	return p
}

// waitGate blocks while a Retry-After holds every request back.
func (p *pace) waitGate(ctx context.Context) error {
	for {
		p.mu.Lock()
		d := p.notBefore.Sub(p.now())
		p.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// wait blocks until a request may be sent: past the gate, then a token
// from the bucket. Call it once per request.
func (p *pace) wait(ctx context.Context) error {
	if err := p.waitGate(ctx); err != nil {
		return err
	}
	if p.limiter == nil {
		return nil
	}
	if err := p.limiter.Wait(ctx); err != nil {
		// The limiter refuses at once when the token would come after ctx's
		// deadline; no request can be sent before then either.
		<-ctx.Done()
		return context.Cause(ctx)
	}
	return nil
}

// throttle closes the gate for d and cuts the rate, at most once a second,
// to half (never below an eighth of the configured rate).
func (p *pace) throttle(d time.Duration) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if until := now.Add(d); until.After(p.notBefore) {
		p.notBefore = until
	}
	if p.limiter != nil && now.Sub(p.lastCut) >= time.Second {
		p.current = max(p.current/2, p.configured/8)
		p.limiter.SetLimit(rate.Limit(p.current))
		p.lastChange, p.lastCut = now, now
	}
	return p.current
}

// recover raises a cut rate by a tenth of the configured rate per second
// since the last change, back to the configured rate.
func (p *pace) recover() {
	if p.limiter == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current >= p.configured {
		return
	}
	now := p.now()
	if gain := p.configured / 10 * now.Sub(p.lastChange).Seconds(); gain > 0 {
		p.current = min(p.configured, p.current+gain)
		p.limiter.SetLimit(rate.Limit(p.current))
		p.lastChange = now
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
