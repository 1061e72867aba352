package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// etlBinary is the participants-etl binary built by TestMain.
var etlBinary string

func TestMain(m *testing.M) {
	if code, ok := benchChild(); ok {
		os.Exit(code)
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "participants-etl-consumer-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	etlBinary = filepath.Join(dir, "participants-etl")
	// Built in the exporter's own module, with its go.sum, the way the
	// Dockerfile builds it.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=consumer-test",
		"-o", etlBinary, "./cmd/participants-etl")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build participants-etl: %v\n%s", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "built participants-etl in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// etlResult is what one invocation of the binary did.
type etlResult struct {
	code           int
	stdout, stderr string
}

// runETL runs the binary with args and the extra environment variables
// env (KEY=VALUE), in a clean environment: no VIDEOSDK_*, ETL_* or Google
// settings of the developer's leak into the test.
func runETL(t *testing.T, env []string, args ...string) etlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, etlBinary, args...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VIDEOSDK_") || strings.HasPrefix(k, "ETL_") || strings.HasPrefix(k, "GOOGLE_") ||
			k == "STORAGE_EMULATOR_HOST" || k == "JOB_COMPLETION_INDEX" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := etlResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		t.Fatalf("participants-etl %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("participants-etl %s: exit %d in %v", strings.Join(args, " "), res.code, time.Since(start).Round(time.Millisecond))
	return res
}

// mustRunETL runs the binary and fails the test unless it exits with want.
func mustRunETL(t *testing.T, want int, env []string, args ...string) etlResult {
	t.Helper()
	res := runETL(t, env, args...)
	if res.code != want {
		t.Fatalf("participants-etl %s: exit %d, want %d\nstdout:\n%s\nstderr (tail):\n%s",
			strings.Join(args, " "), res.code, want, res.stdout, tail(res.stderr, 40))
	}
	return res
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// runReport is the part of a run report (OUTPUT/_runs/dt=.../*.json) these
// tests rely on; other fields are ignored.
type runReport struct {
	RunID       string `json:"run_id"`
	LogicalTime string `json:"logical_time"`
	Status      string `json:"status"`
	ExitCode    int    `json:"exit_code"`
	Counts      struct {
		Rows             int64 `json:"rows"`
		SessionsExported int   `json:"sessions_exported"`
		SessionsFailed   int   `json:"sessions_failed"`
	} `json:"counts"`
	Files []struct {
		Path string `json:"path"`
		Rows int64  `json:"rows"`
	} `json:"files"`
}

// readReports reads every run report under root/_runs, by run ID.
func readReports(t testing.TB, root string) map[string]runReport {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "_runs", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	reports := map[string]runReport{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var r runReport
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("run report %s: %v", p, err)
		}
		if r.RunID == "" {
			continue // not a report (e.g. a manifest)
		}
		if _, dup := reports[r.RunID]; dup {
			t.Errorf("two reports for run %s", r.RunID)
		}
		reports[r.RunID] = r
	}
	if len(reports) == 0 {
		t.Fatalf("no run report under %s/_runs (have %v)", root, paths)
	}
	return reports
}
