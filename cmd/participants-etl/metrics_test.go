package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestPushgateway: a run with --pushgateway pushes its metrics once, to
// the job and shard's group.
func TestPushgateway(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
		paths  []string
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, paths = append(bodies, string(b)), append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()
	sessions := videosdktest.Generate(2, 8)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...), "--output", out,
		"--api-url", srv.URL(), "--pushgateway", gw.URL)
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	rep := onlyReport(t, out)
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "POST /metrics/job/participants_etl/shard/0" {
		t.Fatalf("pushes: %v", paths)
	}
	// The body is protobuf-delimited; metric names and values are in it.
	for _, name := range []string{"participants_etl_rows", "participants_etl_sessions_failed", "participants_etl_sessions_skipped_complete", "participants_etl_sessions_fetched_open", "participants_etl_sessions_completed", "participants_etl_last_success_timestamp_seconds", "participants_etl_duration_seconds", "participants_etl_peak_rss_bytes"} {
		if !strings.Contains(bodies[0], name) {
			t.Errorf("push lacks %s", name)
		}
	}
	if rep.Counts.Rows == 0 {
		t.Error("nothing exported")
	}
	b, _ := json.Marshal(rep.Counts)
	t.Logf("counts %s", b)
}
