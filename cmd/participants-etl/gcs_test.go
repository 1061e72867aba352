package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/load"
)

// useFakeGCS starts a fake-gcs-server holding bucket and returns a client
// of it, for the test and (as load.OpenOptions.StorageClient) for runs.
func useFakeGCS(t *testing.T, bucket string) *storage.Client {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return srv.Client()
}

func putObject(t *testing.T, c *storage.Client, bucket, name, body string) {
	t.Helper()
	w := c.Bucket(bucket).Object(name).NewWriter(context.Background())
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func listObjects(t *testing.T, c *storage.Client, bucket, prefix string) []string {
	t.Helper()
	var names []string
	it := c.Bucket(bucket).Objects(context.Background(), &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, a.Name)
	}
}

func TestGCSEndToEnd(t *testing.T) {
	client := useFakeGCS(t, "b")
	sessions := videosdktest.Generate(23, 50)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	putObject(t, client, "b", "ids.txt", strings.Join(append(ids(sessions), "no-such-session"), "\n"))
	// Something unrelated under the prefix must survive.
	putObject(t, client, "b", "videosdk/README.txt", "not ours")

	start := time.Now()
	res := runProcess(t, t.Context(), process{getenv: credsEnv(nil), store: load.OpenOptions{StorageClient: client}}, "run", "--sessions", "gs://b/ids.txt", "--output", "gs://b/videosdk",
		"--api-url", srv.URL(), "--logical-time", "2026-11-26T14:00:00Z")
	if res.code != exitPartial {
		t.Fatalf("exit %d, want 3; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	rows, names := gcsTable(t, client, "b", "videosdk/participant_timelogs/")
	for _, n := range names {
		if !strings.HasPrefix(n, "videosdk/participant_timelogs/dt=2026-11-26/20261126T140000Z-shard-000-of-001-part-") {
			t.Errorf("unexpected object %s in the table", n)
		}
	}
	reports := listObjects(t, client, "b", "videosdk/_runs/")
	if len(reports) != 1 {
		t.Fatalf("reports: %v", reports)
	}
	r, err := client.Bucket("b").Object(reports[0]).NewReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	r.Close()
	runID := reports[0][strings.LastIndex(reports[0], "-of-001-")+len("-of-001-") : len(reports[0])-len(".json")]
	if !strings.Contains(string(body), `"run_id": "`+runID+`"`) || !strings.Contains(string(body), "no-such-session") {
		t.Errorf("report %s does not name its run and the failed session:\n%.500s", reports[0], body)
	}
	checkRows(t, rows, wantRows(t, srv.Snapshot()), runID, start, time.Now())
	if got := listObjects(t, client, "b", "videosdk/_staging/"); len(got) != 0 {
		t.Errorf("staging left after a committed run: %v", got)
	}
	if got := listObjects(t, client, "b", "videosdk/_manifests/"); len(got) != 1 {
		t.Errorf("manifests: %v", got)
	}
	if got := listObjects(t, client, "b", "videosdk/README.txt"); len(got) != 1 {
		t.Errorf("an unrelated object was touched")
	}
}

func TestGCSMissingBucketIsConfiguration(t *testing.T) {
	p := process{getenv: credsEnv(nil), store: load.OpenOptions{StorageClient: useFakeGCS(t, "b")}}
	p.stdin = strings.NewReader("abc\n")
	res := runProcess(t, t.Context(), p, "run", "--sessions", "-", "--output", "gs://no-such-bucket/videosdk",
		"--api-url", "http://127.0.0.1:1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "no-such-bucket") {
		t.Fatalf("exit %d, want 2 naming the bucket; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	p.stdin = strings.NewReader("")
	res = runProcess(t, t.Context(), p, "run", "--sessions", "gs://b/missing.txt", "--output", t.TempDir(),
		"--api-url", "http://127.0.0.1:1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "missing.txt") {
		t.Fatalf("missing list object: exit %d, want 2 naming it; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	dir := t.TempDir()
	res = runProcess(t, t.Context(), p, "run", "--sessions", dir, "--output", t.TempDir(), "--api-url", "http://127.0.0.1:1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "directory") {
		t.Fatalf("a directory as the list: exit %d, want 2 saying it is a directory; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
	res = runProcess(t, t.Context(), p, "run", "--sessions", "/no/such/ids.txt", "--output", t.TempDir(),
		"--api-url", "http://127.0.0.1:1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "/no/such/ids.txt") {
		t.Fatalf("missing list file: exit %d, want 2 naming it; stderr:\n%s", res.code, tail(res.stderr, 2000))
	}
}
