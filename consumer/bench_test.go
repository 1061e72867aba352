package consumer

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// The benchmark runs every measured program as a grandchild: this test
// binary re-executes itself as a small "runner" (benchRunnerEnv), which
// starts the program and reports its rusage. A child exec'd straight from
// this process would inherit this process's high-water mark in its
// ru_maxrss (Go forks with CLONE_VM, and execve records the old mm's peak),
// and this process holds the simulator's data. The runner's own peak is a
// few MiB, far below what it measures.
const (
	benchRunnerEnv = "PARTICIPANTS_ETL_BENCH_RUNNER" // path of the file for the runner's JSON result
	benchDuckDBEnv = "PARTICIPANTS_ETL_BENCH_DUCKDB" // JSON duckDBJob: run DuckDB's export and exit
	benchRowsEnv   = "PARTICIPANTS_ETL_BENCH_ROWS"   // rows per shape; default benchDefault
	benchToken     = "consumer-bench-token"
	benchPerPage   = 100
	benchLogical   = "2026-11-26T00:00:00Z"
	benchDefault   = 200_000
)

// benchChild runs the benchmark's child modes; ok is false in a normal
// test process.
func benchChild() (code int, ok bool) {
	if path := os.Getenv(benchRunnerEnv); path != "" {
		return runMeasured(path, os.Args[1:]), true
	}
	if spec := os.Getenv(benchDuckDBEnv); spec != "" {
		if err := duckDBExport(spec); err != nil {
			fmt.Fprintln(os.Stderr, "duckdb export:", err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// usage is what the runner measured of one program.
type usage struct {
	CPUSeconds  float64 `json:"cpu_seconds"` // user + system, all threads
	PeakRSSKiB  int64   `json:"peak_rss_kib"`
	RunnerKiB   int64   `json:"runner_peak_kib"` // the floor under PeakRSSKiB
	WallSeconds float64 `json:"wall_seconds"`
}

// runMeasured runs args[0] with args[1:], stdio inherited and the runner's
// environment less benchRunnerEnv, and writes its usage to path.
func runMeasured(path string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, benchRunnerEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", args[0], err)
		return 1
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	u := usage{
		CPUSeconds:  tv(ru.Utime) + tv(ru.Stime),
		PeakRSSKiB:  ru.Maxrss,
		RunnerKiB:   selfHWM(),
		WallSeconds: time.Since(start).Seconds(),
	}
	b, _ := json.Marshal(u)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// selfHWM is this process's VmHWM in KiB.
func selfHWM() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// measure runs name args through the runner and returns its usage.
func measure(b *testing.B, env []string, stdin io.Reader, name string, args ...string) usage {
	b.Helper()
	result := filepath.Join(b.TempDir(), "usage.json")
	cmd := exec.Command(os.Args[0], append([]string{name}, args...)...)
	cmd.Env = append(cleanEnv(), append(env, benchRunnerEnv+"="+result)...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(string(out), 40))
	}
	raw, err := os.ReadFile(result)
	if err != nil {
		b.Fatalf("runner wrote no result: %v\n%s", err, out)
	}
	var u usage
	if err := json.Unmarshal(raw, &u); err != nil {
		b.Fatal(err)
	}
	return u
}

// cleanEnv is this process's environment without the developer's
// VIDEOSDK_*, ETL_* and Google settings (GOGC and GOMEMLIMIT pass, so their
// effect can be measured).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VIDEOSDK_") || strings.HasPrefix(k, "ETL_") || strings.HasPrefix(k, "GOOGLE_") ||
			strings.HasPrefix(k, "PARTICIPANTS_ETL_") || k == "STORAGE_EMULATOR_HOST" || k == "JOB_COMPLETION_INDEX" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// benchShape is one kind of session list.
type benchShape struct {
	name            string
	minParts, maxPa int
}

var benchShapes = []benchShape{
	{"big-sessions", 100, 3000}, // 1 to 30 pages of 100
	{"small-sessions", 1, 12},   // one page each
}

// benchSessions makes sessions of the shape holding exactly rows rows: each
// participant has one to three intervals with the API's usual millisecond
// UTC timestamps, a fifth of the last ones still open.
func benchSessions(shape benchShape, rows int) []videosdktest.Session {
	rnd := rand.New(rand.NewPCG(11, uint64(shape.maxPa)))
	base := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	const stamp = "2006-01-02T15:04:05.000Z07:00"
	var sessions []videosdktest.Session
	for n := 0; n < rows; {
		s := videosdktest.Session{
			ID:           fmt.Sprintf("%024x", len(sessions)),
			RoomID:       fmt.Sprintf("r%03d-%04d-x", len(sessions)%997, len(sessions)%7919),
			CustomRoomID: "room-" + strconv.Itoa(len(sessions)%50),
		}
		parts := shape.minParts + rnd.IntN(shape.maxPa-shape.minParts+1)
		for j := 0; j < parts && n < rows; j++ {
			p := videosdktest.Participant{ID: fmt.Sprintf("p%x-%d", len(sessions), j), Name: fmt.Sprintf("Participant %d", j)}
			t := base.Add(time.Duration(rnd.IntN(86_400_000)) * time.Millisecond)
			for k := 1 + rnd.IntN(3); k > 0 && n < rows; k-- {
				end := t.Add(time.Duration(1+rnd.IntN(3_600_000)) * time.Millisecond)
				e := videosdktest.Entry{Start: t.Format(stamp), End: end.Format(stamp)}
				if k == 1 && rnd.IntN(5) == 0 {
					e.EndIs = videosdktest.Null
				}
				p.Timelog = append(p.Timelog, e)
				t = end.Add(time.Duration(rnd.IntN(600_000)) * time.Millisecond)
				n++
			}
			s.Participants = append(s.Participants, p)
		}
		sessions = append(sessions, s)
	}
	return sessions
}

// savePages fetches every page the job will read, as the job reads them
// (perPage benchPerPage), and stores the bodies one per line in
// newline-delimited JSON files of about 64 MiB: the input DuckDB gets.
func savePages(b *testing.B, srv *videosdktest.Server, sessions []videosdktest.Session) (glob string) {
	b.Helper()
	dir := b.TempDir()
	bodies := make([][][]byte, len(sessions))
	var g errgroup.Group
	g.SetLimit(8)
	for i, s := range sessions {
		g.Go(func() error {
			for page, last := 1, 1; page <= last; page++ {
				body, err := getPage(srv.URL(), s.ID, page)
				if err != nil {
					return err
				}
				var pi struct {
					PageInfo struct{ LastPage int } `json:"pageInfo"`
				}
				if err := json.Unmarshal(body, &pi); err != nil {
					return err
				}
				last = pi.PageInfo.LastPage
				bodies[i] = append(bodies[i], body)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	var f *os.File
	var w *bufio.Writer
	var size int
	flush := func() {
		if f != nil {
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	files := 0
	for _, pages := range bodies {
		for _, body := range pages {
			if f == nil || size > 64<<20 {
				flush()
				var err error
				if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("pages-%04d.json", files))); err != nil {
					b.Fatal(err)
				}
				w, size = bufio.NewWriter(f), 0
				files++
			}
			w.Write(body) // json.Marshal output: no raw newlines
			w.WriteByte('\n')
			size += len(body) + 1
		}
	}
	flush()
	return filepath.Join(dir, "*.json")
}

func getPage(base, id string, page int) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v2/sessions/%s/participants?page=%d&perPage=%d", base, id, page, benchPerPage), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", benchToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("page %d of %s: status %d, %v", page, id, resp.StatusCode, err)
	}
	return body, nil
}

// duckDBJob is what the DuckDB child turns into Parquet.
type duckDBJob struct {
	Pages       string `json:"pages"` // glob of newline-delimited JSON pages
	Output      string `json:"output"`
	RunID       string `json:"run_id"`
	ExtractedAt string `json:"extracted_at"`
}

// duckDBExportSQL turns the saved pages into the columns of
// participant_timelogs v1, with the job's rules: one row per timelog entry
// with a start, timelog_index its position in the participant's timelog,
// duration_ms the microsecond difference truncated toward zero to
// milliseconds.
const duckDBExportSQL = `COPY (
  WITH pages AS (
    SELECT data FROM read_json(%s, format = 'newline_delimited', columns = {
      pageInfo: 'STRUCT(currentPage INTEGER, perPage INTEGER, lastPage INTEGER, total INTEGER)',
      data: 'STRUCT(id VARCHAR, roomId VARCHAR, customRoomId VARCHAR,
                    participants STRUCT(participantId VARCHAR, name VARCHAR,
                                        timelog STRUCT("start" TIMESTAMPTZ, "end" TIMESTAMPTZ)[])[])'})
  ), participants AS (
    SELECT data.id AS session_id, data.roomId AS room_id, data.customRoomId AS custom_room_id,
           unnest(data.participants) AS p
    FROM pages
  ), entries AS (
    SELECT session_id, room_id, custom_room_id, p.participantId AS participant_id, p.name AS participant_name,
           unnest(list_transform(p.timelog, (e, i) -> {'s': e."start", 'e': e."end", 'i': i - 1})) AS t
    FROM participants
  )
  SELECT session_id, room_id, custom_room_id, participant_id, participant_name,
         CAST(t.i AS INTEGER) AS timelog_index,
         t.s AS start_time, t.e AS end_time,
         CAST(CASE WHEN epoch_us(t.e) >= epoch_us(t.s) THEN (epoch_us(t.e) - epoch_us(t.s)) // 1000
                   ELSE -((epoch_us(t.s) - epoch_us(t.e)) // 1000) END AS BIGINT) AS duration_ms,
         CAST(%s AS TIMESTAMPTZ) AS extracted_at,
         %s AS run_id
  FROM entries
  WHERE t.s IS NOT NULL
) TO %s (FORMAT parquet, COMPRESSION zstd)`

// duckDBExport runs in the DuckDB child: an in-memory database, DuckDB's
// defaults (one thread per core, its own row-group size), one COPY.
func duckDBExport(spec string) error {
	var job duckDBJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf(duckDBExportSQL, sqlString(job.Pages), sqlString(job.ExtractedAt), sqlString(job.RunID), sqlString(job.Output)))
	return err
}

// BenchmarkJobVsDuckDB is issue 11's yardstick: for each shape, the
// simulator serves the pages and the participants-etl binary exports them;
// the same pages, saved as JSON, are turned into the same Parquet columns
// (names, types, zstd) by DuckDB's read_json and COPY. Both run as child
// processes; it reports each one's CPU seconds (user + system) per 1M rows,
// their ratio, and each one's peak RSS. It checks that both wrote the same
// rows. Rows per shape: PARTICIPANTS_ETL_BENCH_ROWS (default 200000).
//
//	cd consumer && CGO_ENABLED=1 go test -run '^$' -bench JobVsDuckDB -benchtime 1x
func BenchmarkJobVsDuckDB(b *testing.B) {
	rows := benchDefault
	if v := os.Getenv(benchRowsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number of rows", benchRowsEnv, v)
		}
		rows = n
	}
	for _, shape := range benchShapes {
		b.Run(shape.name, func(b *testing.B) {
			sessions := benchSessions(shape, rows)
			srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, StaticToken: benchToken, MaxPerPage: benchPerPage})
			defer srv.Close()
			list := sessionList(sessions)
			nSessions := len(sessions)
			pages := savePages(b, srv, sessions)
			sessions = nil

			var job, duck usage
			var jobBytes, duckBytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out := b.TempDir()
				u := measure(b, []string{"VIDEOSDK_TOKEN=" + benchToken}, strings.NewReader(list), etlBinary,
					"run", "--sessions", "-", "--output", out, "--api-url", srv.URL(), "--per-page", strconv.Itoa(benchPerPage),
					"--logical-time", benchLogical, "--progress-interval", "0", "--log-level", "error")
				job = add(job, u)
				reports := readReports(b, out)
				var runID string
				for id := range reports {
					runID = id
				}

				duckOut := filepath.Join(b.TempDir(), "duckdb.parquet")
				spec, _ := json.Marshal(duckDBJob{Pages: pages, Output: duckOut, RunID: runID, ExtractedAt: benchLogical})
				u = measure(b, []string{benchDuckDBEnv + "=" + string(spec)}, nil, os.Args[0])
				duck = add(duck, u)

				jobBytes, duckBytes = sameRows(b, tableGlob(out), duckOut, rows)
			}
			b.StopTimer()
			n := float64(b.N)
			perM := func(u usage) float64 { return u.CPUSeconds / n / (float64(rows) / 1e6) }
			b.ReportMetric(perM(job), "job-CPU-s/1Mrows")
			b.ReportMetric(perM(duck), "duckdb-CPU-s/1Mrows")
			b.ReportMetric(perM(job)/perM(duck), "job/duckdb")
			b.ReportMetric(float64(job.PeakRSSKiB)/1024, "job-peak-MiB")
			b.ReportMetric(float64(duck.PeakRSSKiB)/1024, "duckdb-peak-MiB")
			b.ReportMetric(float64(jobBytes)/float64(rows), "job-B/row")
			b.ReportMetric(float64(duckBytes)/float64(rows), "duckdb-B/row")
			b.ReportMetric(0, "ns/op") // one op is two exports of different sizes: meaningless
			b.Logf("%d rows in %d sessions; job %.2f CPU-s in %.1fs wall, DuckDB %.2f CPU-s in %.1fs wall (per run); runner floor %d KiB",
				rows, nSessions, job.CPUSeconds/n, job.WallSeconds/n, duck.CPUSeconds/n, duck.WallSeconds/n, max(job.RunnerKiB, duck.RunnerKiB))
		})
	}
}

// add sums CPU and wall time and keeps the highest peaks.
func add(a, u usage) usage {
	return usage{CPUSeconds: a.CPUSeconds + u.CPUSeconds, WallSeconds: a.WallSeconds + u.WallSeconds,
		PeakRSSKiB: max(a.PeakRSSKiB, u.PeakRSSKiB), RunnerKiB: max(a.RunnerKiB, u.RunnerKiB)}
}

// sameRows checks in DuckDB that the job's table and DuckDB's file hold the
// same rows, want of them, with the same column types, and returns both
// outputs' sizes in bytes.
func sameRows(b *testing.B, jobGlob, duckFile string, want int) (jobBytes, duckBytes int64) {
	b.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// extracted_at is the job's clock, not the logical time DuckDB stamps:
	// its type is compared, not its values.
	const cols = `session_id, room_id, custom_room_id, participant_id, participant_name, timelog_index,
		start_time, end_time, duration_ms, run_id`
	job := fmt.Sprintf("(SELECT %s FROM read_parquet(%s, hive_partitioning = false))", cols, sqlString(jobGlob))
	duck := fmt.Sprintf("(SELECT %s FROM read_parquet(%s))", cols, sqlString(duckFile))
	jobAll := fmt.Sprintf("(SELECT * FROM read_parquet(%s, hive_partitioning = false))", sqlString(jobGlob))
	duckAll := fmt.Sprintf("(SELECT * FROM read_parquet(%s))", sqlString(duckFile))
	ctx := context.Background()
	for _, q := range []struct {
		what  string
		query string
		want  int64
	}{
		{"job rows", "SELECT count(*) FROM " + job, int64(want)},
		{"DuckDB rows", "SELECT count(*) FROM " + duck, int64(want)},
		{"rows only the job wrote", "SELECT count(*) FROM (" + job + " EXCEPT ALL " + duck + ")", 0},
		{"columns whose type differs", fmt.Sprintf(`SELECT count(*) FROM (DESCRIBE %s) j JOIN (DESCRIBE %s) d USING (column_name)
			WHERE j.column_type <> d.column_type`, jobAll, duckAll), 0},
		{"columns the job wrote", fmt.Sprintf("SELECT count(*) FROM (DESCRIBE %s)", jobAll), 11},
		{"columns DuckDB wrote", fmt.Sprintf("SELECT count(*) FROM (DESCRIBE %s)", duckAll), 11},
	} {
		var n int64
		if err := db.QueryRowContext(ctx, q.query).Scan(&n); err != nil {
			b.Fatalf("%s: %v", q.what, err)
		}
		if n != q.want {
			b.Fatalf("%s: %d, want %d", q.what, n, q.want)
		}
	}
	files, _ := filepath.Glob(jobGlob)
	for _, f := range append(files, duckFile) {
		fi, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		if f == duckFile {
			duckBytes += fi.Size()
		} else {
			jobBytes += fi.Size()
		}
	}
	return jobBytes, duckBytes
}
