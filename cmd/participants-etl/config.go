package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// usageError is a mistake in flags, environment or files that a retry will
// not cure: exit 2 with one line naming what to fix.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Config is everything a run needs, gathered from flags and environment by
// parseRun and by nothing else.
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
	LogicalTime       time.Time // zero: derive from Schedule or the clock
	Schedule          string
	Timezone          string
	ShardIndex        int
	ShardCount        int
	RowGroupRows      int64
	RowGroupBytes     int64
	MaxFileBytes      int64
	ProgressInterval  time.Duration
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

// flagSet binds flags whose defaults come from environment variables, and
// remembers the first environment value that does not parse.
type flagSet struct {
	*flag.FlagSet
	getenv env
	err    error
}

func newFlagSet(name string, getenv env, out io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
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
	fs.int(&c.Concurrency, "concurrency", "ETL_CONCURRENCY", 8, "hard cap on API requests in flight")
	fs.int(&c.PerPage, "per-page", "ETL_PER_PAGE", 100, "participants asked for per page (the server may cap it)")
	fs.duration(&c.RequestTimeout, "request-timeout", "ETL_REQUEST_TIMEOUT", 30*time.Second, "limit on one API request, body included")
	fs.duration(&c.FirstByteTimeout, "first-byte-timeout", "ETL_FIRST_BYTE_TIMEOUT", 10*time.Second, "an API request with no response headers in this long is retried")
	fs.int(&c.MaxAttempts, "max-attempts", "ETL_MAX_ATTEMPTS", 6, "attempts per API request at faults (5xx, resets, timeouts) before its session fails")
	fs.duration(&c.RetryDeadline, "retry-deadline", "ETL_RETRY_DEADLINE", 10*time.Minute, "how long one API request may be retried while the server pushes back (429)")
	fs.float(&c.Rate, "rate", "ETL_RATE", 0, "ceiling on API requests per second across all workers (the pace the server accepts is found below it); 0 for none")
	fs.float(&c.MaxFailedFraction, "max-failed-fraction", "ETL_MAX_FAILED_FRACTION", 0.5, "above this fraction of failed sessions the run commits nothing and exits 1")
	fs.int(&c.MaxSessions, "max-sessions", "ETL_MAX_SESSIONS", 1_000_000, "most session IDs one list may hold")
	fs.int(&c.ShardIndex, "shard-index", "JOB_COMPLETION_INDEX", 0, "this shard, 0-based (Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX)")
	fs.int(&c.ShardCount, "shard-count", "ETL_SHARD_COUNT", 1, "how many shards split the session list")
	fs.int64(&c.RowGroupRows, "row-group-rows", "ETL_ROW_GROUP_ROWS", 1<<20, "most rows in one Parquet row group")
	fs.int64(&c.RowGroupBytes, "row-group-bytes", "ETL_ROW_GROUP_BYTES", 128<<20, "most bytes in one Parquet row group")
	fs.int64(&c.MaxFileBytes, "max-file-bytes", "ETL_MAX_FILE_BYTES", 1<<30, "a Parquet file is closed after the session that takes it past this size")
	fs.duration(&c.ProgressInterval, "progress-interval", "ETL_PROGRESS_INTERVAL", 5*time.Second, "how often to log progress; 0 for never")
	fs.str(&c.Pushgateway, "pushgateway", "ETL_PUSHGATEWAY", "", "Prometheus Pushgateway URL to push each run's metrics to")
	fs.str(&c.LogFormat, "log-format", "ETL_LOG_FORMAT", "auto", "json, text, or auto (json unless stderr is a terminal)")
	fs.str(&c.LogLevel, "log-level", "ETL_LOG_LEVEL", "info", "debug, info, warn or error")
}

func bindSchedule(fs *flagSet, c *Config) {
	fs.str(&c.Schedule, "schedule", "ETL_SCHEDULE", "", "cron schedule: five fields, @hourly, @every 15m; CRON_TZ= prefix allowed")
	fs.str(&c.Timezone, "timezone", "ETL_TIMEZONE", "", "time zone of --schedule (IANA name), default UTC")
}

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
	case c.ShardCount < 1 || c.ShardCount > 999:
		return usagef("--shard-count %d: want 1 to 999", c.ShardCount)
	case c.ShardIndex < 0 || c.ShardIndex >= c.ShardCount:
		return usagef("--shard-index %d: want 0 to %d for --shard-count %d", c.ShardIndex, c.ShardCount-1, c.ShardCount)
	case c.RowGroupRows < 1:
		return usagef("--row-group-rows %d: want 1 or more", c.RowGroupRows)
	case c.RowGroupBytes < 1<<10:
		return usagef("--row-group-bytes %d: want 1024 or more", c.RowGroupBytes)
	case c.MaxFileBytes < 1<<10:
		return usagef("--max-file-bytes %d: want 1024 or more", c.MaxFileBytes)
	case c.ProgressInterval < 0:
		return usagef("--progress-interval %v: want 0 or more", c.ProgressInterval)
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
			return Credentials{}, usagef("VIDEOSDK_SECRET_KEY_FILE: cannot read %s: %v", path, unwrapPathError(err))
		}
		secret = []byte(strings.TrimSpace(string(b)))
		if len(secret) == 0 {
			return Credentials{}, usagef("VIDEOSDK_SECRET_KEY_FILE: %s is empty", path)
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
