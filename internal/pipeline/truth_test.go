package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/load"
)

var errDiskFull = errors.New("no space left on device (simulated)")

// TestPublishedThenFailedSaysSo: a run whose files are published but whose
// manifest cannot be written reports status published with the error and
// the files, exits 1, and the table indeed holds its rows.
func TestPublishedThenFailedSaysSo(t *testing.T) {
	srv := newSim(t, 6)
	opts := runOptions(t, srv)
	opts.Write.PublishHook = func(step string) error {
		if step == "extras deleted" { // the manifest is next
			return errDiskFull
		}
		return nil
	}
	rep, err := Run(t.Context(), opts)
	var pe *load.PublishedError
	if !errors.As(err, &pe) || rep.Status != StatusPublished || rep.ExitCode != ExitFailed {
		t.Fatalf("status %q exit %d err %v; want published, 1, a PublishedError", rep.Status, rep.ExitCode, err)
	}
	if !strings.Contains(rep.Error, "published 1 files; then failed at extras deleted") || len(rep.Files) != 1 {
		t.Errorf("report error %q, files %v", rep.Error, rep.Files)
	}
	rows, err := tabletest.ReadFile(rep.Files[0].Path)
	if err != nil || int64(len(rows)) != rep.Files[0].Rows || rep.Counts.Rows != len(rows) {
		t.Errorf("the report says %d rows in %s, the file has %d (%v)", rep.Files[0].Rows, rep.Files[0].Path, len(rows), err)
	}
	written := readReportFile(t, opts.Output)
	if !strings.Contains(written, `"status": "published"`) {
		t.Errorf("the written report does not say published:\n%.400s", written)
	}
}

// TestStopWhileReadingStdin: a stop (SIGTERM) while the session list is an
// open stdin ends the run at once with a stopped report.
func TestStopWhileReadingStdin(t *testing.T) {
	srv := newSim(t, 1)
	opts := runOptions(t, srv)
	pr, pw := io.Pipe() // a stdin that never closes
	defer pw.Close()
	opts.Stdin = pr
	ctx, cancel := context.WithCancel(t.Context())
	opts.Logger = slog.New(slog.NewJSONHandler(onLine(func(line string) {
		if strings.Contains(line, "run starting") {
			cancel() // what SIGTERM does, through main's signal.NotifyContext
		}
	}), nil))
	begin := time.Now()
	rep, err := Run(ctx, opts)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
	if err == nil || rep.Status != StatusStopped || rep.ExitCode != ExitFailed {
		t.Fatalf("status %q exit %d err %v; want stopped, 1", rep.Status, rep.ExitCode, err)
	}
	if written := readReportFile(t, opts.Output); !strings.Contains(written, `"status": "stopped"`) {
		t.Errorf("no stopped report:\n%.400s", written)
	}
}

// TestConcurrentRunOfTheSlotStopsTheStaleOne: while run A fetches, run B of
// the same slot begins and publishes. A then stops before touching the
// table, naming B; B's rows are the table's, and A's report lists no files.
func TestConcurrentRunOfTheSlotStopsTheStaleOne(t *testing.T) {
	srv := newSim(t, 4)
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	var first sync.Once
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() { // the first request of run A waits
			held <- struct{}{}
			<-release
		})
		srv.ServeHTTP(w, r)
	}))
	defer gate.Close()

	a := runOptions(t, srv)
	a.API.BaseURL = gate.URL
	a.API.Concurrency = 1
	b := a
	b.Stdin = runOptions(t, srv).Stdin
	b.API.BaseURL = srv.URL()

	type outcome struct {
		rep *Report
		err error
	}
	doneA := make(chan outcome, 1)
	go func() {
		rep, err := Run(t.Context(), a)
		doneA <- outcome{rep, err}
	}()
	<-held // A has begun the slot and is fetching
	repB, err := Run(t.Context(), b)
	if err != nil || repB.Status != StatusSucceeded {
		t.Fatalf("run B: %s %v", repB.Status, err)
	}
	close(release)
	A := <-doneA
	if !errors.Is(A.err, load.ErrSlotTaken) || !strings.Contains(A.err.Error(), repB.RunID) || len(A.rep.Files) != 0 {
		t.Fatalf("run A: %v (files %v); want ErrSlotTaken naming run %s and no files", A.err, A.rep.Files, repB.RunID)
	}
	rows, err := tabletest.ReadFile(repB.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.RunID != repB.RunID {
			t.Fatalf("a row of run %s in the table, want only %s's", r.RunID, repB.RunID)
		}
	}
}

// onLine calls f with each log line.
type onLine func(string)

func (f onLine) Write(p []byte) (int, error) {
	f(string(p))
	return len(p), nil
}
