package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/pipeline"
)

// The demo's simulator accepts only tokens signed with this made-up pair,
// so the demo exercises the same minting and checking as production.
const (
	demoAPIKey = "demo-api-key"
	demoSecret = "demo-secret-not-a-real-one"
)

// demo starts the built-in VideoSDK simulator on 127.0.0.1, runs one
// export against it into --output, and says where the files are.
func (p *process) demo(ctx context.Context, args []string) error {
	var (
		c       Config
		count   int
		seed    int64
		chaos   bool
		logical string
	)
	fs := newFlagSet("demo", "Usage: participants-etl demo [flags]\n\n"+
		"Exports generated sessions from a local VideoSDK simulator; no credentials needed.\n\n", p.getenv, p.stdout)
	fs.int(&count, "session-count", "", 300, "sessions the simulator generates")
	fs.Int64Var(&seed, "seed", 1, "seed of the generated sessions: the same seed starts from the same data (live sessions then grow while they are read, so a few rows may differ)")
	fs.BoolVar(&chaos, "chaos", false, "make the simulator hostile: a fifth of requests fail in every way the real API can, under a rate limit the job is not told, with tokens refused after a minute")
	bindLogicalTime(fs, &logical, "", "an hour after the newest generated session starts")
	bindExport(fs, &c, "./demo-out")
	err := fs.parse(args)
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		return err
	}
	if strings.HasPrefix(c.Output, "gs://") {
		return usagef("demo writes to a local directory; --output %s is a bucket (use run for GCS)", c.Output)
	}
	sim := videosdktest.Options{
		Sessions: videosdktest.Generate(seed, count),
		APIKey:   demoAPIKey,
		Secret:   []byte(demoSecret),
	}
	// The demo finds its sessions as a scheduled run would, through the
	// list endpoint; by default its window holds every generated session.
	oldest, newest := demoStarts(sim.Sessions)
	if logical == "" {
		c.LogicalTime = newest.Add(time.Hour)
	} else if c.LogicalTime, err = parseLogicalTime(logical, p.clock.Now()); err != nil {
		return err
	}
	if !fs.isSet("lookback", "ETL_LOOKBACK") {
		c.Lookback = max(c.Lookback, c.LogicalTime.Sub(oldest))
	}
	log := newLogger(p.stderr, c.LogFormat, c.LogLevel)
	if chaos {
		// Every fault, a rate limit the client is not told (answered
		// without Retry-After), and tokens refused a minute after first
		// use: the client finds the pace and renews tokens by itself.
		sim.Faults = videosdktest.Faults{Fraction: 0.2, Seed: seed}
		sim.RateLimit = 150
		sim.RateLimitRetryAfter = videosdktest.RetryAfterNone
		sim.TokenMaxAge = time.Minute
		if c.RequestTimeout > 2*time.Second {
			c.RequestTimeout = time.Second // the simulator's stalls outlast it
		}
	}
	srv := videosdktest.NewServer(sim)
	defer srv.Close()
	c.APIURL = srv.URL()
	c.Sessions = extract.VideoSDKSource
	log.Info("simulator started", "url", srv.URL(), "sessions", count, "chaos", chaos)

	opts := p.options(c, log)
	opts.API.Tokens = extract.NewMinter(demoAPIKey, []byte(demoSecret), 10*time.Minute)
	rep, _ := pipeline.Run(ctx, opts) // the report holds the error, and Run has logged it
	if rep.ExitCode == exitOK || rep.ExitCode == exitPartial {
		abs, _ := filepath.Abs(c.Output)
		fmt.Fprintf(p.stdout, `
Exported %d rows of %d sessions into %s
  table:   %s/participant_timelogs/dt=%s/
  reports: %s/_runs/

Try it in DuckDB (duckdb -c "..." or any DuckDB client); this run's rows only:
  SELECT participant_name, count(*) AS intervals, sum(duration_ms)/1000 AS seconds
  FROM read_parquet('%s/participant_timelogs/*/*.parquet', hive_partitioning = true)
  WHERE run_id = '%s'
  GROUP BY ALL ORDER BY seconds DESC NULLS LAST LIMIT 10;
`, rep.Counts.Rows, rep.Counts.SessionsExported, abs, abs, opts.LogicalTime.UTC().Format("2006-01-02"), abs, abs, rep.RunID)
	}
	return codeErr(rep.ExitCode)
}

// demoStarts returns the earliest and the latest start of sessions.
func demoStarts(sessions []videosdktest.Session) (oldest, newest time.Time) {
	for i, s := range sessions {
		start := s.Start
		if start.IsZero() {
			start = videosdktest.DefaultStart
		}
		if i == 0 || start.Before(oldest) {
			oldest = start
		}
		if i == 0 || start.After(newest) {
			newest = start
		}
	}
	return oldest, newest
}
