package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
	"github.com/participants-etl/participants-etl/transform"
)

// Defaults of Options that no other package owns, for the command's flags.
const (
	DefaultMaxFailedFraction = 0.5
	DefaultMaxSessions       = 1_000_000
	DefaultProgressInterval  = 5 * time.Second
)

// Options is everything one run needs. The zero value of a field takes the
// default its comment names.
type Options struct {
	// Sessions is where the session IDs come from: a file,
	// gs://bucket/object, "-" for Stdin, or "videosdk:" (with an optional
	// ?roomId=…&customRoomId=… query) to list the sessions that started in
	// [LogicalTime − Lookback, LogicalTime) through the API. Reports name
	// it as given.
	Sessions string
	// Lookback is the window of a "videosdk:" source; default
	// DefaultLookback.
	Lookback time.Duration
	Stdin    io.Reader
	// MaxSessions is the most IDs one list may hold; more are reported
	// invalid. 0 is no limit; the command's default is DefaultMaxSessions.
	MaxSessions int

	// Output is the table's location, a directory or gs://bucket/prefix,
	// opened (and the session list read) with Store.
	Output string
	Store  load.OpenOptions
	Write  load.WriteOptions

	// LogicalTime and the shard name the slot the run writes; the logical
	// time is truncated to the second. ShardCount 0 means 1.
	LogicalTime time.Time
	ShardIndex  int
	ShardCount  int

	// API configures the client; API.Tokens is required. API.Logger
	// defaults to Logger.
	API extract.Options
	// MaxFailedFraction: above this share of failed sessions the API is
	// probably down, and the run commits nothing. Zero fails the run on the
	// first failed session.
	MaxFailedFraction float64
	// ProgressInterval between progress lines; 0 for none.
	ProgressInterval time.Duration

	// Incremental skips, without a request, every session of the shard
	// that a run at an earlier logical time recorded complete in the
	// ledger; Full (with Incremental) fetches them all the same. Every run
	// that publishes records its complete sessions, whatever these say.
	Incremental bool
	Full        bool
	// LedgerHook, when set, is called at StepLedgerRetracted and
	// StepLedgerPending; an error stops the run there, as a crash would.
	// For tests; production leaves it nil.
	LedgerHook func(step string) error

	Clock  clock.Clock  // default: the real clock
	Logger *slog.Logger // default: discard
}

var errTooManyFailed = errors.New("too many sessions failed")

// run is one Run in progress. Its report is owned by the goroutine that
// calls Run, and during extraction by the writer goroutine alone.
type run struct {
	opts  Options
	slot  load.Slot
	clock clock.Clock
	log   *slog.Logger
	rep   *Report
	// complete is the sessions written whose every interval has an end,
	// appended by the writer goroutine, then read by record.
	complete []uint32
	// open is the sessions written with an interval still open: a
	// videosdk: source fetches them again at later ticks (load.RecordOpen).
	open []uint32
	// list is where complete and open point, by position: a position
	// takes 4 bytes where a string would take 16.
	list idList
}

// Run exports one slot and returns its report, which carries the exit code
// and the status. The error says why the run did not finish: nothing was
// published, or (a *load.PublishedError) the files were published and a
// later step failed. It is nil when the run committed, even if some
// sessions failed (rep.ExitCode is then ExitPartial). Run logs a start line
// and one summary line, and writes the report to the table whenever the
// table could be opened, a stopped run's too.
func Run(ctx context.Context, opts Options) (*Report, error) {
	slot := opts.slot()
	opts.ShardCount = slot.ShardCount
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	started := opts.Clock.Now()
	rep := &Report{
		ReportVersion: 1,
		RunID:         newRunID(slot.LogicalTime),
		LogicalTime:   slot.LogicalTime.Format(time.RFC3339),
		Shard:         Shard{opts.ShardIndex, opts.ShardCount},
		StartedAt:     started.UTC().Format(time.RFC3339Nano),
		Sessions:      opts.Sessions,
		Output:        opts.Output,
		Failed:        []Failure{},
		Invalid:       []extract.InvalidLine{},
		Files:         []load.FileInfo{},
	}
	r := &run{
		opts:  opts,
		slot:  slot,
		clock: opts.Clock,
		log:   opts.Logger.With("run_id", rep.RunID, "logical_time", rep.LogicalTime, "shard", opts.ShardIndex, "shard_count", opts.ShardCount),
		rep:   rep,
	}
	// Every line of the run carries its id, the client's included.
	apiLog := opts.API.Logger
	if apiLog == nil {
		apiLog = opts.Logger
	}
	r.opts.API.Logger = apiLog.With("run_id", rep.RunID)
	r.log.Info("run starting", "sessions_source", opts.Sessions, "output", opts.Output)

	table, err := r.do(ctx)
	if table != nil {
		defer table.Close()
	}
	finished := r.clock.Now()
	rep.FinishedAt = finished.UTC().Format(time.RFC3339Nano)
	rep.DurationSec = finished.Sub(started).Seconds()
	rep.finish(err, ctx.Err())

	// The report is written last, after publishing; a failed run's report
	// tells the operator why, and whether anything was published. A
	// stopped run writes its short report within the grace period.
	if table != nil {
		timeout := 20 * time.Second
		if rep.Status == StatusStopped {
			timeout = 5 * time.Second
		}
		r.writeReport(ctx, table, timeout)
	}
	r.summary(err)
	return rep, err
}

func (r *run) writeReport(ctx context.Context, table *load.Table, timeout time.Duration) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	b, _ := json.MarshalIndent(r.rep, "", "  ")
	path, err := table.WriteReport(wctx, r.slot, r.rep.RunID, append(b, '\n'))
	if err != nil {
		r.log.Error("could not write the run report", "error", err)
		if len(r.rep.Files) > 0 {
			// The data is committed; the report is what says so.
			r.log.Warn("data is published but the report is missing; a rerun of this logical time rewrites both",
				"files", len(r.rep.Files))
		}
		return
	}
	r.log.Debug("run report written", "path", path)
}

func (r *run) summary(err error) {
	rep := r.rep
	c := rep.Counts
	attrs := []any{
		"status", rep.Status, "exit_code", rep.ExitCode, "duration_seconds", round(rep.DurationSec),
		"sessions_listed", c.SessionsListed, "sessions_in_shard", c.SessionsInShard,
		"sessions_exported", c.SessionsExported, "sessions_failed", c.SessionsFailed,
		"sessions_invalid", c.SessionsInvalid, "sessions_skipped_complete", c.SessionsSkippedComplete,
		"sessions_fetched_open", c.SessionsFetchedOpen, "sessions_completed", c.SessionsCompleted, "pages", c.Pages, "rows", c.Rows,
		"participants_without_timelog", c.ParticipantsWithoutTimelog,
		"requests", rep.API.Requests, "retries_by_cause", rep.API.RetriesByCause, "files", len(rep.Files),
	}
	if rep.PeakRSSBytes > 0 {
		attrs = append(attrs, "peak_rss_mib", rep.PeakRSSBytes>>20)
	}
	if l := rep.Listing; l != nil {
		attrs = append(attrs, "sessions_in_window", l.SessionsInWindow, "list_pages", l.Pages, "relists", l.Relists)
	}
	switch rep.Status {
	case StatusStopped:
		r.log.Warn("run stopped, nothing published", append(attrs, "error", err.Error())...)
	case StatusPublished:
		r.log.Error("run published its files, then failed; a rerun of this slot repairs it", append(attrs, "error", err.Error())...)
	case StatusFailed:
		r.log.Error("run failed, nothing published", append(attrs, "error", err.Error())...)
	default:
		r.log.Info("run finished", attrs...)
	}
}

func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// do is the run proper. It returns the table (for the report) once the
// output was opened, and the error that kept the run from finishing.
func (r *run) do(ctx context.Context) (*load.Table, error) {
	table, err := load.Open(ctx, r.opts.Output, r.opts.Store) // its errors name the output
	if err != nil {
		return nil, err
	}
	client, err := extract.NewClient(r.opts.API)
	if err != nil {
		return table, err
	}
	// A listing that fails leaves a report saying why; nothing is begun.
	ids, err := r.sessionIDs(ctx, table, client)
	r.rep.API = client.Stats()
	if err != nil {
		return table, err
	}
	if ids, err = r.skipComplete(ctx, table, ids); err != nil {
		return table, err
	}
	lr, err := table.Begin(ctx, r.slot, r.rep.RunID, r.opts.Write)
	if err != nil {
		return table, fmt.Errorf("begin run: %w", err)
	}
	published := false
	defer func() {
		if !published {
			// Remove this run's staging now if there is time; otherwise the
			// next run of the slot does.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
			if err := lr.Abort(actx); err != nil {
				r.log.Warn("could not remove this run's staging; the next run of this slot will", "error", err)
			}
			cancel()
		}
	}()

	err = r.extractAll(ctx, client, lr, ids)
	r.rep.API = client.Stats()
	if err != nil {
		return table, err
	}
	if ctx.Err() != nil {
		return table, fmt.Errorf("stopped before publishing: %w", context.Cause(ctx))
	}
	// Publishing is the commit point: once begun it is finished, even if a
	// signal arrives meanwhile, so that no half-published run is left behind.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	// The ledger's L1 and L2 (load's "# Ledger") around P, in every run.
	if err := r.retract(pctx, table); err != nil {
		return table, fmt.Errorf("before publishing: %w", err)
	}
	files, err := lr.Publish(pctx)
	r.rep.Files = append(r.rep.Files, files...) // also the files of a *load.PublishedError
	for _, f := range files {
		r.log.Info("file published", "path", f.Path, "rows", f.Rows, "bytes", f.Bytes)
	}
	if err != nil {
		return table, fmt.Errorf("publish: %w", err)
	}
	published = true
	return table, r.record(pctx, table, files)
}

// shardIDs are the IDs of the list that fall to this run's shard, by
// index into the list, so that they take no more memory than the list.
type shardIDs struct {
	list idList
	all  bool     // the whole list
	idx  []uint32 // else the indexes of the shard's IDs
}

// idList is where a run's IDs come from: a read list (*extract.SessionList,
// compact) or the API's listing (listedIDs).
type idList interface {
	Len() int
	ID(i int) string
}

// listedIDs are the IDs of sessions the API listed.
type listedIDs []string

func (l listedIDs) Len() int        { return len(l) }
func (l listedIDs) ID(i int) string { return l[i] }

// ofShard keeps the IDs of list that fall to shard index of n.
func ofShard(list idList, index, n int) *shardIDs {
	ids := &shardIDs{list: list, all: n <= 1}
	if n > 1 {
		for i := range list.Len() {
			if shardOf(list.ID(i), n) == index {
				ids.idx = append(ids.idx, uint32(i))
			}
		}
	}
	return ids
}

func (s *shardIDs) Len() int {
	if s.all {
		return s.list.Len()
	}
	return len(s.idx)
}

func (s *shardIDs) ID(i int) string { return s.list.ID(s.index(i)) }

// index is the position in the list of the shard's i-th ID.
func (s *shardIDs) index(i int) int {
	if s.all {
		return i
	}
	return int(s.idx[i])
}

// result is one session's outcome on its way to the writer: its rows, or
// the reason it failed.
type result struct {
	at       uint32 // the session's position in the run's list
	complete bool   // every interval has an end
	rows     []transform.Row
	stats    transform.Stats
	failure  *Failure // set when the session failed
}

// extractAll fetches every session with at most API.Concurrency sessions in
// progress, and feeds their results to one writer goroutine, which alone
// updates the report. The channel between them is short, so a slow store
// slows the fetching down and memory stays bounded by concurrency, not by
// the number of sessions.
func (r *run) extractAll(ctx context.Context, client *extract.Client, lr *load.Run, ids *shardIDs) error {
	g, gctx := errgroup.WithContext(ctx)
	out := make(chan result, 2)

	var done, rows atomic.Int64 // for progress lines only
	stopProgress := r.progress(ctx, ids.Len(), &done, &rows, func() int64 { return client.Stats().Pages })
	defer stopProgress()

	// The writer: the only goroutine that touches the load run and the
	// report. Returning an error cancels the fetchers.
	maxFails := int(r.opts.MaxFailedFraction * float64(ids.Len()))
	r.list = ids.list // where the writer's complete and open positions point
	g.Go(func() error {
		w := newBatchWriter(lr, r.rep, &rows, &r.complete, &r.open)
		defer w.release()
		rep := r.rep
		for res := range out {
			done.Add(1)
			if f := res.failure; f != nil {
				rep.Failed = append(rep.Failed, *f)
				if len(rep.Failed) > maxFails {
					return fmt.Errorf("%w: %d of %d sessions failed, more than --max-failed-fraction %g; the API is probably down (last: %s)",
						errTooManyFailed, len(rep.Failed), ids.Len(), r.opts.MaxFailedFraction, f.Reason)
				}
				continue
			}
			if err := w.add(gctx, res); err != nil {
				return err
			}
		}
		// Every session handed over is written before Publish.
		return w.flush(gctx)
	})

	// The fetchers, and the goroutine that closes out once they are done.
	fetchers, fctx := errgroup.WithContext(gctx)
	limit := r.opts.API.Concurrency
	if limit <= 0 {
		limit = extract.DefaultConcurrency
	}
	fetchers.SetLimit(limit)
	g.Go(func() error {
		defer close(out)
		for i := range ids.Len() {
			if fctx.Err() != nil {
				break
			}
			id, at := ids.ID(i), uint32(ids.index(i))
			fetchers.Go(func() error {
				res, err := r.fetch(fctx, client, id, at)
				if err != nil {
					return err
				}
				select {
				case out <- res:
					return nil
				case <-fctx.Done():
					return fctx.Err()
				}
			})
		}
		return fetchers.Wait()
	})
	err := g.Wait()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
	return err
}

// batchRows is how many rows the writer gathers, whole sessions at a time,
// before it builds one Arrow record and writes it: one record and one
// Parquet write per session cost tens of microseconds each, which on small
// sessions was a large share of the CPU. A batch holds a few MiB.
const batchRows = 16 << 10

// batchWriter gathers the rows of whole sessions into one Arrow record and
// writes it to the load run once it holds batchRows rows (and at the end).
// A session is counted exported in the report only once the batch that
// holds it is written. It belongs to the writer goroutine.
type batchWriter struct {
	lr  *load.Run
	rep *Report
	b   *transform.Builder
	// pending is what the unwritten batch adds to the report.
	pending         transform.Stats
	pendingSessions int
	rows            *atomic.Int64 // rows written, for progress lines
	// complete and open are run.complete and run.open. A session goes
	// there as it is added: a batch that fails to write fails the run,
	// which then records nothing in the ledger.
	complete, open *[]uint32
}

func newBatchWriter(lr *load.Run, rep *Report, rows *atomic.Int64, complete, open *[]uint32) *batchWriter {
	return &batchWriter{lr: lr, rep: rep, b: transform.NewBuilder(nil), rows: rows, complete: complete, open: open}
}

// add appends one session's rows, writing the batch if it is full. A
// session is never split between batches, so it never spans parts.
func (w *batchWriter) add(ctx context.Context, res result) error {
	w.b.Append(res.rows...)
	w.pending.Add(res.stats)
	w.pendingSessions++
	if res.complete {
		*w.complete = append(*w.complete, res.at)
	} else {
		*w.open = append(*w.open, res.at)
	}
	if w.b.Len() >= batchRows {
		return w.flush(ctx)
	}
	return nil
}

// flush writes the gathered sessions, if any, and counts them.
func (w *batchWriter) flush(ctx context.Context) error {
	if w.pendingSessions == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	err := w.lr.Write(ctx, rec)
	rec.Release()
	if err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	w.rep.Counts.Stats.Add(w.pending)
	w.rep.Counts.SessionsExported += w.pendingSessions
	w.rows.Add(int64(w.pending.Rows))
	w.pending, w.pendingSessions = transform.Stats{}, 0
	return nil
}

func (w *batchWriter) release() { w.b.Release() }

// fetch reads one session and turns it into rows. A failure confined to
// the session is a result, not an error.
func (r *run) fetch(ctx context.Context, client *extract.Client, id string, at uint32) (result, error) {
	s, err := client.FetchSession(ctx, id)
	if err != nil {
		var se *extract.SessionError
		if !errors.As(err, &se) || ctx.Err() != nil {
			return result{}, err
		}
		r.log.Warn("session failed", "session_id", id, "reason", se.Reason)
		return result{failure: &Failure{SessionID: id, Reason: se.Reason}}, nil
	}
	rows, st := transform.Rows(s, transform.Meta{ExtractedAt: r.clock.Now(), RunID: r.rep.RunID})
	return result{at: at, complete: complete(s), rows: rows, stats: st}, nil
}

// progress logs a progress line every ProgressInterval until the returned
// func is called. The timer is armed before progress returns and re-armed
// before each line is logged, so a test on a fake clock may step it as
// soon as it has seen the previous line.
func (r *run) progress(ctx context.Context, total int, done, rows *atomic.Int64, pages func() int64) (stop func()) {
	every := r.opts.ProgressInterval
	if every <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	timer := r.clock.NewTimer(every)
	start := r.clock.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer timer.Stop()
		last, lastPages := start, int64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C():
			}
			timer.Reset(every)
			now, p := r.clock.Now(), pages()
			rate := float64(p-lastPages) / now.Sub(last).Seconds()
			r.log.Info("progress", "sessions_done", done.Load(), "sessions_total", total, "rows", rows.Load(),
				"pages", p, "pages_per_second", round(rate), "elapsed_seconds", round(now.Sub(start).Seconds()))
			last, lastPages = now, p
		}
	})
	return func() { cancel(); wg.Wait() }
}

// newRunID is unique per run and sorts by logical time.
func newRunID(logical time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return logical.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Committed reports whether the slot of opts (its logical time and shard)
// already has a published run, for a scheduler deciding whether to run a
// tick it started after.
func Committed(ctx context.Context, opts Options) (bool, error) {
	table, err := load.Open(ctx, opts.Output, opts.Store)
	if err != nil {
		return false, err
	}
	defer table.Close()
	return table.Committed(ctx, opts.slot())
}

// slot is what a run of opts replaces: its logical time, to the second, and
// its shard (of 1 when ShardCount is unset).
func (o Options) slot() load.Slot {
	return load.Slot{LogicalTime: o.LogicalTime.UTC().Truncate(time.Second), ShardIndex: o.ShardIndex, ShardCount: max(o.ShardCount, 1)}
}
