package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/internal/pipeline"
	"github.com/participants-etl/participants-etl/load"
)

// usageError is a mistake in flags, environment or files that a retry will
// not cure: exit 2 with one line naming what to fix.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Config is what the flags and environment say about a run: parseRun
// gathers it for run and schedule, demo for its own run; options turns it
// into a run's pipeline.Options.
type Config struct {
	Sessions          string
	Output            string
	APIURL            string
	Concurrency       int
	PerPage           int
	RequestTimeout    time.Duration
	FirstByteTimeout  time.Duration
	MaxAttempts       int
	RetryDeadline     time.Duration
	Rate              float64
	MaxFailedFraction float64
	MaxSessions       int
	Lookback          time.Duration // the window of a videosdk: source
	LogicalTime       time.Time     // zero: derive from Schedule or the clock
	Schedule          string
	Timezone          string
	ShardIndex        int
	ShardCount        int
	RowGroupRows      int64
	RowGroupBytes     int64
	MaxFileBytes      int64
	ProgressInterval  time.Duration
	Incremental       bool // skip sessions an earlier tick recorded complete
	Full              bool // with Incremental: fetch every listed session this tick
	Pushgateway       string
	LogFormat         string
	LogLevel          string
	Credentials       Credentials
}

// Credentials for VideoSDK, read from the environment or a mounted file only.
type Credentials struct {
	APIKey string
	Secret []byte
	Token  string
}

// env looks variables up; tests pass a map instead of the process env.
type env func(string) string

// isSet reports whether flag name or its environment variable key was
// given. Call it after parse.
func (f *flagSet) isSet(name, key string) bool {
	set := key != "" && f.getenv(key) != ""
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// flagSet binds flags whose defaults come from environment variables, and
// remembers the first environment value that does not parse.
type flagSet struct {
	*flag.FlagSet
	getenv env
	err    error
}

// newFlagSet returns the flags of subcommand name, whose -help prints usage
// (the synopsis and what the command does) and then the flags.
func newFlagSet(name, usage string, getenv env, out io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return &flagSet{FlagSet: fs, getenv: getenv}
}

// envDefault is def, or key's environment value parsed; a value that does
// not parse is remembered as the usage error, naming the variable.
func envDefault[T any](f *flagSet, key string, def T, parse func(string) (T, error), want string) T {
	v := f.getenv(key)
	if key == "" || v == "" {
		return def
	}
	parsed, err := parse(v)
	if err != nil {
		if f.err == nil {
			f.err = usagef("environment variable %s=%q is not %s", key, v, want)
		}
		return def
	}
	return parsed
}

func parseString(s string) (string, error) { return s, nil }
func parseInt64(s string) (int64, error)   { return strconv.ParseInt(s, 10, 64) }
func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func (f *flagSet) str(p *string, name, key, def, usage string) {
	f.StringVar(p, name, envDefault(f, key, def, parseString, "text"), usage+envNote(key))
}

func (f *flagSet) int(p *int, name, key string, def int, usage string) {
	f.IntVar(p, name, envDefault(f, key, def, strconv.Atoi, "a whole number"), usage+envNote(key))
}

func (f *flagSet) int64(p *int64, name, key string, def int64, usage string) {
	f.Int64Var(p, name, envDefault(f, key, def, parseInt64, "a whole number"), usage+envNote(key))
}

func (f *flagSet) float(p *float64, name, key string, def float64, usage string) {
	f.Float64Var(p, name, envDefault(f, key, def, parseFloat, "a number"), usage+envNote(key))
}

func (f *flagSet) boolean(p *bool, name, key string, def bool, usage string) {
	f.BoolVar(p, name, envDefault(f, key, def, strconv.ParseBool, "true or false"), usage+envNote(key))
}

func (f *flagSet) duration(p *time.Duration, name, key string, def time.Duration, usage string) {
	f.DurationVar(p, name, envDefault(f, key, def, time.ParseDuration, "a duration such as 30s"), usage+envNote(key))
}

func envNote(key string) string {
	if key == "" {
		return ""
	}
	return " (env " + key + ")"
}

// parse parses args. -h/--help prints the usage and returns flag.ErrHelp;
// any other mistake is one line naming it, not a page of usage.
func (f *flagSet) parse(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			f.Usage()
			return flag.ErrHelp
		}
	}
	out := f.Output()
	f.SetOutput(io.Discard)
	err := f.Parse(args)
	f.SetOutput(out)
	if err != nil {
		return usagef("%v (see '%s --help')", err, f.Name())
	}
	if f.err != nil {
		return f.err
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q: every option is a --flag", f.Arg(0))
	}
	return nil
}

// bindExport binds the flags shared by run, schedule and demo.
func bindExport(fs *flagSet, c *Config, defaultOutput string) {
	fs.str(&c.Output, "output", "ETL_OUTPUT", defaultOutput, "where the table goes: a directory or gs://bucket/prefix")
	fs.int(&c.Concurrency, "concurrency", "ETL_CONCURRENCY", extract.DefaultConcurrency, "hard cap on API requests in flight")
	fs.int(&c.PerPage, "per-page", "ETL_PER_PAGE", extract.DefaultPerPage, "participants asked for per page (the server may cap it)")
	fs.duration(&c.RequestTimeout, "request-timeout", "ETL_REQUEST_TIMEOUT", extract.DefaultRequestTimeout, "limit on one API request, body included")
	fs.duration(&c.FirstByteTimeout, "first-byte-timeout", "ETL_FIRST_BYTE_TIMEOUT", extract.DefaultFirstByteTimeout, "an API request with no response headers in this long is retried")
	fs.int(&c.MaxAttempts, "max-attempts", "ETL_MAX_ATTEMPTS", extract.DefaultMaxAttempts, "attempts per API request at faults (5xx, resets, timeouts) before its session fails")
	fs.duration(&c.RetryDeadline, "retry-deadline", "ETL_RETRY_DEADLINE", extract.DefaultRetryDeadline, "how long one API request may be retried while the server pushes back (429)")
	fs.float(&c.Rate, "rate", "ETL_RATE", 0, "ceiling on API requests per second across all workers (the pace the server accepts is found below it); 0 for none")
	fs.float(&c.MaxFailedFraction, "max-failed-fraction", "ETL_MAX_FAILED_FRACTION", pipeline.DefaultMaxFailedFraction, "above this fraction of failed sessions the run commits nothing and exits 1")
	fs.int(&c.MaxSessions, "max-sessions", "ETL_MAX_SESSIONS", pipeline.DefaultMaxSessions, "most session IDs one list may hold")
	fs.duration(&c.Lookback, "lookback", "ETL_LOOKBACK", pipeline.DefaultLookback, "with --sessions videosdk:, export the sessions that started this long before the logical time (at least the longest session plus the schedule interval)")
	fs.int(&c.ShardIndex, "shard-index", "JOB_COMPLETION_INDEX", 0, "this shard, 0-based (Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX)")
	fs.int(&c.ShardCount, "shard-count", "ETL_SHARD_COUNT", 1, "how many shards split the session list")
	fs.int64(&c.RowGroupRows, "row-group-rows", "ETL_ROW_GROUP_ROWS", load.DefaultRowGroupRows, fmt.Sprintf("most rows in one Parquet row group (%d to %d)", minRowGroupRows, maxRowGroupRows))
	fs.int64(&c.RowGroupBytes, "row-group-bytes", "ETL_ROW_GROUP_BYTES", load.DefaultRowGroupBytes, fmt.Sprintf("most bytes in one Parquet row group (%d MiB to %d MiB)", minRowGroupBytes>>20, maxRowGroupBytes>>20))
	fs.int64(&c.MaxFileBytes, "max-file-bytes", "ETL_MAX_FILE_BYTES", load.DefaultMaxFileBytes, fmt.Sprintf("a Parquet file is closed after the batch of whole sessions (about 16k rows) that takes it past this size (%d MiB to %d GiB)", minFileBytes>>20, maxFileBytes>>30))
	fs.duration(&c.ProgressInterval, "progress-interval", "ETL_PROGRESS_INTERVAL", pipeline.DefaultProgressInterval, "how often to log progress; 0 for never")
	fs.boolean(&c.Incremental, "incremental", "ETL_INCREMENTAL", false, "skip, without a request, the listed sessions an earlier tick recorded complete in OUTPUT/_ledger/")
	fs.boolean(&c.Full, "full", "ETL_FULL", false, "with --incremental: fetch every listed session this tick all the same (completions are still recorded)")
	fs.str(&c.Pushgateway, "pushgateway", "ETL_PUSHGATEWAY", "", "Prometheus Pushgateway URL to push each run's metrics to")
	fs.str(&c.LogFormat, "log-format", "ETL_LOG_FORMAT", "auto", "json, text, or auto (json unless stderr is a terminal)")
	fs.str(&c.LogLevel, "log-level", "ETL_LOG_LEVEL", "info", "debug, info, warn or error")
}

// bindLogicalTime binds --logical-time; parseLogicalTime reads it.
func bindLogicalTime(fs *flagSet, p *string, key, dflt string) {
	fs.str(p, "logical-time", key, "", "the run's logical time (RFC 3339); default: "+dflt)
}

func bindSchedule(fs *flagSet, c *Config) {
	fs.str(&c.Schedule, "schedule", "ETL_SCHEDULE", "", "cron schedule: five fields, @hourly, @every 15m; CRON_TZ= prefix allowed")
	fs.str(&c.Timezone, "timezone", "ETL_TIMEZONE", "", "time zone of --schedule (IANA name), default UTC")
}

// Sane bounds of the Parquet limits: below them a run spends its time on
// row-group and file overhead (one-row groups took 100 s and 7 GB for a
// small export), above them one row group outgrows any pod.
const (
	minRowGroupRows  = 1024
	maxRowGroupRows  = 64 << 20
	minRowGroupBytes = 1 << 20
	maxRowGroupBytes = 1 << 30
	minFileBytes     = 1 << 20
	maxFileBytes     = 64 << 30
)

// validate checks what flag parsing cannot; it names the flag to fix.
func (c *Config) validate() error {
	switch {
	case c.Output == "":
		return usagef("--output is empty: give a directory or gs://bucket/prefix")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return usagef("--concurrency %d: want 1 to 1024", c.Concurrency)
	case c.PerPage < 1 || c.PerPage > 10_000:
		return usagef("--per-page %d: want 1 to 10000", c.PerPage)
	case c.RequestTimeout <= 0:
		return usagef("--request-timeout %v: want a positive duration", c.RequestTimeout)
	case c.FirstByteTimeout <= 0:
		return usagef("--first-byte-timeout %v: want a positive duration", c.FirstByteTimeout)
	case c.RetryDeadline <= 0:
		return usagef("--retry-deadline %v: want a positive duration", c.RetryDeadline)
	case c.MaxAttempts < 1 || c.MaxAttempts > 100:
		return usagef("--max-attempts %d: want 1 to 100", c.MaxAttempts)
	case c.Rate < 0:
		return usagef("--rate %v: want 0 (no limit) or more", c.Rate)
	case c.MaxFailedFraction < 0 || c.MaxFailedFraction > 1:
		return usagef("--max-failed-fraction %v: want 0 to 1", c.MaxFailedFraction)
	case c.MaxSessions < 1:
		return usagef("--max-sessions %d: want 1 or more", c.MaxSessions)
	case c.Lookback <= 0:
		return usagef("--lookback %v: want a positive duration such as 24h", c.Lookback)
	case c.ShardCount < 1 || c.ShardCount > 999:
		return usagef("--shard-count %d: want 1 to 999", c.ShardCount)
	case c.ShardIndex < 0 || c.ShardIndex >= c.ShardCount:
		return usagef("--shard-index %d: want 0 to %d for --shard-count %d", c.ShardIndex, c.ShardCount-1, c.ShardCount)
	case c.RowGroupRows < minRowGroupRows || c.RowGroupRows > maxRowGroupRows:
		return usagef("--row-group-rows %d: want %d to %d", c.RowGroupRows, minRowGroupRows, maxRowGroupRows)
	case c.RowGroupBytes < minRowGroupBytes || c.RowGroupBytes > maxRowGroupBytes:
		return usagef("--row-group-bytes %d: want %d to %d (1 MiB to 1 GiB)", c.RowGroupBytes, minRowGroupBytes, maxRowGroupBytes)
	case c.MaxFileBytes < minFileBytes || c.MaxFileBytes > maxFileBytes:
		return usagef("--max-file-bytes %d: want %d to %d (1 MiB to 64 GiB)", c.MaxFileBytes, minFileBytes, maxFileBytes)
	case c.ProgressInterval < 0:
		return usagef("--progress-interval %v: want 0 or more", c.ProgressInterval)
	}
	if c.Pushgateway != "" {
		if err := checkHTTPURL("--pushgateway", c.Pushgateway, true); err != nil {
			return err
		}
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		return usagef("--log-format %q: want json, text or auto", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
}

// Plausible logical times: VideoSDK sessions exist since about 2020, and a
// slot more than a week ahead is a typo (or a clock gone wrong).
var earliestLogicalTime = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

const latestLogicalTimeAhead = 7 * 24 * time.Hour

// parseLogicalTime reads --logical-time: RFC 3339, not zero, not absurd;
// "" is the zero time (now, or the schedule's latest tick).
func parseLogicalTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	switch {
	case err != nil:
		return time.Time{}, usagef("--logical-time %q is not an RFC 3339 time such as 2026-11-26T14:00:00Z", s)
	case t.Before(earliestLogicalTime) || t.After(now.Add(latestLogicalTimeAhead)):
		return time.Time{}, usagef("--logical-time %s is implausible: want a time between %s and a week from now", s, earliestLogicalTime.Format(time.DateOnly))
	}
	return t, nil
}

// checkHTTPURL accepts an http(s) URL with a host and no query or fragment;
// userinfo only where the service takes basic auth (the Pushgateway). Its
// message shows the URL redacted.
func checkHTTPURL(flag, raw string, userinfo bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return usagef("%s %q does not parse as a URL", flag, redactURL(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		return usagef("%s %s: want an http:// or https:// URL", flag, redactURL(raw))
	case u.Host == "":
		return usagef("%s %s: no host", flag, redactURL(raw))
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?"):
		return usagef("%s %s: a query or fragment is not allowed (credentials do not go in the URL)", flag, redactURL(raw))
	case u.User != nil && !userinfo:
		return usagef("%s %s: credentials in the URL are not allowed (VideoSDK credentials come from VIDEOSDK_API_KEY and VIDEOSDK_SECRET_KEY)", flag, redactURL(raw))
	}
	return nil
}

// credentialsFromEnv reads VideoSDK credentials. They come only from the
// environment or a mounted file, never from flags, so that they stay out of
// process listings and shell history.
func credentialsFromEnv(getenv env, readFile func(string) ([]byte, error)) (Credentials, error) {
	tok := strings.TrimSpace(getenv("VIDEOSDK_TOKEN"))
	key := strings.TrimSpace(getenv("VIDEOSDK_API_KEY"))
	if tok != "" {
		// Either could be the one meant; guessing would hide a stale one.
		for _, v := range []string{"VIDEOSDK_API_KEY", "VIDEOSDK_SECRET_KEY", "VIDEOSDK_SECRET_KEY_FILE"} {
			if getenv(v) != "" {
				return Credentials{}, usagef("both VIDEOSDK_TOKEN and %s are set: keep the token or the key and secret", v)
			}
		}
		return Credentials{Token: tok}, nil
	}
	secret := []byte(getenv("VIDEOSDK_SECRET_KEY"))
	if path := getenv("VIDEOSDK_SECRET_KEY_FILE"); path != "" {
		if len(secret) > 0 {
			return Credentials{}, usagef("both VIDEOSDK_SECRET_KEY and VIDEOSDK_SECRET_KEY_FILE are set: keep one")
		}
		b, err := readFile(path)
		if err != nil {
			// Not the path: a secret pasted where the path belongs would be
			// printed.
			return Credentials{}, usagef("VIDEOSDK_SECRET_KEY_FILE names a file that cannot be read (%v): set it to the path of the mounted secret", unwrapPathError(err))
		}
		secret = []byte(strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff")))
		if len(secret) == 0 {
			return Credentials{}, usagef("VIDEOSDK_SECRET_KEY_FILE names an empty file")
		}
	}
	switch {
	case key == "" && len(secret) == 0:
		return Credentials{}, usagef("no VideoSDK credentials: set VIDEOSDK_API_KEY and VIDEOSDK_SECRET_KEY (or VIDEOSDK_SECRET_KEY_FILE), or VIDEOSDK_TOKEN")
	case key == "":
		return Credentials{}, usagef("VIDEOSDK_API_KEY is not set: it is the API key shown with the secret in the VideoSDK dashboard")
	case len(secret) == 0:
		return Credentials{}, usagef("VIDEOSDK_API_KEY is set but no secret: set VIDEOSDK_SECRET_KEY or VIDEOSDK_SECRET_KEY_FILE")
	}
	return Credentials{APIKey: key, Secret: secret}, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
