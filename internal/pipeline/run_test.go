package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/tabletest"
)

const (
	testAPIKey = "test-api-key"
	testSecret = "test-secret"
)

// lt1 is the logical time of the tests' runs, and of the first tick of
// the incremental ones.
var lt1 = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

// lineWriter sends each log line to a channel, so a test waits for a line
// instead of for time to pass.
type lineWriter chan<- string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

func TestProgressOnAFakeClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(lt1)
	lines := make(chan string, 10)
	r := &run{opts: Options{ProgressInterval: 5 * time.Second}, clock: clk, log: slog.New(slog.NewJSONHandler(lineWriter(lines), nil))}
	var done, rows, pages atomic.Int64
	stop := r.progress(t.Context(), 10, &done, &rows, pages.Load)
	defer stop()
	for i := int64(1); i <= 3; i++ {
		done.Store(i)
		rows.Store(100 * i)
		pages.Store(10 * i)
		clk.Step(5 * time.Second)
		var line struct {
			Msg            string
			SessionsDone   int64 `json:"sessions_done"`
			SessionsTotal  int64 `json:"sessions_total"`
			Rows, Pages    int64
			PagesPerSecond float64 `json:"pages_per_second"`
			ElapsedSeconds float64 `json:"elapsed_seconds"`
		}
		select {
		case l := <-lines:
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no progress line after step %d", i)
		}
		if line.Msg != "progress" || line.SessionsDone != i || line.SessionsTotal != 10 || line.Rows != 100*i ||
			line.Pages != 10*i || line.PagesPerSecond != 2 || line.ElapsedSeconds != float64(5*i) {
			t.Errorf("step %d: %+v", i, line)
		}
	}
	stop()
	select {
	case l := <-lines:
		t.Errorf("a line after stop: %s", l)
	default:
	}
}

// runOptions runs the sessions of srv, and the missing IDs, at lt1 into a
// temporary table.
func runOptions(t *testing.T, srv *videosdktest.Server, missing ...string) Options {
	return testOptions(srv, t.TempDir(), lt1, append(idsOf(srv.Snapshot(), nil), missing...))
}

// testOptions runs the sessions ids of srv at logical into the table at
// out, on a fake clock 3 minutes past logical (so that runs at distinct
// logical times extract at distinct times).
func testOptions(srv *videosdktest.Server, out string, logical time.Time, ids []string) Options {
	return Options{
		Sessions:    "-",
		Stdin:       strings.NewReader(strings.Join(ids, "\n") + "\n"),
		Output:      out,
		LogicalTime: logical,
		API: extract.Options{
			BaseURL: srv.URL(),
			Tokens:  extract.NewMinter(testAPIKey, []byte(testSecret), 10*time.Minute),
		},
		MaxFailedFraction: DefaultMaxFailedFraction,
		Clock:             clocktesting.NewFakeClock(logical.Add(3 * time.Minute)),
	}
}

func idsOf(sessions []videosdktest.Session, keep func(videosdktest.Session) bool) []string {
	var ids []string
	for _, s := range sessions {
		if keep == nil || keep(s) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// serve starts a simulator of sessions for the test.
func serve(t *testing.T, sessions []videosdktest.Session) *videosdktest.Server {
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: testAPIKey, Secret: []byte(testSecret)})
	t.Cleanup(srv.Close)
	return srv
}

// newSim serves n generated sessions.
func newSim(t *testing.T, n int) *videosdktest.Server {
	return serve(t, videosdktest.Generate(5, n))
}

// readReportFile returns the one run report under out, which must be in
// the partition of lt1's day, as every run here is.
func readReportFile(t *testing.T, out string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(out, "_runs", "dt="+lt1.Format(time.DateOnly), "*.json"))
	if len(paths) != 1 {
		t.Fatalf("reports: %v", paths)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReportOfAPartialRun reads the written report as JSON: its field
// names are what operators' tooling reads.
func TestReportOfAPartialRun(t *testing.T) {
	srv := newSim(t, 4)
	opts := runOptions(t, srv, "missing-session")
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(heap) // resident, as written: a floor under the peak the report gives
	rep, err := Run(t.Context(), opts)
	if err != nil || rep.ExitCode != ExitPartial || rep.Status != "partial" {
		t.Fatalf("exit %d, status %s, err %v", rep.ExitCode, rep.Status, err)
	}
	if rep.StartedAt != "2026-11-26T14:03:00Z" || rep.DurationSec != 0 {
		t.Errorf("started %s, took %gs: not the run's clock", rep.StartedAt, rep.DurationSec)
	}
	b := readReportFile(t, opts.Output)
	var written struct {
		Counts map[string]any `json:"counts"`
		API    map[string]any `json:"api"`
		Failed []Failure      `json:"failed_sessions"`
		Peak   int64          `json:"peak_rss_bytes"`
	}
	if err := json.Unmarshal([]byte(b), &written); err != nil {
		t.Fatal(err)
	}
	if floor := int64(heap[0].Value.Uint64()); runtime.GOOS == "linux" && (written.Peak < floor || written.Peak != rep.PeakRSSBytes) {
		t.Errorf("peak_rss_bytes %d (report %d); the heap's objects alone took %d before the run", written.Peak, rep.PeakRSSBytes, floor)
	}
	for _, k := range []string{"requests", "retries_by_cause", "session_rereads", "rate_limited_responses"} {
		if _, ok := written.API[k]; !ok {
			t.Errorf("api.%s missing from the report:\n%s", k, b)
		}
	}
	c := written.Counts
	if c["sessions_failed"] != 1.0 || c["sessions_exported"] != 4.0 || c["sessions_listed"] != 5.0 || c["pages"] != written.API["pages"] {
		t.Errorf("counts %v, api %v", c, written.API)
	}
	if len(written.Failed) != 1 || written.Failed[0].SessionID != "missing-session" {
		t.Errorf("failed sessions %+v", written.Failed)
	}
}

// TestFailureCeilingIsTheWriters: the failure that crosses the ceiling
// stops the run, which commits nothing.
func TestFailureCeilingIsTheWriters(t *testing.T) {
	srv := newSim(t, 3)
	opts := runOptions(t, srv, "missing-a", "missing-b")
	opts.MaxFailedFraction = 0.2 // one failure of five is allowed, two are not
	rep, err := Run(t.Context(), opts)
	if !errors.Is(err, errTooManyFailed) || rep.ExitCode != ExitFailed || rep.Status != "failed" {
		t.Fatalf("exit %d, status %s, err %v", rep.ExitCode, rep.Status, err)
	}
	if rep.Counts.SessionsFailed != len(rep.Failed) || len(rep.Failed) != 2 {
		t.Errorf("sessions_failed %d, failed %+v", rep.Counts.SessionsFailed, rep.Failed)
	}
	if files, _ := filepath.Glob(filepath.Join(opts.Output, "participant_timelogs", "*", "*")); len(files) != 0 {
		t.Errorf("files committed past the ceiling: %v", files)
	}
}

// TestBatchesKeepSessionsWhole: the writer gathers sessions into batches of
// about batchRows rows; with parts rolling after every batch, each session
// is still in exactly one file, every row is there and the report counts
// every session once.
func TestBatchesKeepSessionsWhole(t *testing.T) {
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var sessions []videosdktest.Session
	rows := 0
	for i := 0; rows < 3*batchRows; i++ {
		s := videosdktest.Session{ID: fmt.Sprintf("s%04d", i)}
		for j := range 1 + i%700 {
			start := base.Add(time.Duration(rows) * time.Second)
			s.Participants = append(s.Participants, videosdktest.Participant{ID: fmt.Sprintf("p%d", j),
				Timelog: []videosdktest.Entry{{Start: start.Format(time.RFC3339), End: start.Add(time.Hour).Format(time.RFC3339)}}})
			rows++
		}
		sessions = append(sessions, s)
	}
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: testAPIKey, Secret: []byte(testSecret), MaxPerPage: 1000})
	t.Cleanup(srv.Close)
	opts := runOptions(t, srv)
	opts.API.PerPage = 1000
	opts.Write.MaxFileBytes = 1 // every batch closes its part
	rep, err := Run(t.Context(), opts)
	if err != nil || rep.ExitCode != ExitOK {
		t.Fatalf("exit %d, err %v", rep.ExitCode, err)
	}
	if rep.Counts.SessionsExported != len(sessions) || rep.Counts.Rows != rows {
		t.Errorf("exported %d sessions and %d rows, want %d and %d", rep.Counts.SessionsExported, rep.Counts.Rows, len(sessions), rows)
	}
	if len(rep.Files) < 3 || len(rep.Files) >= len(sessions) {
		t.Errorf("%d files for %d sessions of %d rows: want a few batches", len(rep.Files), len(sessions), rows)
	}
	fileOf := map[string]string{}
	total := 0
	for _, f := range rep.Files {
		got, err := tabletest.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		total += len(got)
		for _, r := range got {
			if other, ok := fileOf[r.SessionID]; ok && other != f.Path {
				t.Fatalf("session %s spans %s and %s", r.SessionID, other, f.Path)
			}
			fileOf[r.SessionID] = f.Path
		}
	}
	if total != rows || len(fileOf) != len(sessions) {
		t.Errorf("read %d rows of %d sessions, want %d of %d", total, len(fileOf), rows, len(sessions))
	}
}
