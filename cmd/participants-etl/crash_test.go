package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/load"
	"github.com/participants-etl/participants-etl/transform"
)

// childProcess is the process of the test binary run as the command. Its
// store options come from the environment the crash tests give the child:
// PARTICIPANTS_ETL_CHUNK_SIZE sets the upload chunk size, and at publish
// step PARTICIPANTS_ETL_PAUSE_AT the child prints pausedLine and the step
// to stderr, then holds still until it is killed or, with
// PARTICIPANTS_ETL_PAUSE_UNTIL_SIGTERM=1, until a SIGTERM has arrived (the
// run sees it too, and must finish the commit it has begun).
func childProcess() process {
	p := process{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if n, err := strconv.Atoi(os.Getenv("PARTICIPANTS_ETL_CHUNK_SIZE")); err == nil {
		p.store.ChunkSize = n
	}
	step := os.Getenv("PARTICIPANTS_ETL_PAUSE_AT")
	if step == "" {
		return p
	}
	var resume chan os.Signal // nil: never
	if os.Getenv("PARTICIPANTS_ETL_PAUSE_UNTIL_SIGTERM") == "1" {
		resume = make(chan os.Signal, 1)
		signal.Notify(resume, syscall.SIGTERM)
	}
	p.publishHook = func(s string) error {
		if s == step {
			fmt.Fprintf(os.Stderr, "%s %s\n", pausedLine, s)
			<-resume
		}
		return nil
	}
	return p
}

const pausedLine = "test hook: paused at publish step"

// crashStore is where a crash test's table lives, as the child sees it and
// as the test reads it.
type crashStore struct {
	output string
	env    []string
	store  load.OpenOptions                               // for in-process runs
	rows   func(t *testing.T) ([]transform.Row, []string) // rows and object names under the table
}

func localCrashStore(t *testing.T) crashStore {
	dir := t.TempDir()
	return crashStore{output: dir, rows: func(t *testing.T) ([]transform.Row, []string) {
		files := writtenFiles(t, dir)
		var rows []transform.Row
		for _, f := range files {
			if !strings.HasSuffix(f, ".parquet") {
				t.Errorf("non-Parquet file %s in the table", f)
				continue
			}
			rows = append(rows, readParquet(t, f)...)
		}
		return rows, files
	}}
}

// gcsCrashStore runs fake-gcs-server on loopback, so that the child reaches
// it through STORAGE_EMULATOR_HOST exactly as the GCS client would in
// production.
func gcsCrashStore(t *testing.T) crashStore {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "crash-bucket"})
	host := strings.TrimPrefix(srv.URL(), "http://")
	// Read the table as production readers do, with a real client over
	// HTTP; in-process runs get it through their store options (no
	// process-wide STORAGE_EMULATOR_HOST, so the two stores' tests run in
	// parallel).
	client, err := storage.NewClient(context.Background(), storage.WithJSONReads(),
		option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return crashStore{
		output: "gs://crash-bucket/videosdk",
		env:    []string{"STORAGE_EMULATOR_HOST=" + host},
		store:  load.OpenOptions{StorageClient: client},
		rows: func(t *testing.T) ([]transform.Row, []string) {
			return gcsTable(t, client, "crash-bucket", "videosdk/participant_timelogs/")
		},
	}
}

func gcsTable(t *testing.T, client *storage.Client, bucket, prefix string) ([]transform.Row, []string) {
	t.Helper()
	var rows []transform.Row
	names := listObjects(t, client, bucket, prefix)
	for _, name := range names {
		if !strings.HasSuffix(name, ".parquet") {
			t.Errorf("non-Parquet object %s in the table", name)
			continue
		}
		r, err := client.Bucket(bucket).Object(name).NewReader(context.Background())
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, readParquetFrom(t, name, bytes.NewReader(b))...)
	}
	return rows, names
}

// runIDs returns the distinct run_ids of rows.
func runIDs(rows []transform.Row) map[string]int {
	ids := map[string]int{}
	for _, r := range rows {
		ids[r.RunID]++
	}
	return ids
}

// TestCrashLeavesNothingOrAll kills real processes (SIGKILL and SIGTERM)
// during extraction, during upload and between every two publish steps of a
// rerun. After each, a plain listing of the table must show exactly one
// whole run: the previous one, or the new one complete. A final rerun gives
// every row exactly once.
func TestCrashLeavesNothingOrAll(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	for _, kind := range []string{"local", "gcs"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			store := localCrashStore(t)
			if kind == "gcs" {
				store = gcsCrashStore(t)
				// Several chunks per file, so uploads are in flight.
				store.store.ChunkSize = 256 << 10
				store.env = append(store.env, "PARTICIPANTS_ETL_CHUNK_SIZE=262144")
			}
			sessions := videosdktest.Generate(31, 40)
			for i := range sessions { // static: every run must write the same rows
				sessions[i].Live = videosdktest.NotLive
			}
			srv := newSim(t, videosdktest.Options{Sessions: sessions})
			requests, apiURL := countRequests(t, srv)
			list := writeList(t, ids(sessions)...)
			args := []string{"run", "--sessions", list, "--output", store.output, "--api-url", apiURL,
				"--logical-time", "2026-11-26T03:00:00Z", "--concurrency", "4"}
			want := wantRows(t, srv.Snapshot())

			// assertWhole checks that the table holds exactly one run's rows,
			// all of them, and returns that run's ID.
			assertWhole := func(t *testing.T, when string) string {
				t.Helper()
				rows, names := store.rows(t)
				ids := runIDs(rows)
				if len(ids) != 1 {
					t.Fatalf("%s: table mixes runs %v (%s)", when, ids, describe(names))
				}
				checkRows(t, rows, want, "", time.Time{}, time.Now())
				for id := range ids {
					return id
				}
				return ""
			}

			// The slot's first, complete version.
			first := runProcess(t, t.Context(), process{getenv: credsEnv(nil), store: store.store}, args...)
			if first.code != exitOK {
				t.Fatalf("first run: exit %d: %s", first.code, tail(first.stderr, 2000))
			}
			current := assertWhole(t, "after the first run")

			points := []struct {
				name   string
				sig    syscall.Signal
				step   string // pause at this publish step; "" kills mid-extraction
				wantOK bool   // the child holds until SIGTERM, then finishes the commit
			}{
				{name: "SIGKILL during extraction", sig: syscall.SIGKILL},
				{name: "SIGTERM during extraction", sig: syscall.SIGTERM},
				{name: "SIGKILL after staging", sig: syscall.SIGKILL, step: "staged"},
				{name: "SIGKILL after listing", sig: syscall.SIGKILL, step: "listed"},
				{name: "SIGKILL after publishing", sig: syscall.SIGKILL, step: "published part 0"},
				{name: "SIGKILL after removing extras", sig: syscall.SIGKILL, step: "extras deleted"},
				{name: "SIGKILL after the manifest", sig: syscall.SIGKILL, step: "manifest written"},
				{name: "SIGTERM while publishing", sig: syscall.SIGTERM, step: "listed", wantOK: true},
			}
			for _, pt := range points {
				env := append([]string{"PARTICIPANTS_ETL_PAUSE_AT=" + pt.step}, store.env...)
				if pt.wantOK {
					env = append(env, "PARTICIPANTS_ETL_PAUSE_UNTIL_SIGTERM=1")
				}
				var fetching <-chan struct{}
				release := func() {}
				if pt.step == "" {
					// The kill comes while the child waits for answers
					// the server holds back: mid-extraction for certain.
					fetching, release = requests.holdFrom(16)
				}
				c := startChild(t, env, args...)
				if pt.step == "" {
					waitFor(t, fetching, 10*time.Second, "requests from the child")
				} else {
					c.stderr.waitFor(t, 20*time.Second, "the child to reach "+pt.step, func(s string) bool {
						return strings.Contains(s, pausedLine+" "+pt.step+"\n")
					})
				}
				c.signal(t, pt.sig)
				sent := time.Now()
				code := c.wait(t, 10*time.Second)
				release()
				switch {
				case pt.sig == syscall.SIGKILL && code != -1:
					t.Errorf("%s: exit %d, want killed", pt.name, code)
				case pt.sig == syscall.SIGTERM && pt.wantOK && code != exitOK:
					t.Errorf("%s: exit %d, want 0 (the commit had begun)", pt.name, code)
				case pt.sig == syscall.SIGTERM && !pt.wantOK && code != exitFailed:
					t.Errorf("%s: exit %d, want 1; stderr:\n%s", pt.name, code, tail(c.stderr.String(), 2000))
				}
				if pt.sig == syscall.SIGTERM && !pt.wantOK && time.Since(sent) > 5*time.Second {
					t.Errorf("%s: took %s to exit", pt.name, time.Since(sent))
				}
				got := assertWhole(t, pt.name)
				committed := got != current
				if pt.step == "" || pt.step == "staged" || pt.step == "listed" {
					if committed && !pt.wantOK {
						t.Errorf("%s: a run killed before publishing is visible", pt.name)
					}
				}
				if pt.wantOK && !committed {
					t.Errorf("%s: the commit under way was not finished", pt.name)
				}
				current = got
			}

			// A clean rerun after all that: every row exactly once, one run.
			last := runProcess(t, t.Context(), process{getenv: credsEnv(nil), store: store.store}, args...)
			if last.code != exitOK {
				t.Fatalf("final rerun: exit %d: %s", last.code, tail(last.stderr, 2000))
			}
			if got := assertWhole(t, "after the final rerun"); got == current {
				t.Errorf("the final rerun did not replace the slot")
			}
		})
	}
}
