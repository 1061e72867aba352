package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apache/arrow-go/v18/parquet"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/pipeline"
	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/load"
	"github.com/participants-etl/participants-etl/transform"
)

const (
	testAPIKey = "test-api-key"
	// testSecret is distinctive so that a leak test can grep for it.
	testSecret = "SECRET-7f3a9c-never-print-me"
)

func credsEnv(extra map[string]string) env {
	m := map[string]string{"VIDEOSDK_API_KEY": testAPIKey, "VIDEOSDK_SECRET_KEY": testSecret}
	for k, v := range extra {
		m[k] = v
	}
	return envMap(m)
}

// cliResult is what one in-process run of the command left behind.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command in-process, as main would, with env as the whole
// environment and JSON logs at debug level captured.
func runCLI(t *testing.T, ctx context.Context, e env, stdin string, args ...string) cliResult {
	t.Helper()
	return runProcess(t, ctx, process{getenv: e, stdin: strings.NewReader(stdin)}, args...)
}

// runProcess is runCLI with the rest of the process given: store options,
// a clock. Its output goes to the result.
func runProcess(t *testing.T, ctx context.Context, p process, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	p.stdout, p.stderr = &out, &errb
	args = append(args, "--log-format", "json", "--log-level", "debug", "--progress-interval", "0")
	code := runMain(ctx, args, p)
	return cliResult{code, out.String(), errb.String()}
}

func writeList(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func ids(sessions []videosdktest.Session) []string {
	out := make([]string, len(sessions))
	for i, s := range sessions {
		out[i] = s.ID
	}
	return out
}

// key is a row's key in the table.
type key = videosdktest.RowKey

// wantRows is the rows the table must hold for these sessions, from the
// simulator's oracle.
func wantRows(t *testing.T, sessions []videosdktest.Session) map[key]transform.Row {
	t.Helper()
	want, err := videosdktest.WantRows(sessions)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// readParquet reads a file back through tabletest, which finds every column
// by its name and shares no code with the writer: a swap of two same-typed
// columns in the writer shows here as wrong values.
func readParquet(t *testing.T, path string) []transform.Row {
	t.Helper()
	rows, err := tabletest.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func readParquetFrom(t *testing.T, path string, r parquet.ReaderAtSeeker) []transform.Row {
	t.Helper()
	rows, err := tabletest.Read(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// checkRows asserts that got holds exactly the rows of want, each once, with
// run_id runID and extracted_at inside the run.
func checkRows(t *testing.T, got []transform.Row, want map[key]transform.Row, runID string, from, to time.Time) {
	t.Helper()
	seen := map[key]bool{}
	bad := 0
	for _, r := range got {
		k := key{SessionID: r.SessionID, ParticipantID: r.ParticipantID, TimelogIndex: r.TimelogIndex}
		if seen[k] {
			t.Errorf("row %v appears twice", k)
			bad++
		}
		seen[k] = true
		w, ok := want[k]
		if !ok {
			t.Errorf("unexpected row %v", k)
			bad++
			continue
		}
		if runID != "" && r.RunID != runID {
			t.Errorf("row %v: run_id %q, want %q", k, r.RunID, runID)
		}
		at := time.UnixMicro(r.ExtractedAt)
		if at.Before(from.Truncate(time.Microsecond)) || at.After(to) {
			t.Errorf("row %v: extracted_at %s outside the run [%s, %s]", k, at, from, to)
		}
		r.ExtractedAt, r.RunID = 0, ""
		if !reflect.DeepEqual(r, w) {
			g, _ := json.Marshal(r)
			ww, _ := json.Marshal(w)
			t.Errorf("row %v:\n got %s\nwant %s", k, g, ww)
			bad++
		}
		if bad > 20 {
			t.Fatal("too many bad rows")
		}
	}
	var missing []string
	for k := range want {
		if !seen[k] {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d rows missing, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
}

// readReports returns every run report under root/_runs, oldest first.
func readReports(t testing.TB, root string) []pipeline.Report {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, "_runs", "dt=*", "*.json"))
	var reps []pipeline.Report
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var r pipeline.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		reps = append(reps, r)
	}
	sort.Slice(reps, func(i, j int) bool { return reps[i].StartedAt < reps[j].StartedAt })
	return reps
}

func onlyReport(t testing.TB, root string) pipeline.Report {
	t.Helper()
	reps := readReports(t, root)
	if len(reps) != 1 {
		t.Fatalf("%d run reports, want 1", len(reps))
	}
	return reps[0]
}

// checkNoStaging fails t if the store folder out holds staged files, which
// who left behind.
func checkNoStaging(t *testing.T, out, who string) {
	t.Helper()
	if staged, _ := filepath.Glob(filepath.Join(out, "_staging", "*", "*", "*")); len(staged) != 0 {
		t.Errorf("%s left staging: %v", who, staged)
	}
}

// fileStamps describes the table files under root whose names match
// pattern (as filepath.Match), each with its modification time: it changes
// when one of them is written again, added or removed.
func fileStamps(t *testing.T, root, pattern string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, "participant_timelogs", "*", pattern))
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(p + "@" + fi.ModTime().String() + ";")
	}
	return b.String()
}

func newSim(t *testing.T, opts videosdktest.Options) *videosdktest.Server {
	t.Helper()
	opts.APIKey, opts.Secret = testAPIKey, []byte(testSecret)
	srv := videosdktest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// bubbleNow is the time inBubble sets its clock to: after the logical
// times the tests give, as a real run's now is.
var bubbleNow = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// inBubble runs f in a testing/synctest bubble, whose fake clock it first
// moves from 2000 to bubbleNow. Against a simulator in memory (InMemory,
// runCLIOn), a run's waits (pacing, backoff, Retry-After, timeouts, the
// server's latency and rate limit) then take no real time, and what a test
// measures in time is exact. Use it in tests that are not parallel: see
// warmZstd.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(bubbleNow)) // no wait: the bubble's clock jumps
		f(t)
	})
}

// warmZstd writes and reads back a small Parquet file, outside any bubble,
// so that the process-wide zstd codecs (load's pool of encoders, arrow-go's
// decoder) are made here. A codec is tied to the bubble it was made in (its
// channels are), and a bubble may not touch another's: one made in the
// first bubble that writes Parquet would break the next test to use it.
// The bubble tests are serial and write one file at a time, so they always
// find this encoder in the pool and never make one of their own.
func warmZstd() {
	b := transform.NewBuilder(nil)
	defer b.Release()
	b.Append(transform.Row{SessionID: "warm", ParticipantID: "p", RunID: "warm"})
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	pw, err := load.NewParquetWriter(&buf, load.ParquetOptions{})
	if err == nil {
		err = pw.Write(rec)
	}
	if err == nil {
		err = pw.Close()
	}
	if err == nil {
		_, err = tabletest.Read(bytes.NewReader(buf.Bytes()))
	}
	if err != nil {
		panic(err)
	}
}

// runCLIOn is runCLI with the API reached through api: in a bubble, the
// Client of a simulator in memory (InMemory).
func runCLIOn(t *testing.T, ctx context.Context, api *http.Client, e env, stdin string, args ...string) cliResult {
	t.Helper()
	return runProcess(t, ctx, process{getenv: e, stdin: strings.NewReader(stdin), apiClient: api}, args...)
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// requestCounter serves h and tells a test when the requests it has seen
// reach a count, so that a test waits for traffic instead of polling. It
// can also hold requests unanswered (holdFrom).
type requestCounter struct {
	h     http.Handler
	mu    sync.Mutex
	n     int
	marks map[int]chan struct{}
	// From request number holdAt on (0: none), requests wait for release.
	holdAt  int
	release chan struct{}
}

// countRequests puts a counter in front of h and serves it on loopback.
func countRequests(t *testing.T, h http.Handler) (*requestCounter, string) {
	c := &requestCounter{h: h, marks: map[int]chan struct{}{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *requestCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n++
	if ch, ok := c.marks[c.n]; ok {
		close(ch)
		delete(c.marks, c.n)
	}
	hold := c.holdAt > 0 && c.n >= c.holdAt
	release := c.release
	c.mu.Unlock()
	if hold {
		select {
		case <-release:
		case <-r.Context().Done(): // the client is gone: stopped or killed
			return
		}
	}
	c.h.ServeHTTP(w, r)
}

// holdFrom returns a channel closed once n more requests have come in, and
// holds the nth and every later one unanswered until the returned release
// is called or its client goes away: a run stopped or killed once the
// channel is closed is stopped mid-extraction, however fast it fetches.
func (c *requestCounter) holdFrom(n int) (arrived <-chan struct{}, release func()) {
	arrived = c.after(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holdAt = c.n + n
	ch := make(chan struct{})
	c.release = ch
	return arrived, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.release == ch {
			c.holdAt, c.release = 0, nil
		}
		close(ch)
	}
}

// after returns a channel closed once n more requests have come in.
func (c *requestCounter) after(n int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.marks[c.n+n]
	if !ok {
		ch = make(chan struct{})
		c.marks[c.n+n] = ch
	}
	return ch
}

// waitFor fails the test unless ch is closed within d.
func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}
