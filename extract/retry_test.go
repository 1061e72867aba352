package extract

import (
	"context"
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

func TestPaceCutsAndRecovers(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPace(80)
	p.now = func() time.Time { return clock }
	p.lastChange, p.lastCut = clock.Add(-time.Hour), clock.Add(-time.Hour)
	steps := []struct {
		name    string
		advance time.Duration
		throttl bool
		want    float64
	}{
		{"429 halves", 0, true, 40},
		{"second 429 within a second is the same episode", 100 * time.Millisecond, true, 40},
		{"later 429 halves again", time.Second, true, 20},
		{"floor at an eighth", time.Second, true, 10},
		{"floor holds", time.Second, true, 10},
		{"recovers a tenth per second", time.Second, false, 18},
		{"recovers to the configured rate, no further", time.Minute, false, 80},
		{"recovery does not delay the next cut", 0, true, 40},
		{"recovering", 500 * time.Millisecond, false, 44},
		{"a 429 right after a recovery still cuts", 600 * time.Millisecond, true, 22},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		if s.throttl {
			p.throttle(0)
		} else {
			p.recover()
		}
		if p.current != s.want || float64(p.limiter.Limit()) != s.want {
			t.Errorf("%s: rate = %v (limiter %v), want %v", s.name, p.current, p.limiter.Limit(), s.want)
		}
	}
}

func TestPaceGate(t *testing.T) {
	p := newPace(0)
	p.throttle(150 * time.Millisecond)
	start := time.Now()
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 140*time.Millisecond {
		t.Errorf("waited %v at a gate closed for 150ms", waited)
	}
	p.throttle(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.wait(ctx); err == nil {
		t.Error("wait at a gate closed for an hour returned nil before the context ended")
	}
}
