package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/pipeline"
)

// The simulator of demo and serve accepts only tokens signed with this
// made-up pair, so they exercise the same minting and checking as
// production.
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
	oldest, newest := demoWindow(sim.Sessions)
	if logical == "" {
		c.LogicalTime = newest
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

// serve runs the built-in VideoSDK simulator on a loopback address until
// SIGTERM or SIGINT, and prints what `run` and `schedule` need to talk to
// it: the environment variables and a session list file, or the
// --sessions videosdk: arguments whose window holds every session. It is how a
// newcomer without VideoSDK credentials follows the README's "Running it".
func (p *process) serve(ctx context.Context, args []string) error {
	var (
		count int
		seed  int64
		list  string
	)
	fs := newFlagSet("serve", "Usage: participants-etl serve [flags]\n\n"+
		"Serves a simulated VideoSDK API on 127.0.0.1 until interrupted, writes a session\n"+
		"list, and prints the environment to point run and schedule at it.\n\n", p.getenv, p.stdout)
	fs.int(&count, "session-count", "", 300, "sessions the simulator generates")
	fs.Int64Var(&seed, "seed", 1, "seed of the generated sessions")
	fs.str(&list, "list", "", "sessions.txt", "where to write the session list (one ID per line)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if count < 1 || count > 100_000 {
		return usagef("--session-count %d: want 1 to 100000", count)
	}
	sessions := videosdktest.Generate(seed, count)
	var ids strings.Builder
	for _, s := range sessions {
		ids.WriteString(s.ID + "\n")
	}
	if err := os.WriteFile(list, []byte(ids.String()), 0o644); err != nil {
		return usagef("--list %s: %v", list, unwrapPathError(err))
	}
	abs, _ := filepath.Abs(list)
	oldest, logical := demoWindow(sessions)
	hours := int(math.Ceil(logical.Sub(oldest).Hours()))
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: demoAPIKey, Secret: []byte(demoSecret)})
	defer srv.Close()
	fmt.Fprintf(p.stdout, `# A simulated VideoSDK API with %d sessions is listening; stop it with Ctrl-C.
# In another shell:
export VIDEOSDK_API_URL=%s
export VIDEOSDK_API_KEY=%s
export VIDEOSDK_SECRET_KEY=%s
participants-etl run --sessions %s --output ./out
# or let the job list the sessions itself (the window holds every generated session):
participants-etl run --sessions videosdk: --logical-time %s --lookback %dh --output ./out
`, count, srv.URL(), demoAPIKey, demoSecret, abs, logical.Format(time.RFC3339), hours)
	<-ctx.Done()
	return nil
}

// demoWindow returns the window of demo and serve: the earliest start of
// sessions, and a logical time an hour after the latest.
func demoWindow(sessions []videosdktest.Session) (oldest, logical time.Time) {
	var newest time.Time
	for i, s := range sessions {
		start := s.StartTime()
		if i == 0 || start.Before(oldest) {
			oldest = start
		}
		if i == 0 || start.After(newest) {
			newest = start
		}
	}
	return oldest, newest.Add(time.Hour)
}
