package extract

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Retry causes, the keys of Stats.RetriesByCause.
const (
	CauseNetwork     = "network"
	CauseTimeout     = "timeout"
	CauseInvalidJSON = "invalid_json"
	CauseHTTP408     = "http_408"
	CauseHTTP429     = "http_429"
	CauseHTTP5xx     = "http_5xx"
	// CauseTokenRefused is a token the server had accepted and then
	// refused (401/403); a fresh one is minted and the request retried.
	CauseTokenRefused = "token_refused"
)

// transientError is a failed attempt that a later attempt may cure.
type transientError struct {
	cause      string
	status     int           // HTTP status; 0 when no response came
	retryAfter time.Duration // from a Retry-After header; 0 when absent
	told       bool          // a Retry-After header was there
	// backPressure is a 429 or a 503 with Retry-After: not a fault, bounded
	// by time rather than attempts.
	backPressure bool
	// renewed is a refused token that has been replaced by a fresh one.
	renewed  bool
	noAnswer bool   // no response headers within the first-byte timeout
	reply    string // status and message of an HTTP error, for the probe
	err      error
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

// The pace's constants. A cut takes the rate to paceCut of what the server
// accepted over the last second; success raises it by paceGrowth a second.
// One cut and about a second of growth leave the rate a little higher than
// before (0.85 × 1.25 > 1), so that a 429 now and then that has nothing to
// do with the rate (a proxy, a fault) cannot wear the pace down to nothing,
// while a rate over the server's limit draws 429s at once and is cut again.
// The sawtooth this makes against a fixed limit runs between about 0.85 and
// 1.05 of it: some 90% of the limit used, a 429 or two a second.
const (
	paceCut        = 0.8
	paceGrowth     = 0.25        // per second, compounded
	paceSlowStart  = 3.0         // growth until the first estimate is sound: ×4 a second
	paceNear       = 0.9         // of the known limit, up to which growth is fast
	paceCalm       = time.Second // an isolated 429 cuts at most this often
	paceWindow     = time.Second // over which the accepted rate is measured
	paceSlot       = time.Second / 10
	paceSlots      = int64(paceWindow / paceSlot)
	paceMinRate    = 0.5 // requests/s; the retry deadline bounds the rest
	sharedPauseMin = 2 * time.Second
	// Until the first cut an unlimited pace holds the requests in flight
	// to a window that starts at paceWindowStart and grows by one with
	// every accepted answer, so that a run's first burst meets a limit
	// with a few requests, not all its workers.
	paceWindowStart = 4
	paceWindowOff   = 1024
)

// pace is what every request waits on before it is sent. It finds the rate
// the server accepts by itself, the way TCP finds its window: every answer
// that is not back-pressure raises the rate; a 429 (or a 503 with
// Retry-After) cuts it for every worker, multiplicatively, based on the rate
// the server was measured to accept, and at most once per round trip: a
// 429 to a request sent before the last cut says nothing about the rate
// set since. An isolated 429 (fewer than one answer in eight since the last
// cut) cuts at most once per paceCalm. The configured rate, if any, is a
// ceiling; without one the pace starts unlimited.
//
// The first estimate comes from the first answers of a burst and is poor,
// so until a cut is made on a full window of measurements the pace is in
// slow start: it grows fast and any news of a 429 cuts it.
//
// A Retry-After of sharedPauseMin or more also closes a gate for every
// request: the server asks for a pause. A shorter one (a token bucket's
// "one token in 0.02 s", rounded up to a second) is left to the request
// that got it.
type pace struct {
	mu         sync.Mutex
	now        func() time.Time
	nextSend   time.Time // the earliest the next request may go
	ceiling    float64   // requests/s; +Inf without a configured rate
	current    float64   // +Inf until the first cut when ceiling is +Inf
	probing    bool      // slow start
	window     int       // cap on requests in flight before the first cut; 0 for none
	inFlight   int
	notBefore  time.Time
	lastChange time.Time // of current, by a cut or growth
	lastCut    time.Time
	// limit is the accepted rate measured at the last cut: the server's
	// limit as best known. Above it a 429 is news at once.
	limit float64
	first time.Time // of the first request sent
	// Answers per slot of the last paceWindow: accepted and sent.
	slotOf            [paceSlots]int64
	accepted, sentIn  [paceSlots]int
	okSince, limSince int // answers since the last cut
}

// cut is what a cut of the pace did, for the log.
type cut struct {
	rate, accepted, sent float64 // requests/s
}

func newPace(r float64) *pace {
	ceiling := math.Inf(1)
	if r > 0 {
		ceiling = r
	}
	p := &pace{now: time.Now, ceiling: ceiling, current: ceiling, probing: true}
	if math.IsInf(ceiling, 1) {
		p.window = paceWindowStart
	}
	return p
}

// waitGate blocks while a long Retry-After holds every request back.
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

// wait blocks until a request may be sent: past the gate, then its turn
// at the current rate. Call it once per request. It returns the time the
// request was paced: when it began to wait for its turn, which a cut after
// that time does not move.
//
// Turns are not booked ahead (as a token bucket's reservations are): every
// waiter looks again when its turn may have come, so a change of the rate
// applies at once to all of them. Burst 1: a lull banks no turns.
func (p *pace) wait(ctx context.Context) (time.Time, error) {
	if err := p.waitGate(ctx); err != nil {
		return time.Time{}, err
	}
	p.mu.Lock()
	paced := p.now()
	p.mu.Unlock()
	for {
		p.mu.Lock()
		now := p.now()
		if p.window > 0 && p.inFlight >= p.window {
			p.mu.Unlock()
			if err := sleep(ctx, time.Millisecond); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if math.IsInf(p.current, 1) || !now.Before(p.nextSend) {
			if !math.IsInf(p.current, 1) {
				interval := time.Duration(float64(time.Second) / p.current)
				from := p.nextSend
				if now.Sub(from) > interval {
					from = now
				}
				p.nextSend = from.Add(interval)
			}
			p.sentLocked(now)
			p.inFlight++
			p.mu.Unlock()
			return paced, nil
		}
		d := p.nextSend.Sub(now)
		p.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return time.Time{}, err
		}
	}
}

// done records that a request sent after wait has its answer (or none).
func (p *pace) done() {
	p.mu.Lock()
	p.inFlight--
	p.mu.Unlock()
}

// sent records a request sent now, and returns now.
func (p *pace) sent() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.sentLocked(now)
	return now
}

func (p *pace) sentLocked(now time.Time) {
	if p.first.IsZero() {
		p.first = now
	}
	p.sentIn[p.slot(now)]++
}

// slot returns the index of now's slot, emptying it if it last held an
// older one. Call with mu held.
func (p *pace) slot(now time.Time) int {
	n := now.UnixNano() / int64(paceSlot)
	i := int(n % paceSlots)
	if p.slotOf[i] != n {
		p.slotOf[i], p.accepted[i], p.sentIn[i] = n, 0, 0
	}
	return i
}

// rates returns the requests/s accepted and sent over the last paceWindow
// (or since the first request, but over no less than a slot). Call with mu
// held.
func (p *pace) rates(now time.Time) (accepted, sent float64) {
	n := now.UnixNano() / int64(paceSlot)
	var a, s int
	for i := range paceSlots {
		if n-p.slotOf[i] < paceSlots {
			a += p.accepted[i]
			s += p.sentIn[i]
		}
	}
	// The slots counted began paceSlots-1 whole slots before this one.
	from := time.Unix(0, (n-paceSlots+1)*int64(paceSlot))
	if p.first.After(from) {
		from = p.first
	}
	span := max(paceSlot, now.Sub(from))
	return float64(a) / span.Seconds(), float64(s) / span.Seconds()
}

// accept records an answer that was not back-pressure, and probes upward.
func (p *pace) accept() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.accepted[p.slot(now)]++
	p.okSince++
	if p.window > 0 {
		if p.window++; p.window >= paceWindowOff {
			p.window = 0
		}
	}
	if p.current >= p.ceiling {
		return
	}
	// Back to near the known limit fast; past it, probe gently.
	growth := paceGrowth
	if p.probing || p.current < paceNear*p.limit {
		growth = paceSlowStart
	}
	if dt := now.Sub(p.lastChange).Seconds(); dt > 0 {
		p.current = min(p.ceiling, p.current*math.Pow(1+growth, dt))
		p.lastChange = now
	}
}

// pushBack records back-pressure to a request sent at sentAt: it closes
// the gate for a long pause and cuts the rate if this 429 is news. ok is
// false if it did not cut.
func (p *pace) pushBack(sentAt time.Time, pause time.Duration) (c cut, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if pause >= sharedPauseMin {
		if until := now.Add(pause); until.After(p.notBefore) {
			p.notBefore = until
		}
	}
	if sentAt.Before(p.lastCut) {
		return c, false // sent at the old rate: that rate is already cut
	}
	p.limSince++
	// Over the limit, 429s come thick; one now and then may be anything.
	isolated := (p.limSince < 3 || p.limSince*8 < p.okSince) && p.current < p.limit
	if isolated && !p.probing && now.Sub(p.lastCut) < paceCalm {
		return c, false
	}
	c.accepted, c.sent = p.rates(now)
	base := min(p.current, c.accepted)
	if c.accepted == 0 {
		// Nothing got through lately: the server takes less than was sent.
		base = min(p.current, c.sent/2)
	}
	p.limit = base
	p.current = max(paceMinRate, min(p.ceiling, paceCut*base))
	p.lastCut, p.lastChange = now, now
	p.okSince, p.limSince = 0, 0
	p.probing = p.probing && now.Sub(p.first) < paceWindow
	p.window = 0
	c.rate = p.current
	return c, true
}

// rate is the current pace in requests/s, +Inf for none.
func (p *pace) rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
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
