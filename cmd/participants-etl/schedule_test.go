package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestScheduleLatest(t *testing.T) {
	tests := []struct {
		spec, tz, now, want string
	}{
		{"0 * * * *", "", "2026-11-26T14:37:12Z", "2026-11-26T14:00:00Z"},
		{"0 * * * *", "", "2026-11-26T14:00:00Z", "2026-11-26T14:00:00Z"}, // at a tick: that tick
		{"@hourly", "", "2026-11-26T00:00:59Z", "2026-11-26T00:00:00Z"},
		{"@daily", "", "2026-11-26T23:59:59Z", "2026-11-26T00:00:00Z"},
		{"*/15 * * * *", "", "2026-11-26T14:44:59Z", "2026-11-26T14:30:00Z"},
		{"30 2 * * *", "Europe/Berlin", "2026-11-26T03:00:00Z", "2026-11-26T01:30:00Z"}, // 02:30 CET
		{"CRON_TZ=America/New_York 0 0 * * *", "", "2026-11-26T04:59:00Z", "2026-11-25T05:00:00Z"},
		{"0 0 1 1 *", "", "2026-11-26T14:00:00Z", "2026-01-01T00:00:00Z"},  // a year back
		{"0 0 29 2 *", "", "2026-11-26T14:00:00Z", "2024-02-29T00:00:00Z"}, // leap days only
		{"@every 15m", "", "2026-11-26T14:44:59Z", "2026-11-26T14:30:00Z"}, // aligned to the epoch
		{"@every 2s", "", "2026-11-26T14:44:59Z", "2026-11-26T14:44:58Z"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"@"+tt.now, func(t *testing.T) {
			s, err := parseSchedule(tt.spec, tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Latest(mustTime(t, tt.now))
			if err != nil {
				t.Fatal(err)
			}
			if want := mustTime(t, tt.want); !got.Equal(want) {
				t.Errorf("Latest = %s, want %s", got.UTC().Format(time.RFC3339), tt.want)
			}
			// The next tick after the latest one is after now: nothing in between.
			if next := s.Next(got); !next.After(mustTime(t, tt.now)) {
				t.Errorf("Next(Latest) = %s is not after now", next)
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, tt := range []struct{ spec, tz string }{
		{"", ""},
		{"* * *", ""},
		{"61 * * * *", ""},
		{"@every 10ms", ""},
		{"@sometimes", ""},
		{"0 * * * *", "Mars/Olympus"},
		{"CRON_TZ=UTC 0 * * * *", "Europe/Berlin"},
		{"0 0 30 2 *", ""}, // never fires
		{"0 0 31 4 *", ""},
	} {
		if _, err := parseSchedule(tt.spec, tt.tz); err == nil {
			t.Errorf("parseSchedule(%q, %q) accepted it", tt.spec, tt.tz)
		} else if _, ok := err.(*usageError); !ok {
			t.Errorf("parseSchedule(%q): %T is not a usage error", tt.spec, err)
		}
	}
}

// TestLoopNeverOverlaps drives the loop with a run longer than the tick
// interval: runs must be strictly sequential, ticks that pass meanwhile are
// skipped, and each run gets its tick as logical time.
func TestLoopNeverOverlaps(t *testing.T) {
	s, err := parseSchedule("@every 1s", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
	defer cancel()
	var (
		running atomic.Int32
		mu      sync.Mutex
		ticks   []time.Time
	)
	code := s.loop(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, func(ctx context.Context, logical time.Time) int {
		if running.Add(1) != 1 {
			t.Error("two runs at once")
		}
		defer running.Add(-1)
		mu.Lock()
		ticks = append(ticks, logical)
		mu.Unlock()
		select { // longer than one interval
		case <-time.After(1500 * time.Millisecond):
		case <-ctx.Done():
		}
		return exitOK
	})
	if code != exitOK {
		t.Errorf("loop returned %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ticks) < 2 {
		t.Fatalf("%d runs in 4.5s, want at least 2", len(ticks))
	}
	for i, tk := range ticks {
		if !tk.Equal(tk.Truncate(time.Second)) {
			t.Errorf("logical time %s is not a tick", tk)
		}
		if i > 0 && tk.Sub(ticks[i-1]) < 2*time.Second {
			t.Errorf("runs at %s and %s: the tick during a run was not skipped", ticks[i-1], tk)
		}
	}
}

func TestShardOfIsStableAndCoversAll(t *testing.T) {
	// Pinned values (FNV-1a 64 computed independently): changing the hash
	// would move sessions between shards of reruns, so these never change.
	for _, tt := range []struct {
		id      string
		n, want int
	}{
		{"61763c2597b0c743cf454204", 7, 6}, {"61763c2597b0c743cf454204", 4, 3},
		{"a1pu7evl", 7, 2}, {"x", 4, 3},
	} {
		if got := shardOf(tt.id, tt.n); got != tt.want {
			t.Errorf("shardOf(%q, %d) = %d, want %d", tt.id, tt.n, got, tt.want)
		}
	}
	if got := shardOf("abc", 1); got != 0 {
		t.Errorf("one shard: got %d", got)
	}
	counts := make([]int, 4)
	for i := 0; i < 4000; i++ {
		counts[shardOf("session-"+itoa(i), 4)]++
	}
	for i, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d took %d of 4000 IDs: the hash does not spread", i, n)
		}
	}
}

func itoa(i int) string { return time.Duration(i).String() }
