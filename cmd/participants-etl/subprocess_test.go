package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// The test binary doubles as the command: with PARTICIPANTS_ETL_CHILD=1 it
// runs main's code on its arguments instead of the tests, so signal and
// crash tests hit a real process.
func TestMain(m *testing.M) {
	if os.Getenv("PARTICIPANTS_ETL_CHILD") == "1" {
		childHooks()
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		code := runMain(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if path := os.Getenv("PARTICIPANTS_ETL_HWM_FILE"); path != "" {
			writePeakRSS(path)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// writePeakRSS records this process's peak resident set (VmHWM, in kB).
// The rusage of a waited child is no substitute: on Linux its ru_maxrss
// keeps the forked parent's high-water mark across execve, and the parent
// holds the simulator's data.
func writePeakRSS(path string) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			os.WriteFile(path, []byte(f[1]), 0o644)
		}
	}
}

// child is a running subprocess of the command.
type child struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	code   int
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lastLine is the last complete line written so far.
func (b *lockedBuffer) lastLine() string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	return lines[len(lines)-1]
}

func startChild(t *testing.T, extraEnv []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "--log-format", "json", "--progress-interval", "0")...)
	cmd.Env = append([]string{
		"PARTICIPANTS_ETL_CHILD=1",
		"VIDEOSDK_API_KEY=" + testAPIKey,
		"VIDEOSDK_SECRET_KEY=" + testSecret,
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
	}, extraEnv...)
	c := &child{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		err := cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
		if err != nil && c.code < 0 { // killed by a signal
			c.code = -1
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *child) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait returns the exit code, or fails if the child outlives d.
func (c *child) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(d):
		t.Fatalf("child still running after %s; stderr:\n%s", d, tail(c.stderr.String(), 2000))
		return 0
	}
}

// eventually polls cond every 10ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestScheduleRunsOnEveryTickAndStopsOnSIGTERM is issue 5's acceptance:
// @every 2s runs at least twice in seven seconds, never overlapping, and
// exits 0 on SIGTERM.
func TestScheduleRunsOnEveryTickAndStopsOnSIGTERM(t *testing.T) {
	sessions := videosdktest.Generate(17, 10)
	for i := range sessions { // static data, so every tick must write the same rows
		sessions[i].Live = videosdktest.NotLive
	}
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	launched := time.Now()
	c := startChild(t, nil, "schedule", "--schedule", "@every 2s", "--sessions", writeList(t, ids(sessions)...),
		"--output", out, "--api-url", srv.URL())
	time.Sleep(7 * time.Second)
	// SIGTERM while idle, between two ticks (a signal during a run is
	// TestScheduleSIGTERMDuringARun's case).
	eventually(t, 5*time.Second, "the scheduler to be idle", func() bool {
		return strings.Contains(c.stderr.lastLine(), `"message":"waiting for next tick"`)
	})
	c.signal(t, syscall.SIGTERM)
	start := time.Now()
	code := c.wait(t, 10*time.Second)
	if code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, tail(c.stderr.String(), 3000))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s to stop", d)
	}
	reps := readReports(t, out)
	if len(reps) < 2 {
		t.Fatalf("%d runs in 7s, want at least 2", len(reps))
	}
	if first, _ := time.Parse(time.RFC3339Nano, reps[1].StartedAt); first.After(launched.Add(7 * time.Second)) {
		t.Errorf("the second run started %s after launch, want within 7s", first.Sub(launched))
	}
	for i, r := range reps {
		if r.Status != "succeeded" {
			t.Errorf("run %d: %s %s", i, r.Status, r.Error)
		}
		lt, _ := time.Parse(time.RFC3339, r.LogicalTime)
		if lt.Unix()%2 != 0 {
			t.Errorf("run %d: logical time %s is not a tick of @every 2s", i, r.LogicalTime)
		}
		if i > 0 && reps[i-1].FinishedAt > r.StartedAt {
			t.Errorf("runs %d and %d overlap", i-1, i)
		}
		if i > 0 && reps[i-1].LogicalTime == r.LogicalTime {
			t.Errorf("two runs for tick %s", r.LogicalTime)
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
	if !strings.Contains(c.stderr.String(), `"message":"scheduler stopped"`) {
		t.Errorf("no stop line in the log")
	}
}

// writtenFiles lists the files under root/participant_timelogs.
func writtenFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	filepath.Walk(filepath.Join(root, "participant_timelogs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func describe(files []string) string { return fmt.Sprintf("%d files: %v", len(files), files) }

// TestScheduleSIGTERMDuringARun: a signal that arrives while a scheduled
// run is fetching stops it the way `run` stops: nothing of it is visible,
// and the exit code (1) says the run did not commit.
func TestScheduleSIGTERMDuringARun(t *testing.T) {
	sessions := videosdktest.Generate(19, 120)
	srv := newSim(t, videosdktest.Options{Sessions: sessions, Latency: 50 * time.Millisecond})
	out := t.TempDir()
	c := startChild(t, nil, "schedule", "--schedule", "@every 1s", "--sessions", writeList(t, ids(sessions)...),
		"--output", out, "--api-url", srv.URL(), "--concurrency", "2")
	eventually(t, 15*time.Second, "the first scheduled run to be fetching", func() bool { return srv.Requests() > 10 })
	c.signal(t, syscall.SIGTERM)
	start := time.Now()
	if code := c.wait(t, 10*time.Second); code != exitFailed {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, tail(c.stderr.String(), 2000))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
	if files := writtenFiles(t, out); len(files) != 0 {
		t.Errorf("an interrupted run left files in the table: %s", describe(files))
	}
	if staged, _ := filepath.Glob(filepath.Join(out, "_staging", "*", "*", "*")); len(staged) != 0 {
		t.Errorf("an interrupted run left staging: %v", staged)
	}
}
