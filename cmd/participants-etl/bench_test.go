package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// benchSessions makes sessions of 1000 participants with one closed
// interval each: rows/1000 sessions, exactly rows rows.
func benchSessions(rows int) []videosdktest.Session {
	const perSession = 1000
	sessions := make([]videosdktest.Session, rows/perSession)
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range sessions {
		s := &sessions[i]
		s.ID = fmt.Sprintf("%024x", i)
		s.RoomID, s.CustomRoomID = "abc-xyzw-lmno", "room"
		s.Participants = make([]videosdktest.Participant, perSession)
		for j := range s.Participants {
			start := base.Add(time.Duration(i*perSession+j) * time.Second)
			s.Participants[j] = videosdktest.Participant{
				ID:      fmt.Sprintf("p%07d", j),
				Name:    fmt.Sprintf("Participant %d", j),
				Timelog: []videosdktest.Entry{{Start: start.Format(time.RFC3339Nano), End: start.Add(time.Hour).Format(time.RFC3339Nano)}},
			}
		}
	}
	return sessions
}

// BenchmarkExport exports from the simulator to local Parquet and reports
// rows/s and the peak resident memory of the exporting process. The export
// runs as a child process (the test binary re-executed as the command), so
// the simulator's data, held in this process, is not counted. The peak
// stays flat as rows grow: memory is bounded by concurrency and the
// row-group size, not by the number of sessions or rows.
func BenchmarkExport(b *testing.B) {
	for _, rows := range []int{250_000, 1_000_000, 2_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			sessions := benchSessions(rows)
			srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: testAPIKey, Secret: []byte(testSecret), MaxPerPage: 1000})
			defer srv.Close()
			list := strings.Join(ids(sessions), "\n")
			sessions = nil
			var peakKiB int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(os.Args[0], "run", "--sessions", "-", "--output", b.TempDir(), "--api-url", srv.URL(),
					"--per-page", "1000", "--logical-time", "2026-11-26T00:00:00Z", "--progress-interval", "0", "--log-level", "error")
				hwm := filepath.Join(b.TempDir(), "vmhwm")
				cmd.Env = []string{"PARTICIPANTS_ETL_CHILD=1", "PARTICIPANTS_ETL_HWM_FILE=" + hwm,
					"VIDEOSDK_API_KEY=" + testAPIKey, "VIDEOSDK_SECRET_KEY=" + testSecret}
				cmd.Stdin = strings.NewReader(list)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("export: %v\n%s", err, out)
				}
				kb, err := os.ReadFile(hwm)
				if err != nil {
					b.Fatalf("the export did not report its peak memory: %v", err)
				}
				n, err := strconv.ParseInt(string(kb), 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				peakKiB = max(peakKiB, n)
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peakKiB)/1024, "peak-RSS-MiB")
		})
	}
}
