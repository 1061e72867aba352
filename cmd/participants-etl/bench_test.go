package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// BenchmarkExport exports from the simulator to local Parquet and reports
// rows/s and the peak resident memory of the exporting process (the
// report's peak_rss_bytes), for big sessions (1000 participants, one page
// of 1000) and small ones (1 to 12 participants). The export is the
// release binary, built as the Dockerfile builds it, in a process of its
// own: the simulator's data, held in this process, is not counted. The
// peak stays flat as rows grow: memory is bounded by concurrency and the
// row-group size, not by the number of rows.
//
//	go test -run '^$' -bench Export -benchtime 1x -timeout 60m ./cmd/participants-etl
func BenchmarkExport(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "participants-etl")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	shapes := []struct {
		name       string
		perSession func(i int) int
	}{
		{"big", func(int) int { return 1000 }},
		{"small", func(i int) int { return 1 + i%12 }},
	}
	for _, shape := range shapes {
		for _, rows := range []int{250_000, 1_000_000, 4_000_000} {
			b.Run(shape.name+"/rows="+strconv.Itoa(rows), func(b *testing.B) {
				benchExport(b, bin, videosdktest.Sized(rows, shape.perSession), rows)
			})
		}
	}
}

func benchExport(b *testing.B, bin string, sessions []videosdktest.Session, rows int) {
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: testAPIKey, Secret: []byte(testSecret), MaxPerPage: 1000})
	defer srv.Close()
	list := strings.Join(ids(sessions), "\n")
	sessions = nil
	var peak, size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := b.TempDir()
		cmd := exec.Command(bin, "run", "--sessions", "-", "--output", out, "--api-url", srv.URL(),
			"--per-page", "1000", "--logical-time", "2026-11-26T00:00:00Z", "--progress-interval", "0", "--log-level", "error")
		cmd.Env = []string{"VIDEOSDK_API_KEY=" + testAPIKey, "VIDEOSDK_SECRET_KEY=" + testSecret}
		for _, k := range []string{"GOGC", "GOMEMLIMIT"} { // to measure their effect
			if v, ok := os.LookupEnv(k); ok {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		cmd.Stdin = strings.NewReader(list)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("export: %v\n%s", err, out)
		}
		rep := onlyReport(b, out)
		if rep.Counts.Rows != rows || rep.PeakRSSBytes == 0 {
			b.Fatalf("exported %d rows of %d; peak_rss_bytes %d", rep.Counts.Rows, rows, rep.PeakRSSBytes)
		}
		peak = max(peak, rep.PeakRSSBytes)
		size = 0
		for _, f := range rep.Files {
			size += f.Bytes
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(size)/float64(rows), "file-B/row")
}
