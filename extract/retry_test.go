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
		if got := p.rate(); math.Abs(got-r) > 1e-9 || math.Abs(float64(p.limiter.Limit())-r) > 1e-9 && !math.IsInf(r, 1) {
			t.Fatalf("%s: rate %v (limiter %v), want %v", step, got, p.limiter.Limit(), r)
		}
	}
	want("no rate configured: unlimited", math.Inf(1))

	// 32 requests in 10ms; 6 are accepted, the rest pushed back.
	var sent []time.Time
	for range 32 {
		sent = append(sent, p.sent())
	}
	at(10 * time.Millisecond)
	for range 6 {
		p.accept()
	}
	want("acceptance alone does not set a rate", math.Inf(1))
	// 6 accepted over the shortest span measured (100ms) is 60/s.
	if r := p.pushBack(sent[6], 0); r != 0.85*60 {
		t.Fatalf("first 429: cut to %v, want 51", r)
	}
	want("first 429 sets 0.85 of the accepted rate", 51)
	for _, s := range sent[7:] {
		if p.pushBack(s, 0) != 0 {
			t.Fatal("a 429 to a request sent before the cut cut again")
		}
	}
	want("429s to requests sent before the cut are one episode", 51)

	at(100 * time.Millisecond)
	late := p.sent()
	p.accept()
	if p.pushBack(late, 0) != 0 {
		t.Error("an isolated 429 within a second of the cut cut again")
	}
	want("after an isolated 429 the rate has grown a little", 51*math.Pow(1.25, 0.1))

	at(900 * time.Millisecond)
	p.accept()
	want("a second of success raises the rate by a quarter", 51*1.25)

	// Over the limit: 60 accepted in the last second, a 429 a second after
	// the cut is news.
	for range 53 {
		at(10 * time.Millisecond)
		p.sent()
		p.accept()
	}
	r := p.rate()
	acc, _ := p.rates(clock)
	if got := p.pushBack(p.sent(), 0); got != 0.85*min(r, acc) {
		t.Errorf("429 past the calm interval: cut to %v, want 0.85 × min(%v, %v)", got, r, acc)
	}

	// A burst of 429s (more than the answers accepted) cuts at once, once
	// per round trip.
	cut := p.rate()
	at(5 * time.Millisecond)
	s := p.sent()
	for range 3 {
		p.pushBack(s, 0)
	}
	if p.rate() >= cut {
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
	if r := p.pushBack(p.sent(), 0); r != 0.85*22/2 {
		t.Errorf("429 with nothing accepted: rate %v, want 0.85 × half of 11 sent in 0.5s", r)
	}
	clock = clock.Add(time.Minute)
	p.accept()
	if p.rate() != 80 {
		t.Errorf("after a minute of success: rate %v, want the ceiling 80", p.rate())
	}
	for range 40 {
		clock = clock.Add(2 * time.Second)
		p.pushBack(p.sent(), 0)
	}
	if p.rate() != paceMinRate {
		t.Errorf("after 40 cuts: rate %v, want the floor %v", p.rate(), paceMinRate)
	}
}

func TestPaceGate(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPace(0)
	p.now = func() time.Time { return clock }
	p.pushBack(clock, time.Second)
	if err := p.waitGate(context.Background()); err != nil {
		t.Fatalf("a 1s Retry-After closed the gate for everyone: %v", err)
	}
	p.pushBack(clock, time.Hour)
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
