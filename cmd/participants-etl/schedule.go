package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/utils/clock"
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// schedule is a parsed --schedule. Its ticks are the logical times of runs:
// `run --schedule` takes the latest tick at or before now, so a Job that
// Kubernetes starts late or retries still writes the same slot, and the
// `schedule` loop passes each tick's own time.
type schedule struct {
	spec  string
	sched cron.Schedule
	every time.Duration // @every: ticks on multiples of it since the Unix epoch
}

func parseSchedule(spec, timezone string) (*schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, usagef("--schedule is empty: give a cron expression such as \"0 * * * *\" or @hourly")
	}
	if strings.HasPrefix(spec, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(spec, "@every ")))
		if err != nil || d < time.Second {
			return nil, usagef("--schedule %q: @every takes a duration of at least 1s, such as @every 15m", spec)
		}
		return &schedule{spec: spec, every: d.Truncate(time.Second)}, nil
	}
	hasTZ := strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
	zoned := spec // what cron parses; messages quote spec as given
	if timezone != "" {
		if hasTZ {
			return nil, usagef("--schedule %q has a CRON_TZ= prefix and --timezone is %q: keep one", spec, timezone)
		}
		if _, err := time.LoadLocation(timezone); err != nil {
			return nil, usagef("--timezone %q is not an IANA time zone name such as Europe/Berlin", timezone)
		}
		zoned = "CRON_TZ=" + timezone + " " + spec
	} else if !hasTZ {
		zoned = "CRON_TZ=UTC " + spec
	}
	s, err := cronParser.Parse(zoned)
	if err != nil {
		return nil, usagef("--schedule %q: %v (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @every 15m)", spec, err)
	}
	// cron looks five years ahead: a spec with no tick in them (0 0 30 2 *)
	// never fires, and a scheduler would spin on it.
	if s.Next(time.Now()).IsZero() {
		return nil, usagef("--schedule %q never fires (no tick in the next five years): check the day and month fields", spec)
	}
	return &schedule{spec: zoned, sched: s}, nil
}

// Next is the first tick strictly after t.
func (s *schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return t.Truncate(s.every).Add(s.every)
	}
	return s.sched.Next(t)
}

// Latest is the last tick at or before t. cron only steps forward, so look
// back twice as far each time until a tick turns up, then step forward.
func (s *schedule) Latest(t time.Time) (time.Time, error) {
	if s.every > 0 {
		return t.Truncate(s.every), nil
	}
	t = t.Truncate(time.Second)
	for back := time.Minute; back <= 10*366*24*time.Hour; back *= 2 {
		tick := s.sched.Next(t.Add(-back))
		if tick.IsZero() || tick.After(t) {
			continue
		}
		for {
			next := s.sched.Next(tick)
			if next.IsZero() || next.After(t) {
				return tick, nil
			}
			tick = next
		}
	}
	return time.Time{}, fmt.Errorf("--schedule %q has no tick in the ten years before %s", s.spec, t.Format(time.RFC3339))
}

// loop runs export at every tick until ctx ends. Runs never overlap: the
// export runs in this goroutine, and ticks that pass while it runs are
// skipped and logged. It returns when ctx is cancelled, after any run in
// progress has stopped, with that run's exit code if the stop cut it
// short, else 0.
//
// The timer is armed before "waiting for next tick" is logged, so a test on
// a fake clock may step it as soon as it has seen that line.
//
// At start, the latest tick at or before now is run at once when
// uncommitted says its slot has no published run (so a scheduler started
// mid-hour does the hour's work now); uncommitted may be nil.
func (s *schedule) loop(ctx context.Context, log *slog.Logger, clk clock.Clock, uncommitted func(ctx context.Context, logical time.Time) bool,
	export func(ctx context.Context, logical time.Time) int) int {
	if latest, err := s.Latest(clk.Now()); err == nil && uncommitted != nil && uncommitted(ctx, latest) {
		log.Info("running the latest tick now: its slot has no published run", "logical_time", latest.UTC().Format(time.RFC3339))
		code := export(ctx, latest)
		if ctx.Err() != nil {
			return code
		}
	}
	next := s.Next(clk.Now())
	for {
		timer := clk.NewTimer(next.Sub(clk.Now()))
		log.Info("waiting for next tick", "next_run", next.UTC().Format(time.RFC3339), "schedule", s.spec)
		select {
		case <-ctx.Done():
			timer.Stop()
			return exitOK
		case <-timer.C():
		}
		code := export(ctx, next)
		if ctx.Err() != nil {
			return code
		}
		after := s.Next(clk.Now())
		if skipped := s.countBetween(next, after); skipped > 0 {
			log.Warn("skipped ticks that came while the previous run was still going", "skipped", skipped, "previous_run", next.UTC().Format(time.RFC3339), "exit_code", code)
		}
		next = after
	}
}

// countBetween counts ticks strictly between a and b, up to a sane bound.
func (s *schedule) countBetween(a, b time.Time) int {
	n := 0
	for t := s.Next(a); t.Before(b) && n < 1000; t = s.Next(t) {
		n++
	}
	return n
}
