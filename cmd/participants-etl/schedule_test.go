package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
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

// TestParseScheduleErrors: each bad schedule is a usage error whose
// message quotes what was given (never the CRON_TZ= the job adds) and says
// what is wrong.
func TestParseScheduleErrors(t *testing.T) {
	for _, tt := range []struct {
		spec, tz string
		says     []string
	}{
		{"", "", []string{"--schedule is empty"}},
		{"* * *", "", []string{`--schedule "* * *"`, "five fields"}},
		{"61 * * * *", "", []string{`--schedule "61 * * * *"`, "above maximum"}},
		{"@every 10ms", "", []string{`--schedule "@every 10ms"`, "at least 1s"}},
		{"@sometimes", "", []string{`--schedule "@sometimes"`, "@sometimes"}},
		{"0 * * * *", "Mars/Olympus", []string{`--timezone "Mars/Olympus"`, "IANA"}},
		{"CRON_TZ=UTC 0 * * * *", "Europe/Berlin", []string{"keep one"}},
		{"0 0 30 2 *", "", []string{`--schedule "0 0 30 2 *" never fires`}},
		{"0 0 31 4 *", "Europe/Berlin", []string{`--schedule "0 0 31 4 *" never fires`}},
	} {
		_, err := parseSchedule(tt.spec, tt.tz)
		var usage *usageError
		if !errors.As(err, &usage) {
			t.Errorf("parseSchedule(%q, %q) = %v, want a usage error", tt.spec, tt.tz, err)
			continue
		}
		for _, want := range tt.says {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("parseSchedule(%q, %q): %q does not say %q", tt.spec, tt.tz, err, want)
			}
		}
	}
}

// TestLoopNeverOverlaps drives the loop on a fake clock with runs longer
// than the tick interval: runs must be strictly sequential, ticks that pass
// meanwhile are skipped (and said so), and each run gets its tick as
// logical time.
func TestLoopNeverOverlaps(t *testing.T) {
	s, err := parseSchedule("@every 1s", "")
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 26, 14, 0, 0, 300e6, time.UTC))
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		running atomic.Int32
		mu      sync.Mutex
		ticks   []time.Time
	)
	code := make(chan int, 1)
	go func() {
		code <- s.loop(ctx, log, clk, nil, func(ctx context.Context, logical time.Time) int {
			if running.Add(1) != 1 {
				t.Error("two runs at once")
			}
			defer running.Add(-1)
			mu.Lock()
			ticks = append(ticks, logical)
			mu.Unlock()
			clk.Step(1500 * time.Millisecond) // longer than one interval
			return exitOK
		})
	}()
	for i := 1; i <= 4; i++ {
		logs.waitFor(t, 10*time.Second, fmt.Sprintf("wait %d", i), func(s string) bool {
			return strings.Count(s, "waiting for next tick") >= i
		})
		if i < 4 {
			clk.Step(time.Second)
		}
	}
	cancel()
	if got := <-code; got != exitOK {
		t.Errorf("loop returned %d", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ticks) != 3 {
		t.Fatalf("%d runs for 3 ticks", len(ticks))
	}
	for i, tk := range ticks {
		if !tk.Equal(tk.Truncate(time.Second)) {
			t.Errorf("logical time %s is not a tick", tk)
		}
		if i > 0 && tk.Sub(ticks[i-1]) < 2*time.Second {
			t.Errorf("runs at %s and %s: the tick during a run was not skipped", ticks[i-1], tk)
		}
	}
	if !strings.Contains(logs.String(), "skipped ticks") {
		t.Errorf("no line about the skipped ticks:\n%s", logs.String())
	}
}

// scheduled is `schedule` running in-process on a fake clock.
type scheduled struct {
	clock  *clocktesting.FakeClock
	stderr *lockedBuffer
	stop   context.CancelFunc // what SIGTERM does, through main's signal.NotifyContext
	code   chan int
}

func startScheduled(t *testing.T, now time.Time, args ...string) *scheduled {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &scheduled{clock: clocktesting.NewFakeClock(now), stderr: &lockedBuffer{}, stop: cancel, code: make(chan int, 1)}
	p := process{getenv: credsEnv(nil), stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.stderr, clock: s.clock}
	args = append(append([]string{"schedule"}, args...), "--log-format", "json", "--progress-interval", "0")
	go func() { s.code <- runMain(ctx, args, p) }()
	t.Cleanup(func() {
		cancel()
		<-s.code
	})
	return s
}

// waitIdle waits for the n-th "waiting for next tick": the loop's timer is
// then armed, and stepping the clock fires it.
func (s *scheduled) waitIdle(t *testing.T, n int) {
	t.Helper()
	s.stderr.waitFor(t, 30*time.Second, fmt.Sprintf("idle scheduler (%d)", n), func(out string) bool {
		return strings.Count(out, `"message":"waiting for next tick"`) >= n
	})
}

func (s *scheduled) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.code:
		s.code <- code // for Cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("scheduler still running 10s after the stop; stderr:\n%s", tail(s.stderr.String(), 2000))
		return 0
	}
}

// TestScheduleRunsOnEveryTick: @every 2s runs on every tick, never
// overlapping, each tick in its own slot with the whole table, and a stop
// while idle exits 0.
func TestScheduleRunsOnEveryTick(t *testing.T) {
	sessions := videosdktest.Generate(17, 10)
	for i := range sessions { // static data, so every tick must write the same rows
		sessions[i].Live = videosdktest.NotLive
	}
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	s := startScheduled(t, time.Date(2026, 11, 26, 14, 0, 1, 0, time.UTC), "--schedule", "@every 2s",
		"--sessions", writeList(t, ids(sessions)...), "--output", out, "--api-url", srv.URL())
	for i := 1; i <= 2; i++ {
		s.waitIdle(t, i)
		s.clock.Step(2 * time.Second)
	}
	s.waitIdle(t, 3)
	s.stop()
	if code := s.exitCode(t); code != exitOK {
		t.Fatalf("exit %d after the stop, want 0; stderr:\n%s", code, tail(s.stderr.String(), 3000))
	}
	// Started at 14:00:01, it ran the uncommitted tick 14:00:00 at once,
	// then 14:00:02 and 14:00:04.
	reps := readReports(t, out)
	if len(reps) != 3 {
		t.Fatalf("%d runs, want the latest tick at start and 2 ticks", len(reps))
	}
	for i, r := range reps {
		if r.Status != "succeeded" {
			t.Errorf("run %d: %s %s", i, r.Status, r.Error)
		}
		if want := fmt.Sprintf("2026-11-26T14:00:0%dZ", 2*i); r.LogicalTime != want {
			t.Errorf("run %d: logical time %s, want the tick %s", i, r.LogicalTime, want)
		}
		if i > 0 && reps[i-1].FinishedAt > r.StartedAt {
			t.Errorf("runs %d and %d overlap", i-1, i)
		}
	}
	// Each tick is its own slot; every slot holds the whole table once.
	want := wantRows(t, srv.Snapshot())
	for _, r := range reps {
		var n int64
		for _, f := range r.Files {
			n += f.Rows
		}
		if n != int64(len(want)) {
			t.Errorf("tick %s wrote %d rows, want %d", r.LogicalTime, n, len(want))
		}
	}
	if !strings.Contains(s.stderr.String(), `"message":"scheduler stopped"`) {
		t.Errorf("no stop line in the log")
	}

	// Started again at 14:00:05: the latest tick (14:00:04) is committed,
	// so it waits for the next one.
	again := startScheduled(t, time.Date(2026, 11, 26, 14, 0, 5, 0, time.UTC), "--schedule", "@every 2s",
		"--sessions", writeList(t, ids(sessions)...), "--output", out, "--api-url", srv.URL())
	again.waitIdle(t, 1)
	again.stop()
	if code := again.exitCode(t); code != exitOK {
		t.Fatalf("second scheduler: exit %d", code)
	}
	if n := len(readReports(t, out)); n != 3 {
		t.Errorf("%d runs after a restart with the latest tick committed, want still 3", n)
	}
}

// TestScheduleStopDuringARun: a stop (SIGTERM) that arrives while a
// scheduled run is fetching stops it the way `run` stops: nothing of it is
// visible, and the exit code (1) says the run did not commit.
func TestScheduleStopDuringARun(t *testing.T) {
	sessions := videosdktest.Generate(19, 120)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	requests, apiURL := countRequests(t, srv)
	// From the 11th request on, the server holds the answers: the stop
	// comes while the run is fetching.
	fetching, release := requests.holdFrom(11)
	defer release()
	out := t.TempDir()
	s := startScheduled(t, time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC), "--schedule", "@every 1s",
		"--sessions", writeList(t, ids(sessions)...), "--output", out, "--api-url", apiURL, "--concurrency", "2")
	// The first run is the latest tick's, started at once (its slot has no
	// published run).
	waitFor(t, fetching, 15*time.Second, "the first scheduled run to be fetching")
	s.stop()
	start := time.Now()
	if code := s.exitCode(t); code != exitFailed {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, tail(s.stderr.String(), 2000))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
	if files := writtenFiles(t, out); len(files) != 0 {
		t.Errorf("an interrupted run left files in the table: %s", describe(files))
	}
	checkNoStaging(t, out, "an interrupted run")
}
