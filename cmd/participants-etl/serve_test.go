package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestServeThenRun follows the README: serve prints the environment and a
// session list; run, given exactly that, exports every listed session.
func TestServeThenRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	list := filepath.Join(t.TempDir(), "ids.txt")
	served := make(chan int, 1)
	go func() {
		served <- runMain(ctx, []string{"serve", "--session-count", "12", "--list", list}, process{getenv: envMap(nil), stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard})
		pw.Close()
	}()

	vars := map[string]string{}
	var runLines []string
	sc := bufio.NewScanner(pr)
	for len(runLines) < 2 && sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			vars[k] = v
		}
		if strings.HasPrefix(line, "participants-etl run ") {
			runLines = append(runLines, line)
		}
	}
	if len(runLines) != 2 {
		t.Fatalf("serve printed run lines %q, want one with the list and one with videosdk:", runLines)
	}
	runLine := runLines[0]
	go io.Copy(io.Discard, pr) // serve prints nothing more, but never block it
	for _, k := range []string{"VIDEOSDK_API_URL", "VIDEOSDK_API_KEY", "VIDEOSDK_SECRET_KEY"} {
		if vars[k] == "" {
			t.Fatalf("serve did not print %s; got %v", k, vars)
		}
	}
	if !strings.Contains(runLine, "--sessions "+list) {
		t.Fatalf("serve's run line %q does not name the list %s", runLine, list)
	}

	out := t.TempDir()
	res := runCLI(t, t.Context(), envMap(vars), "", "run", "--sessions", list, "--output", out)
	if res.code != exitOK {
		t.Fatalf("run against serve: exit %d; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	if rep := onlyReport(t, out); rep.Counts.SessionsExported != 12 || rep.Counts.Rows == 0 {
		t.Errorf("run against serve exported %d sessions, %d rows; want all 12", rep.Counts.SessionsExported, rep.Counts.Rows)
	}

	// The alternative: the job lists the sessions itself.
	args := strings.Fields(strings.TrimPrefix(runLines[1], "participants-etl "))
	if !strings.Contains(runLines[1], "--sessions videosdk:") || args[len(args)-2] != "--output" {
		t.Fatalf("serve's second run line %q: want --sessions videosdk: ... --output DIR", runLines[1])
	}
	out = t.TempDir()
	args[len(args)-1] = out
	res = runCLI(t, t.Context(), envMap(vars), "", args...)
	if res.code != exitOK {
		t.Fatalf("run --sessions videosdk: against serve: exit %d; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	if rep := onlyReport(t, out); rep.Counts.SessionsExported != 12 || rep.Listing == nil || rep.Listing.SessionsInWindow != 12 {
		t.Errorf("run --sessions videosdk: against serve exported %d sessions, listing %+v; want all 12", rep.Counts.SessionsExported, rep.Listing)
	}
	cancel()
	if code := <-served; code != exitOK {
		t.Errorf("serve exited %d on stop, want 0", code)
	}
}

// TestEveryLineOfARunCarriesItsID: from "run starting" to the summary, the
// client's lines (retries, re-reads) included, each log line names the run.
func TestEveryLineOfARunCarriesItsID(t *testing.T) {
	inBubble(t, func(t *testing.T) { // stalls and timeouts on a fake clock
		sessions := videosdktest.Generate(29, 30) // live sessions: re-reads are logged
		srv := newSim(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{Fraction: 0.2, Seed: 9, Stall: 300 * time.Millisecond}})
		out := t.TempDir()
		res := runCLIOn(t, t.Context(), srv.Client(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...), "--output", out,
			"--api-url", srv.URL(), "--request-timeout", "200ms")
		if res.code != exitOK {
			t.Fatalf("exit %d; stderr:\n%s", res.code, tail(res.stderr, 2000))
		}
		runID := onlyReport(t, out).RunID
		lines, clientLines := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
			var l struct {
				Message string `json:"message"`
				RunID   string `json:"run_id"`
				Page    *int   `json:"page"`
			}
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("not a JSON log line: %s", line)
			}
			lines++
			if l.Page != nil {
				clientLines++
			}
			if l.RunID != runID {
				t.Errorf("line without run_id %s: %s", runID, line)
			}
		}
		if clientLines == 0 {
			t.Errorf("no line of the client (retries) among %d lines: the test proves nothing", lines)
		}
	})
}
