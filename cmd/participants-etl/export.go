package main

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

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
	"github.com/participants-etl/participants-etl/transform"
)

// Exit codes: what a run's outcome means to whoever retries it.
const (
	exitOK      = 0 // every listed session exported
	exitFailed  = 1 // nothing committed; a retry may cure it
	exitUsage   = 2 // usage or configuration; a retry will not cure it
	exitPartial = 3 // committed, but some sessions (named in the report) were not exported
)

// runner holds what outlives one export: the process's clock, logger,
// standard input and store options. Each export builds its own client, so
// its counters belong to that run.
type runner struct {
	log   *slog.Logger
	now   func() time.Time
	stdin io.Reader
	store load.OpenOptions
	// tokens overrides the credentials (demo uses the simulator's).
	tokens extract.TokenSource
}

var errTooManyFailed = errors.New("too many sessions failed")

// export runs one export of cfg at the given logical time and returns its
// report, which carries the exit code. It logs one summary line.
func (r *runner) export(ctx context.Context, cfg Config, logical time.Time) *Report {
	started := r.now()
	slot := load.Slot{LogicalTime: logical.UTC().Truncate(time.Second), ShardIndex: cfg.ShardIndex, ShardCount: cfg.ShardCount}
	rep := &Report{
		ReportVersion: 1,
		RunID:         newRunID(slot.LogicalTime),
		LogicalTime:   slot.LogicalTime.Format(time.RFC3339),
		Shard:         shardInfo{cfg.ShardIndex, cfg.ShardCount},
		StartedAt:     started.UTC().Format(time.RFC3339Nano),
		Sessions:      cfg.Sessions,
		Output:        cfg.Output,
		Failed:        []failure{},
		Invalid:       []extract.InvalidLine{},
		Files:         []load.FileInfo{},
	}
	log := r.log.With("run_id", rep.RunID, "logical_time", rep.LogicalTime, "shard", cfg.ShardIndex, "shard_count", cfg.ShardCount)
	log.Info("run starting", "sessions_source", cfg.Sessions, "output", cfg.Output)

	table, err := r.do(ctx, cfg, slot, rep, log)
	if table != nil {
		defer table.Close()
	}
	finished := r.now()
	rep.FinishedAt = finished.UTC().Format(time.RFC3339Nano)
	rep.DurationSec = finished.Sub(started).Seconds()
	rep.ExitCode = exitCode(err, rep)
	switch {
	case err != nil:
		rep.Status, rep.Error = "failed", err.Error()
	case rep.ExitCode == exitPartial:
		rep.Status = "partial"
	default:
		rep.Status = "succeeded"
	}

	// The report is written last, after publishing; a failed run's report
	// tells the operator why nothing was committed. A stopped run has no
	// time to spare for it.
	if table != nil && !errors.Is(err, context.Canceled) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		b, _ := json.MarshalIndent(rep, "", "  ")
		path, werr := table.WriteReport(wctx, slot, rep.RunID, append(b, '\n'))
		cancel()
		if werr != nil {
			log.Error("could not write the run report", "error", werr)
			if rep.ExitCode == exitOK || rep.ExitCode == exitPartial {
				// The data is committed; the report is what says so.
				log.Warn("data is published but the report is missing; a rerun of this logical time rewrites both")
			}
		} else {
			log.Debug("run report written", "path", path)
		}
	}
	r.summary(log, rep, err)
	return rep
}

func exitCode(err error, rep *Report) int {
	switch {
	case err == nil:
		if rep.Counts.SessionsFailed > 0 || (rep.Shard.Index == 0 && rep.Counts.SessionsInvalid > 0) {
			return exitPartial
		}
		return exitOK
	case errors.Is(err, extract.ErrUnauthorized), errors.Is(err, load.ErrStoreAccess):
		return exitUsage
	case errors.Is(err, extract.ErrAPIUnreachable):
		// Down, unreachable or silent is usually passing, and a wrong
		// --api-url looks the same from here: let the Job retry.
		return exitFailed
	default:
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailed
	}
}

func (r *runner) summary(log *slog.Logger, rep *Report, err error) {
	c := rep.Counts
	attrs := []any{
		"status", rep.Status, "exit_code", rep.ExitCode, "duration_seconds", round(rep.DurationSec),
		"sessions_listed", c.SessionsListed, "sessions_in_shard", c.SessionsInShard,
		"sessions_exported", c.SessionsExported, "sessions_failed", c.SessionsFailed,
		"sessions_invalid", c.SessionsInvalid, "pages", c.Pages, "rows", c.Rows,
		"participants_without_timelog", c.ParticipantsWithoutTimelog,
		"requests", rep.API.Requests, "retries_by_cause", rep.API.RetriesByCause, "files", len(rep.Files),
	}
	if err != nil {
		log.Error("run failed, nothing committed", append(attrs, "error", err.Error())...)
		return
	}
	log.Info("run finished", attrs...)
}

func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// do is the run proper. It returns the table (for the report) once the
// output was opened, and an error when nothing was committed.
func (r *runner) do(ctx context.Context, cfg Config, slot load.Slot, rep *Report, log *slog.Logger) (*load.Table, error) {
	list, err := r.readSessions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rep.Counts.SessionsListed = len(list.IDs)
	rep.Counts.SessionsInvalid = len(list.Invalid) + list.InvalidOmitted
	rep.Counts.DuplicateLines = list.Duplicates
	if cfg.ShardIndex == 0 { // invalid lines are shard 0's to report
		rep.Invalid = append(rep.Invalid, list.Invalid...)
		rep.InvalidOmitted = list.InvalidOmitted
		for _, bad := range list.Invalid {
			log.Warn("invalid line in session list, not sent", "line", bad.Line, "value", bad.Value, "reason", bad.Reason)
		}
	}
	ids := list.IDs
	if cfg.ShardCount > 1 {
		ids = ids[:0:0]
		for _, id := range list.IDs {
			if shardOf(id, cfg.ShardCount) == cfg.ShardIndex {
				ids = append(ids, id)
			}
		}
	}
	rep.Counts.SessionsInShard = len(ids)

	table, err := load.Open(ctx, cfg.Output, r.store) // its errors name the output
	if err != nil {
		return nil, err
	}
	client, err := r.newClient(cfg)
	if err != nil {
		return table, err
	}
	run, err := table.Begin(ctx, slot, rep.RunID, load.WriteOptions{
		RowGroupRows:  cfg.RowGroupRows,
		RowGroupBytes: cfg.RowGroupBytes,
		MaxFileBytes:  cfg.MaxFileBytes,
	})
	if err != nil {
		return table, fmt.Errorf("begin run: %w", err)
	}
	published := false
	defer func() {
		if !published {
			// Remove this run's staging now if there is time; otherwise the
			// next run of the slot does.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
			if err := run.Abort(actx); err != nil {
				log.Warn("could not remove this run's staging; the next run of this slot will", "error", err)
			}
			cancel()
		}
	}()

	err = r.extractAll(ctx, cfg, client, run, ids, rep, log)
	st := client.Stats()
	rep.API = apiCounts{Requests: st.Requests, RetriesByCause: st.RetriesByCause, Rereads: st.Rereads, RateLimited: st.RateLimited}
	rep.Counts.Pages = st.Pages
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
	files, err := run.Publish(pctx)
	if err != nil {
		return table, fmt.Errorf("publish: %w", err)
	}
	published = true
	rep.Files = append(rep.Files, files...)
	for _, f := range files {
		log.Info("file published", "path", f.Path, "rows", f.Rows, "bytes", f.Bytes)
	}
	return table, nil
}

func (r *runner) readSessions(ctx context.Context, cfg Config) (extract.SessionList, error) {
	rc := io.NopCloser(r.stdin)
	if cfg.Sessions != "-" {
		var err error
		// A missing file or object wraps load.ErrStoreAccess: exit 2.
		if rc, err = load.ReadObject(ctx, cfg.Sessions, r.store); err != nil {
			return extract.SessionList{}, fmt.Errorf("read session list: %w", err)
		}
	}
	defer rc.Close()
	list, err := extract.ReadSessionList(rc, cfg.MaxSessions)
	if err != nil {
		return list, fmt.Errorf("read session list %s: %w", cfg.Sessions, err)
	}
	return list, nil
}

func (r *runner) newClient(cfg Config) (*extract.Client, error) {
	tokens := r.tokens
	if tokens == nil {
		if cfg.Credentials.Token != "" {
			tokens = extract.StaticToken(cfg.Credentials.Token)
		} else {
			tokens = extract.NewMinter(cfg.Credentials.APIKey, cfg.Credentials.Secret, 30*time.Minute)
		}
	}
	return extract.NewClient(extract.Options{
		BaseURL:          cfg.APIURL,
		Tokens:           tokens,
		Concurrency:      cfg.Concurrency,
		PerPage:          cfg.PerPage,
		RequestTimeout:   cfg.RequestTimeout,
		FirstByteTimeout: cfg.FirstByteTimeout,
		MaxAttempts:      cfg.MaxAttempts,
		RetryDeadline:    cfg.RetryDeadline,
		Rate:             cfg.Rate,
		Logger:           r.log,
	})
}

// sessionRows is one session's rows on their way to the single writer.
type sessionRows struct {
	rows  []transform.Row
	stats transform.Stats
}

// extractAll fetches every session with at most cfg.Concurrency sessions in
// progress, and feeds their rows to one writer goroutine. The channel
// between them is short, so a slow store slows the fetching down and memory
// stays bounded by concurrency, not by the number of sessions.
func (r *runner) extractAll(ctx context.Context, cfg Config, client *extract.Client, run *load.Run, ids []string, rep *Report, log *slog.Logger) error {
	g, gctx := errgroup.WithContext(ctx)
	out := make(chan sessionRows, 2)

	var (
		mu       sync.Mutex // guards rep.Failed and rep.Counts.SessionsFailed
		done     atomic.Int64
		rows     atomic.Int64
		maxFails = int(cfg.MaxFailedFraction * float64(len(ids)))
	)
	stopProgress := r.progress(ctx, cfg.ProgressInterval, log, len(ids), &done, &rows, client)
	defer stopProgress()

	// The writer: the only goroutine that touches the run, with one Arrow
	// builder reused for every session.
	g.Go(func() error {
		b := transform.NewBuilder(nil)
		defer b.Release()
		for sr := range out {
			b.Append(sr.rows...)
			rec := b.NewRecord()
			err := run.Write(gctx, rec)
			rec.Release()
			if err != nil {
				return fmt.Errorf("write parquet: %w", err)
			}
			rep.Counts.Stats.Add(sr.stats)
			rep.Counts.SessionsExported++
			rows.Add(int64(sr.stats.Rows))
		}
		return nil
	})

	// The fetchers, and the goroutine that closes out once they are done.
	fetchers, fctx := errgroup.WithContext(gctx)
	fetchers.SetLimit(cfg.Concurrency)
	g.Go(func() error {
		defer close(out)
		for _, id := range ids {
			if fctx.Err() != nil {
				break
			}
			fetchers.Go(func() error {
				defer done.Add(1)
				s, err := client.FetchSession(fctx, id)
				if err != nil {
					var se *extract.SessionError
					if !errors.As(err, &se) || fctx.Err() != nil {
						return err
					}
					log.Warn("session failed", "session_id", id, "reason", se.Reason)
					mu.Lock()
					defer mu.Unlock()
					rep.Failed = append(rep.Failed, failure{SessionID: id, Reason: se.Reason})
					rep.Counts.SessionsFailed++
					if rep.Counts.SessionsFailed > maxFails {
						return fmt.Errorf("%w: %d of %d sessions failed, more than --max-failed-fraction %g; the API is probably down (last: %s)",
							errTooManyFailed, rep.Counts.SessionsFailed, len(ids), cfg.MaxFailedFraction, se.Reason)
					}
					return nil
				}
				rows, st := transform.Rows(s, transform.Meta{ExtractedAt: r.now(), RunID: rep.RunID})
				select {
				case out <- sessionRows{rows: rows, stats: st}:
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

// progress logs a progress line every interval until the returned func is
// called.
func (r *runner) progress(ctx context.Context, every time.Duration, log *slog.Logger, total int, done, rows *atomic.Int64, client *extract.Client) func() {
	if every <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		start, lastPages := r.now(), int64(0)
		last := start
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now, pages := r.now(), client.Stats().Pages
			rate := float64(pages-lastPages) / now.Sub(last).Seconds()
			log.Info("progress", "sessions_done", done.Load(), "sessions_total", total, "rows", rows.Load(),
				"pages", pages, "pages_per_second", round(rate), "elapsed_seconds", round(now.Sub(start).Seconds()))
			last, lastPages = now, pages
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// newRunID is unique per run and sorts by logical time.
func newRunID(logical time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return logical.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
