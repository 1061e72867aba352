package main

import (
	"bytes"
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/participants-etl/participants-etl/extract"
)

func envMap(m map[string]string) env { return func(k string) string { return m[k] } }

func TestParseRunFlagsAndEnv(t *testing.T) {
	creds := map[string]string{"VIDEOSDK_API_KEY": "key", "VIDEOSDK_SECRET_KEY": "s3cret"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range creds {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string // substring of the usage error; "" for success
	}{
		{name: "defaults", args: []string{"--sessions", "ids.txt"}, env: creds, check: func(t *testing.T, c Config) {
			if c.Output != "./out" || c.APIURL != "https://api.videosdk.live" || c.Concurrency != 8 || c.PerPage != 100 ||
				c.RequestTimeout != 30*time.Second || c.MaxAttempts != 6 || c.Rate != 0 || c.ShardCount != 1 || c.ShardIndex != 0 || c.Incremental || c.Full {
				t.Errorf("defaults: %+v", c)
			}
			// The client waits this long for a silent server's first round
			// (TestServerThatNeverAnswers runs at this default, on a fake
			// clock).
			if got := clientOptions(c, nil).FirstByteTimeout; c.FirstByteTimeout != extract.DefaultFirstByteTimeout || got != c.FirstByteTimeout {
				t.Errorf("first-byte timeout %v, %v in the client's options; want the default %v", c.FirstByteTimeout, got, extract.DefaultFirstByteTimeout)
			}
		}},
		{name: "environment fills flags", args: nil, env: with(map[string]string{
			"ETL_SESSIONS": "gs://b/ids.txt", "ETL_OUTPUT": "gs://b/videosdk", "ETL_CONCURRENCY": "3", "ETL_PER_PAGE": "50",
			"ETL_REQUEST_TIMEOUT": "5s", "ETL_MAX_ATTEMPTS": "2", "ETL_RATE": "7.5", "ETL_LOGICAL_TIME": "2026-11-26T14:00:00+01:00",
			"JOB_COMPLETION_INDEX": "2", "ETL_SHARD_COUNT": "4", "VIDEOSDK_API_URL": "http://127.0.0.1:1"}),
			check: func(t *testing.T, c Config) {
				if c.Sessions != "gs://b/ids.txt" || c.Output != "gs://b/videosdk" || c.Concurrency != 3 || c.PerPage != 50 ||
					c.RequestTimeout != 5*time.Second || c.MaxAttempts != 2 || c.Rate != 7.5 || c.ShardIndex != 2 || c.ShardCount != 4 ||
					c.APIURL != "http://127.0.0.1:1" || !c.LogicalTime.Equal(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)) {
					t.Errorf("from env: %+v", c)
				}
			}},
		{name: "flags beat environment", args: []string{"--concurrency", "2", "--sessions", "-"},
			env: with(map[string]string{"ETL_CONCURRENCY": "9", "ETL_SESSIONS": "x"}), check: func(t *testing.T, c Config) {
				if c.Concurrency != 2 || c.Sessions != "-" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "incremental is off by default, on by env or flag", args: []string{"--sessions", "x", "--full"},
			env: with(map[string]string{"ETL_INCREMENTAL": "true"}), check: func(t *testing.T, c Config) {
				if !c.Incremental || !c.Full {
					t.Errorf("incremental %t, full %t; want both", c.Incremental, c.Full)
				}
			}},
		{name: "bad ETL_INCREMENTAL", args: []string{"--sessions", "x"}, env: with(map[string]string{"ETL_INCREMENTAL": "yes please"}), wantErr: "ETL_INCREMENTAL"},
		{name: "missing sessions", args: nil, env: creds, wantErr: "--sessions is required"},
		{name: "bad env number", args: []string{"--sessions", "x"}, env: with(map[string]string{"ETL_CONCURRENCY": "lots"}), wantErr: "ETL_CONCURRENCY"},
		{name: "bad flag", args: []string{"--sessions", "x", "--concurency", "3"}, env: creds, wantErr: "concurency"},
		{name: "stray argument", args: []string{"--sessions", "x", "ids.txt"}, env: creds, wantErr: `unexpected argument "ids.txt"`},
		{name: "concurrency zero", args: []string{"--sessions", "x", "--concurrency", "0"}, env: creds, wantErr: "--concurrency 0"},
		{name: "shard out of range", args: []string{"--sessions", "x", "--shard-count", "2", "--shard-index", "2"}, env: creds, wantErr: "--shard-index 2"},
		{name: "bad logical time", args: []string{"--sessions", "x", "--logical-time", "yesterday"}, env: creds, wantErr: "--logical-time"},
		{name: "zero logical time", args: []string{"--sessions", "x", "--logical-time", "0001-01-01T00:00:00Z"}, env: creds, wantErr: "implausible"},
		{name: "far future logical time", args: []string{"--sessions", "x", "--logical-time", "2999-01-01T00:00:00Z"}, env: creds, wantErr: "implausible"},
		{name: "row groups of one row", args: []string{"--sessions", "x", "--row-group-rows", "1"}, env: creds, wantErr: "--row-group-rows 1: want 1024"},
		{name: "tiny files", args: []string{"--sessions", "x", "--max-file-bytes", "2048"}, env: creds, wantErr: "--max-file-bytes"},
		{name: "bad log level", args: []string{"--sessions", "x", "--log-level", "loud"}, env: creds, wantErr: "--log-level"},
		{name: "api url not http", args: []string{"--sessions", "x", "--api-url", "ftp://api.videosdk.live"}, env: creds, wantErr: "--api-url"},
		{name: "api url with credentials", args: []string{"--sessions", "x", "--api-url", "https://u:s3cret@api.videosdk.live"}, env: creds, wantErr: "credentials in the URL"},
		{name: "api url with a query", args: []string{"--sessions", "x", "--api-url", "https://api.videosdk.live/?key=s3cret"}, env: creds, wantErr: "query"},
		{name: "pushgateway not a URL", args: []string{"--sessions", "x", "--pushgateway", "gw:9091"}, env: creds, wantErr: "--pushgateway"},
		{name: "no credentials names the variable", args: []string{"--sessions", "x"}, env: nil, wantErr: "VIDEOSDK_API_KEY"},
		{name: "key without secret", args: []string{"--sessions", "x"}, env: map[string]string{"VIDEOSDK_API_KEY": "k"}, wantErr: "VIDEOSDK_SECRET_KEY"},
		{name: "secret without key", args: []string{"--sessions", "x"}, env: map[string]string{"VIDEOSDK_SECRET_KEY": "s"}, wantErr: "VIDEOSDK_API_KEY is not set"},
		{name: "token alone is enough", args: []string{"--sessions", "x"}, env: map[string]string{"VIDEOSDK_TOKEN": "tok"}, check: func(t *testing.T, c Config) {
			if c.Credentials.Token != "tok" {
				t.Errorf("token not taken")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			p := &process{getenv: envMap(tt.env), stdout: &stderr, stderr: &stderr, clock: clock.RealClock{}}
			c, _, err := p.parseRun("run", tt.args, false)
			if tt.wantErr != "" {
				var ue *usageError
				if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/secret-key"
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := credentialsFromEnv(envMap(map[string]string{"VIDEOSDK_API_KEY": "k", "VIDEOSDK_SECRET_KEY_FILE": path}), os.ReadFile)
	if err != nil || string(c.Secret) != "from-file" || c.APIKey != "k" {
		t.Fatalf("got %+v, %v", c, err)
	}
	bom := dir + "/bom"
	if err := os.WriteFile(bom, []byte("\ufeffwith-bom \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := credentialsFromEnv(envMap(map[string]string{"VIDEOSDK_API_KEY": "k", "VIDEOSDK_SECRET_KEY_FILE": bom}), os.ReadFile); err != nil || string(c.Secret) != "with-bom" {
		t.Errorf("a byte-order mark is not part of the secret: got %q, %v", c.Secret, err)
	}
	// A secret put where the path belongs is never printed.
	const pasted = "sk_live_pasted-secret-value"
	_, err = credentialsFromEnv(envMap(map[string]string{"VIDEOSDK_API_KEY": "k", "VIDEOSDK_SECRET_KEY_FILE": pasted}), os.ReadFile)
	if err == nil || strings.Contains(err.Error(), pasted) || !strings.Contains(err.Error(), "VIDEOSDK_SECRET_KEY_FILE") {
		t.Errorf("secret in place of the path: %v", err)
	}
	for name, m := range map[string]map[string]string{
		"missing file": {"VIDEOSDK_API_KEY": "k", "VIDEOSDK_SECRET_KEY_FILE": dir + "/nope"},
		"both set":     {"VIDEOSDK_API_KEY": "k", "VIDEOSDK_SECRET_KEY_FILE": path, "VIDEOSDK_SECRET_KEY": "x"},
	} {
		if _, err := credentialsFromEnv(envMap(m), os.ReadFile); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "from-file") {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
}

func TestCloudLoggingKeys(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "json", "debug")
	log.Warn("hello", "session_id", "s1")
	line := buf.String()
	for _, want := range []string{`"severity":"WARNING"`, `"message":"hello"`, `"time":`, `"session_id":"s1"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %s lacks %s", line, want)
		}
	}
}

func TestUsageExitCodes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"version"}, exitOK},
		{[]string{"run", "--help"}, exitOK},
		{[]string{"run", "--sessions", "x", "--nope"}, exitUsage},
		{[]string{"run", "--sessions", "x"}, exitUsage}, // no credentials
	} {
		var out, errb bytes.Buffer
		got := runMain(t.Context(), tt.args, process{getenv: envMap(nil), stdin: strings.NewReader(""), stdout: &out, stderr: &errb})
		if got != tt.want {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, got, tt.want, errb.String())
		}
		if got == exitUsage && len(tt.args) > 0 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 && tt.args[0] != "run" {
			t.Errorf("%v: usage error is not one line: %q", tt.args, errb.String())
		}
	}
}

func TestTextLogsAreReadable(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "text", "info")
	log.Info("run finished", "delay", 1500*time.Millisecond, "retries_by_cause", map[string]int64{"timeout": 2, "http_429": 7})
	line := buf.String()
	for _, want := range []string{"delay=1.5", `retries_by_cause="http_429=7 timeout=2"`} {
		if !strings.Contains(line, want) {
			t.Errorf("text log line %q lacks %s", line, want)
		}
	}
	buf.Reset()
	newLogger(&buf, "json", "info").Info("x", "delay", 2*time.Second, "retries_by_cause", map[string]int64{"timeout": 2})
	for _, want := range []string{`"delay":2`, `"retries_by_cause":{"timeout":2}`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("json log line %q lacks %s", buf.String(), want)
		}
	}
}

// TestHelpGoesToStdout: --help is asked for, so it is output, not an error.
func TestHelpGoesToStdout(t *testing.T) {
	for _, cmd := range []string{"run", "schedule", "demo"} {
		var out, errb bytes.Buffer
		code := runMain(t.Context(), []string{cmd, "--help"}, process{getenv: envMap(nil), stdin: strings.NewReader(""), stdout: &out, stderr: &errb})
		if code != exitOK || !strings.Contains(out.String(), "Usage: participants-etl "+cmd) || !strings.Contains(out.String(), "-output") || errb.Len() != 0 {
			t.Errorf("%s --help: exit %d, stdout %d bytes, stderr %q", cmd, code, out.Len(), errb.String())
		}
	}
}

// TestScheduleThatNeverFiresIsUsage: schedule exits 2 at once, as run does,
// instead of looping on "logical time is zero".
func TestScheduleThatNeverFiresIsUsage(t *testing.T) {
	for _, cmd := range []string{"run", "schedule"} {
		res := runCLI(t, t.Context(), credsEnv(nil), "", cmd, "--schedule", "0 0 30 2 *", "--sessions", "-", "--output", t.TempDir())
		if res.code != exitUsage || !strings.Contains(res.stderr, "never fires") {
			t.Errorf("%s: exit %d, want 2 saying the schedule never fires; stderr:\n%s", cmd, res.code, tail(res.stderr, 1000))
		}
	}
}

// TestGCTarget: GOGC=50 unless the environment says otherwise, in which
// case the runtime has already read it and the job leaves it alone.
func TestGCTarget(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGOGC {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, defaultGOGC)
	}
	tuneGC(func(k string) string { return map[string]string{"GOGC": "100"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100 set: GC percent %d, want it left at 100", got)
	}
}
