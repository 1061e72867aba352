package extract

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	top := func(n int64) int64 { return n - 1 } // the largest jitter allowed
	base, limit := 200*time.Millisecond, 30*time.Second
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 200*time.Millisecond - 1},
		{2, 400*time.Millisecond - 1},
		{3, 800*time.Millisecond - 1},
		{8, 25600*time.Millisecond - 1},
		{9, limit - 1},
		{60, limit - 1}, // no overflow
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt, base, limit, top); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
	if got := backoff(5, base, limit, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("full jitter may wait 0, got %v", got)
	}
	for range 1000 {
		if d := backoff(3, base, limit, randJitter); d < 0 || d >= 800*time.Millisecond {
			t.Fatalf("backoff(3) = %v, outside [0, 800ms)", d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	limit := 5 * time.Minute
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 12 ", 12 * time.Second, true},
		{"301", limit, true},
		{"99999999999999999999999", limit, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), limit, true},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second, true},
		{now.Add(30 * time.Second).Format(time.ANSIC), 30 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now, limit)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPaceFindsTheServersRate(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPace(0)
	p.now = func() time.Time { return clock }
	at := func(d time.Duration) { clock = clock.Add(d) }
	want := func(step string, r float64) {
		t.Helper()
		if got := p.rate(); math.Abs(got-r) > 1e-9 {
			t.Fatalf("%s: rate %v, want %v", step, got, r)
		}
	}
	want("no rate configured: unlimited", math.Inf(1))

	// Slow start. 32 requests in 10ms; 6 are accepted, the rest pushed back.
	var sent []time.Time
	for range 32 {
		sent = append(sent, p.sent())
	}
	at(10 * time.Millisecond)
	for range 6 {
		p.accept()
	}
	want("acceptance alone sets no rate", math.Inf(1))
	// 6 accepted over the shortest span measured (100ms) is 60/s.
	cutTo(p, sent[6], 0)
	want("the first 429 cuts to a share of the accepted rate", paceCut*60)
	for _, s := range sent[7:] {
		cutTo(p, s, 0)
	}
	want("429s to requests sent before the cut are the same news", paceCut*60)
	at(100 * time.Millisecond)
	p.accept()
	want("slow start grows fast", paceCut*60*math.Pow(1+paceSlowStart, 0.1))

	// A full window of 60/s accepted, then a 429: the estimate is sound,
	// slow start ends, and the cut is to a share of 60/s.
	for range 100 {
		at(10 * time.Millisecond)
		p.sent()
		if clock.UnixMilli()%50 < 30 {
			p.accept()
		}
	}
	acc, _ := p.rates(clock)
	if math.Abs(acc-60) > 3 {
		t.Fatalf("measured %v/s accepted, want 60", acc)
	}
	r := p.rate()
	cutTo(p, p.sent(), 0)
	want("a 429 after slow start", paceCut*min(r, acc))
	if p.probing {
		t.Fatal("still in slow start after a cut on a full window")
	}
	limit := acc

	// Below the known limit an isolated 429 within a second is noise.
	at(50 * time.Millisecond)
	p.accept()
	want("below the known limit growth is fast", paceCut*limit*math.Pow(1+paceSlowStart, 0.05))
	if cutTo(p, p.sent(), 0) != 0 {
		t.Error("an isolated 429 below the known limit cut within a second of the last cut")
	}
	// Past the limit, a 429 is news at once.
	for p.rate() < limit {
		at(50 * time.Millisecond)
		p.accept()
	}
	if clock.Sub(p.lastCut) >= paceCalm {
		t.Fatalf("took %v to grow past the limit; the test needs less than %v", clock.Sub(p.lastCut), paceCalm)
	}
	if cutTo(p, p.sent(), 0) == 0 {
		t.Error("a 429 past the known limit did not cut")
	}
	// A run of 429s with nothing accepted is news at once too.
	before := p.rate()
	at(5 * time.Millisecond)
	s := p.sent()
	for range 3 {
		cutTo(p, s, 0)
	}
	if p.rate() >= before {
		t.Errorf("three 429s in a row after a cut left the rate at %v", p.rate())
	}
}

func TestPaceCeilingAndFloor(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPace(80)
	p.now = func() time.Time { return clock }
	if p.rate() != 80 {
		t.Fatalf("starts at %v, want the configured 80", p.rate())
	}
	// Nothing accepted lately: half of what was sent, less the cut.
	for range 10 {
		p.sent()
	}
	clock = clock.Add(time.Second / 2)
	if r := cutTo(p, p.sent(), 0); r != paceCut*22/2 {
		t.Errorf("429 with nothing accepted: rate %v, want a share of half of 11 sent in 0.5s", r)
	}
	clock = clock.Add(time.Minute)
	p.accept()
	if p.rate() != 80 {
		t.Errorf("after a minute of success: rate %v, want the ceiling 80", p.rate())
	}
	for range 40 {
		clock = clock.Add(2 * time.Second)
		cutTo(p, p.sent(), 0)
	}
	if p.rate() != paceMinRate {
		t.Errorf("after 40 cuts: rate %v, want the floor %v", p.rate(), paceMinRate)
	}
}

func TestPaceGate(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPace(0)
	p.now = func() time.Time { return clock }
	cutTo(p, clock, time.Second)
	if err := p.waitGate(context.Background()); err != nil {
		t.Fatalf("a 1s Retry-After closed the gate for everyone: %v", err)
	}
	cutTo(p, clock, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.waitGate(ctx); err == nil {
		t.Error("an hour's Retry-After left the gate open")
	}
	clock = clock.Add(time.Hour)
	if err := p.waitGate(context.Background()); err != nil {
		t.Errorf("gate still closed after the hour: %v", err)
	}
}

// cutTo is p.pushBack's new rate, 0 if it did not cut.
func cutTo(p *pace, sentAt time.Time, pause time.Duration) float64 {
	c, ok := p.pushBack(sentAt, pause)
	if !ok {
		return 0
	}
	return c.rate
}
