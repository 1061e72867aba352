// Participants-etl exports VideoSDK session participants to a Parquet table
// that BigQuery and DuckDB read directly.
//
// Usage:
//
//	participants-etl run      --sessions FILE|gs://BUCKET/OBJECT|-|videosdk: [flags]
//	participants-etl schedule --schedule SPEC --sessions ... [flags]
//	participants-etl demo     [--output DIR] [--chaos]
//	participants-etl serve    [--list FILE]
//	participants-etl forget   --output DIR|gs://BUCKET/PREFIX (--session ID ... | --sessions FILE | --completed-on YYYY-MM-DD)
//	participants-etl version
//
// Each run reads a list of session IDs (one per line; blank lines and #
// comments skipped), or with --sessions videosdk: lists the sessions that
// started in [logical time − --lookback, logical time) through
// GET /v2/sessions/ (optionally ?roomId=…&customRoomId=…), fetches every page of every session's participants
// from GET /v2/sessions/{id}/participants, flattens each participant's
// timelog into one row per join/leave interval, and publishes the rows as
// zstd Parquet under OUTPUT/participant_timelogs/dt=YYYY-MM-DD/, where a
// listing shows either all of a run or none of it. A rerun of the same
// logical time and shard replaces exactly that run's files. A JSON report
// of every run goes to OUTPUT/_runs/.
//
// With --incremental (ETL_INCREMENTAL) a run skips, without a request, the
// listed sessions that an earlier tick recorded complete (every interval
// ended) in the ledger, OUTPUT/_ledger/; --full (ETL_FULL) fetches them all
// the same. `participants-etl forget` removes sessions (--session,
// --sessions FILE) or a day's completions (--completed-on YYYY-MM-DD) from
// the ledger, so that the next incremental tick fetches them again.
//
// `participants-etl serve` runs the built-in simulator on a loopback address
// and prints the environment that points run and schedule at it.
//
// Credentials come from the environment only: VIDEOSDK_API_KEY with
// VIDEOSDK_SECRET_KEY or VIDEOSDK_SECRET_KEY_FILE (a token is minted and
// renewed per run), or a ready VIDEOSDK_TOKEN. GCS uses Application Default
// Credentials and honours STORAGE_EMULATOR_HOST.
//
// Exit codes:
//
//	0  every listed session was exported
//	1  the run failed; a retry may cure it. The report's status says whether
//	   nothing was published (failed, stopped) or the files were published
//	   and a later step failed (published)
//	2  usage or configuration error (flag, credentials, bucket); a retry will not
//	3  the run committed its output, but some sessions could not be exported
//	   or some list lines were invalid (each is named in the run report)
//
// Every flag can also be set by the environment variable named in
// `participants-etl run --help`.
//
// This package is the command only: it turns flags and environment into
// the options of one run, handles signals, runs the schedule loop and the
// demo's simulator, pushes metrics and exits with the run's code. The run
// itself (session list, sharding, fetching, writing, publishing, the
// report) is internal/pipeline's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	// The IANA time zone database, for --timezone and CRON_TZ= in images
	// that carry none.
	_ "time/tzdata"

	"k8s.io/utils/clock"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/internal/pipeline"
	"github.com/participants-etl/participants-etl/load"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes. A run's code is the one its report shows.
const (
	exitOK      = pipeline.ExitOK      // every listed session exported
	exitFailed  = pipeline.ExitFailed  // nothing committed; a retry may cure it
	exitUsage   = pipeline.ExitConfig  // usage or configuration; a retry will not cure it
	exitPartial = pipeline.ExitPartial // committed, but some sessions were not exported
)

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := runMain(ctx, os.Args[1:], process{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// defaultGOGC is the collector's target when GOGC is not set. The job's
// heap is mostly long-lived (the open row group, the session list): a
// collection at 50% growth instead of Go's 100% cost 2% of the run's CPU
// instead of 1% and took about 20 MiB off the peak (BenchmarkExport).
const defaultGOGC = 50

// tuneGC sets defaultGOGC unless the environment sets GOGC.
func tuneGC(getenv env) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
}

// process is what the command needs from the outside world. Tests run the
// whole command in-process with their own, and pass store options (a
// fake-gcs-server client, a publish hook) and a fake clock through it.
type process struct {
	getenv         env
	stdin          io.Reader
	stdout, stderr io.Writer
	clock          clock.Clock      // nil: the real clock
	store          load.OpenOptions // production leaves it zero
	// publishHook is the crash tests' pause between publish steps
	// (load.WriteOptions.PublishHook) and at the ledger's steps
	// (pipeline.Options.LedgerHook); production leaves it nil.
	publishHook func(step string) error
	// apiClient reaches the API in tests that serve the simulator in
	// memory (videosdktest.Options.InMemory) to run on a fake clock;
	// production leaves it nil: the client's own.
	apiClient *http.Client
}

func runMain(ctx context.Context, args []string, p process) int {
	if p.clock == nil {
		p.clock = clock.RealClock{}
	}
	return p.main(ctx, args)
}

const usageText = `participants-etl exports VideoSDK session participants to Parquet.

Usage:
  participants-etl run      --sessions FILE|gs://BUCKET/OBJECT|- [flags]   one export
                            --sessions videosdk:[?roomId=ROOM] [--lookback 24h] [flags]
                                                                          or find the sessions through the API
  participants-etl schedule --schedule SPEC --sessions ... [flags]        an export on every tick
  participants-etl demo     [--output DIR] [--chaos]                      try it against a local simulator
  participants-etl serve    [--list FILE]                                 serve the simulator for run and schedule
  participants-etl forget   --output ... (--session ID | --sessions FILE | --completed-on DATE)
                                                                          make --incremental fetch sessions again
  participants-etl version

Run 'participants-etl COMMAND --help' for a command's flags.
Exit codes: 0 all exported; 1 failed, nothing committed (retry); 2 usage or
configuration error (do not retry); 3 committed, some sessions failed (see report).
`

func (p *process) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(p.stderr, usageText)
		return exitUsage
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = p.run(ctx, args)
	case "schedule":
		err = p.schedule(ctx, args)
	case "demo":
		err = p.demo(ctx, args)
	case "serve":
		err = p.serve(ctx, args)
	case "forget":
		err = p.forget(ctx, args)
	case "version", "--version", "-version":
		fmt.Fprintf(p.stdout, "participants-etl %s\n", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(p.stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(p.stderr, "participants-etl: unknown command %q; want run, schedule, demo, serve, forget or version\n", cmd)
		return exitUsage
	}
	var ec exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ec):
		return int(ec)
	default:
		fmt.Fprintf(p.stderr, "participants-etl %s: %v\n", cmd, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailed
	}
}

// exitError carries a run's exit code; the run has already logged why.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func codeErr(code int) error {
	if code == exitOK {
		return nil
	}
	return exitError(code)
}

// parseRun parses the flags of run and schedule into a Config.
func (p *process) parseRun(name string, args []string, needSchedule bool) (Config, *slog.Logger, error) {
	var c Config
	about := "Runs one export. Credentials: VIDEOSDK_API_KEY with VIDEOSDK_SECRET_KEY or\nVIDEOSDK_SECRET_KEY_FILE, or VIDEOSDK_TOKEN.\n\n"
	if needSchedule {
		about = "Runs an export on every tick of --schedule until SIGTERM. Runs never overlap.\n\n"
	}
	fs := newFlagSet(name, "Usage: participants-etl "+name+" [flags]\n\n"+about, p.getenv, p.stdout)
	fs.str(&c.Sessions, "sessions", "ETL_SESSIONS", "", "session IDs, one per line: a file, gs://bucket/object, or - for standard input; or videosdk: (optionally ?roomId=…&customRoomId=…) to list the sessions that started in the --lookback window before the logical time (required)")
	fs.str(&c.APIURL, "api-url", "VIDEOSDK_API_URL", extract.DefaultBaseURL, "VideoSDK API base URL")
	var logical string
	if !needSchedule {
		bindLogicalTime(fs, &logical, "ETL_LOGICAL_TIME", "the latest --schedule tick, else now")
	}
	bindSchedule(fs, &c)
	bindExport(fs, &c, "./out")
	err := fs.parse(args)
	if err == nil {
		err = c.validate()
	}
	if err == nil {
		err = checkHTTPURL("--api-url", c.APIURL, false) // demo and serve have none
	}
	if err != nil {
		return c, nil, err
	}
	if c.Sessions == "" {
		return c, nil, usagef("--sessions is required: a file of session IDs, gs://bucket/object, - for standard input, or videosdk: to list them")
	}
	if strings.HasPrefix(c.Sessions, extract.VideoSDKSource) {
		if _, err := extract.ParseVideoSDKSource(c.Sessions); err != nil {
			return c, nil, usagef("--sessions: %v", err)
		}
	}
	if needSchedule && c.Schedule == "" {
		return c, nil, usagef("--schedule is required: a cron expression such as \"0 * * * *\", @hourly or @every 15m")
	}
	if c.LogicalTime, err = parseLogicalTime(logical, p.clock.Now()); err != nil {
		return c, nil, err
	}
	creds, err := credentialsFromEnv(p.getenv, os.ReadFile)
	if err != nil {
		return c, nil, err
	}
	c.Credentials = creds
	return c, newLogger(p.stderr, c.LogFormat, c.LogLevel), nil
}

func (p *process) run(ctx context.Context, args []string) error {
	cfg, log, err := p.parseRun("run", args, false)
	if err != nil {
		return err
	}
	if cfg.LogicalTime.IsZero() && cfg.Schedule != "" {
		s, err := parseSchedule(cfg.Schedule, cfg.Timezone)
		if err != nil {
			return err
		}
		if cfg.LogicalTime, err = s.Latest(p.clock.Now()); err != nil {
			return usagef("%v", err)
		}
	}
	return codeErr(p.export(ctx, cfg, log))
}

func (p *process) schedule(ctx context.Context, args []string) error {
	cfg, log, err := p.parseRun("schedule", args, true)
	if err != nil {
		return err
	}
	s, err := parseSchedule(cfg.Schedule, cfg.Timezone)
	if err != nil {
		return err
	}
	log.Info("scheduler started", "schedule", s.spec)
	uncommitted := func(ctx context.Context, logical time.Time) bool {
		c := cfg
		c.LogicalTime = logical
		done, err := pipeline.Committed(ctx, p.options(c, log))
		if err != nil {
			log.Warn("cannot tell whether the latest tick has run; waiting for the next one", "error", err)
		}
		return err == nil && !done
	}
	code := s.loop(ctx, log, p.clock, uncommitted, func(ctx context.Context, logical time.Time) int {
		cfg.LogicalTime = logical
		return p.export(ctx, cfg, log)
	})
	// SIGTERM while idle is a clean stop (0); a run it interrupted committed
	// nothing, has said so, and gives its own code.
	log.Info("scheduler stopped", "exit_code", code)
	return codeErr(code)
}

// export runs one export of cfg (now, if cfg has no logical time), pushes
// its metrics and returns its exit code.
func (p *process) export(ctx context.Context, cfg Config, log *slog.Logger) int {
	rep, _ := pipeline.Run(ctx, p.options(cfg, log)) // the report holds the error, and Run has logged it
	p.push(ctx, cfg, log, rep)
	return rep.ExitCode
}
