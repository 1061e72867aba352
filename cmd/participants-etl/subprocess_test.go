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
)

// The test binary doubles as the command: with PARTICIPANTS_ETL_CHILD=1 it
// runs main's code on its arguments instead of the tests, so signal and
// crash tests hit a real process.
func TestMain(m *testing.M) {
	if os.Getenv("PARTICIPANTS_ETL_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		code := runMain(ctx, os.Args[1:], childProcess())
		stop()
		os.Exit(code)
	}
	warmZstd()
	os.Exit(m.Run())
}

// child is a running subprocess of the command.
type child struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	code   int
}

// lockedBuffer collects a child's output while the test reads it, and
// wakes waitFor on every write.
type lockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed on the next write
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

// waitFor returns once cond holds for everything written so far, checking
// after each write; it fails the test if that takes longer than d.
func (b *lockedBuffer) waitFor(t *testing.T, d time.Duration, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		s := b.buf.String()
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if cond(s) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s; output:\n%s", d, what, tail(s, 2000))
		}
	}
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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

// TestScheduleStopsOnSIGTERM: a real process, idle between two ticks,
// exits 0 at once on SIGTERM. (Ticks and a stop during a run are driven
// in-process on a fake clock: TestScheduleRunsOnEveryTick and
// TestScheduleStopDuringARun.)
func TestScheduleStopsOnSIGTERM(t *testing.T) {
	c := startChild(t, nil, "schedule", "--schedule", "@every 1h", "--sessions", writeList(t, "abc"),
		"--output", t.TempDir(), "--api-url", "http://127.0.0.1:1")
	c.stderr.waitFor(t, 10*time.Second, "the scheduler to be idle", func(s string) bool {
		return strings.Contains(s, `"message":"waiting for next tick"`)
	})
	c.signal(t, syscall.SIGTERM)
	start := time.Now()
	if code := c.wait(t, 10*time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, tail(c.stderr.String(), 3000))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s to stop", d)
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
