package consumer

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/schemas"
)

const testBucket = "videosdk-exports"

// newFakeGCS serves GCS on a loopback port that the binary reaches through
// STORAGE_EMULATOR_HOST, as the Go storage client expects. PublicHost makes
// the server answer the client's downloads, which name the bucket in the
// path of the emulator's host rather than storage.googleapis.com.
func newFakeGCS(t *testing.T) (*fakestorage.Server, string) {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return srv, u.Host
}

// download copies every object under prefix into a local directory with the
// same layout, and returns it: DuckDB's httpfs cannot be fetched here, and an
// analyst without an HMAC key does the same (gcloud storage cp -r).
func download(t *testing.T, srv *fakestorage.Server, prefix string) (string, []string) {
	t.Helper()
	objs, _, err := srv.ListObjectsWithOptions(testBucket, fakestorage.ListOptions{Prefix: prefix + "/"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
		obj, err := srv.GetObject(testBucket, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(o.Name, prefix+"/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, obj.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, names
}

// TestGCSLoopback is issue 3's acceptance: run with the session list and
// the output in GCS (fake-gcs-server on loopback); the objects hold exactly
// the simulator's rows, and only .parquet objects live under the table
// prefix, where BigQuery's wildcard reads everything.
func TestGCSLoopback(t *testing.T) {
	sessions := videosdktest.Generate(13, 40)
	api := newSimulator(t, sessions)
	gcs, host := newFakeGCS(t)
	gcs.CreateObject(fakestorage.Object{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: testBucket, Name: "lists/ids.txt", ContentType: "text/plain"},
		Content:     []byte(sessionList(sessions)),
	})

	from := time.Now()
	mustRunETL(t, 0, append(credentials, "STORAGE_EMULATOR_HOST="+host), "run",
		"--sessions", "gs://"+testBucket+"/lists/ids.txt", "--output", "gs://"+testBucket+"/videosdk",
		"--api-url", api.URL(), "--logical-time", "2026-11-26T14:00:00Z")
	to := time.Now()

	root, names := download(t, gcs, "videosdk")
	var parquet int
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "videosdk/"+schemas.TableName+"/"); ok {
			parquet++
			if !strings.HasSuffix(rest, ".parquet") || !strings.HasPrefix(rest, "dt=") || strings.Count(rest, "/") != 1 {
				t.Errorf("object %s under the table prefix is not dt=.../*.parquet", n)
			}
		}
	}
	if parquet == 0 {
		t.Fatalf("no Parquet objects written; objects: %v", names)
	}

	reports := readReports(t, root)
	db := openDuckDB(t)
	stats := checkTable(t, db, root, reports)
	rep := onlyRun(t, reports, stats)
	for _, f := range rep.Files {
		if !strings.HasPrefix(f.Path, "gs://"+testBucket+"/videosdk/"+schemas.TableName+"/") || path.Ext(f.Path) != ".parquet" {
			t.Errorf("report names file %q, want a gs:// URL under the table", f.Path)
		}
	}
	checkEqualsSimulator(t, db, root, simulatorRows(t, api.Snapshot()), rep.RunID, from, to)
}
