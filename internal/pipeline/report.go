package pipeline

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
	"github.com/participants-etl/participants-etl/transform"
)

// Exit codes: what a run's outcome means to whoever retries it. They are
// part of the report, so the process exits with the code its report shows.
const (
	ExitOK      = 0 // every listed session exported
	ExitFailed  = 1 // failed (nothing published, or published then failed at a later step: see Status); a retry may cure it
	ExitConfig  = 2 // configuration (credentials, bucket); a retry will not cure it
	ExitPartial = 3 // committed, but some sessions (named in the report) were not exported
)

// Report is the run report written under <output>/_runs/ after the run's
// files are published (or, for a failed run, in their place), so that an
// operator can see what every run did without reading the table.
type Report struct {
	ReportVersion  int                   `json:"report_version"`
	RunID          string                `json:"run_id"`
	LogicalTime    string                `json:"logical_time"`
	Shard          Shard                 `json:"shard"`
	StartedAt      string                `json:"started_at"`
	FinishedAt     string                `json:"finished_at"`
	DurationSec    float64               `json:"duration_seconds"`
	Status         string                `json:"status"` // Status*: succeeded, partial, published, failed, stopped
	ExitCode       int                   `json:"exit_code"`
	Error          string                `json:"error,omitempty"`
	Sessions       string                `json:"sessions_source"`
	Listing        *Listing              `json:"listing,omitempty"` // a "videosdk:" source's window and counts
	Output         string                `json:"output"`
	Counts         Counts                `json:"counts"`
	API            extract.Stats         `json:"api"`
	Failed         []Failure             `json:"failed_sessions"`
	Invalid        []extract.InvalidLine `json:"invalid_lines"`
	InvalidOmitted int                   `json:"invalid_lines_omitted,omitempty"`
	Files          []load.FileInfo       `json:"files"`
	// PeakRSSBytes is the process's peak resident memory (Linux's VmHWM)
	// when the run finished, for sizing a pod's memory; absent where the
	// system does not say.
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// Shard is the part of the session list a run exports.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Counts are the report's tallies.
type Counts struct {
	// SessionsListed counts the distinct valid IDs in the whole list, or
	// the distinct sessions the API listed for a "videosdk:" source (in
	// the window or not).
	SessionsListed int `json:"sessions_listed"`
	// SessionsInShard counts those that fall to this shard.
	SessionsInShard  int `json:"sessions_in_shard"`
	SessionsExported int `json:"sessions_exported"`
	// SessionsFailed is len(Report.Failed), set when the run finishes.
	SessionsFailed int `json:"sessions_failed"`
	// SessionsInvalid counts list lines that were not sent; they belong to
	// shard 0's report and exit code.
	SessionsInvalid int `json:"sessions_invalid"`
	DuplicateLines  int `json:"duplicate_lines"`
	// Incremental runs: the sessions of the shard skipped because an
	// earlier tick recorded them complete, and those fetched because it
	// did not (every fetched session; 0 in a full run).
	SessionsSkippedComplete int `json:"sessions_skipped_complete"`
	SessionsFetchedOpen     int `json:"sessions_fetched_open"`
	// SessionsCompleted counts the sessions this run recorded complete in
	// the ledger (every run that publishes records them).
	SessionsCompleted int   `json:"sessions_completed"`
	Pages             int64 `json:"pages"` // API.Pages, kept here for readers of counts
	transform.Stats
}

// Failure is a session the run could not export.
type Failure struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason"`
}

// Statuses of a run, in its report and summary line.
const (
	StatusSucceeded = "succeeded" // every session exported and published
	StatusPartial   = "partial"   // published, but some sessions or list lines failed
	StatusPublished = "published" // the files are in the table, then a later step failed (Error says which)
	StatusFailed    = "failed"    // nothing published
	StatusStopped   = "stopped"   // stopped by a signal before publishing; nothing published
)

// finish sets what follows from the rest of the report once the run is
// over: the derived counts, the exit code and the status. ctxErr is the
// run's context's error: a stop is told apart from a failure.
func (rep *Report) finish(err, ctxErr error) {
	rep.PeakRSSBytes = peakRSS()
	rep.Counts.SessionsFailed = len(rep.Failed)
	rep.Counts.Pages = rep.API.Pages
	rep.ExitCode = exitCode(err, rep)
	switch {
	case isPublishedError(err):
		rep.Status, rep.Error = StatusPublished, err.Error()
	case err != nil && ctxErr != nil:
		rep.Status, rep.Error = StatusStopped, err.Error()
	case err != nil:
		rep.Status, rep.Error = StatusFailed, err.Error()
	case rep.ExitCode == ExitPartial:
		rep.Status = StatusPartial
	default:
		rep.Status = StatusSucceeded
	}
}

func exitCode(err error, rep *Report) int {
	switch {
	case isPublishedError(err):
		return ExitFailed // the data is published; the next run of the slot mends the rest
	case err == nil:
		if len(rep.Failed) > 0 || (rep.Shard.Index == 0 && rep.Counts.SessionsInvalid > 0) {
			return ExitPartial
		}
		return ExitOK
	case errors.Is(err, extract.ErrUnauthorized), errors.Is(err, load.ErrStoreAccess), errors.Is(err, load.ErrShardCountChanged):
		return ExitConfig
	default:
		// extract.ErrAPIUnreachable included: an API that is down,
		// unreachable or silent is usually passing, and a wrong --api-url
		// looks the same from here; the Job's retry is the right answer.
		return ExitFailed
	}
}

// peakRSS is this process's peak resident set size in bytes, from
// /proc/self/status; 0 where there is none (not Linux).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib << 10
		}
	}
	return 0
}
