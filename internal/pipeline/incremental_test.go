package pipeline

import (
	"crypto/sha256"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/transform"
)

func TestComplete(t *testing.T) {
	at := lt1
	ended := extract.Timelog{Start: &at, End: &at}
	open := extract.Timelog{Start: &at}
	noStartEnded := extract.Timelog{End: &at}
	noStartOpen := extract.Timelog{}
	tests := []struct {
		name string
		s    extract.Session
		want bool
	}{
		{"no participants", extract.Session{}, true},
		{"participants without intervals", extract.Session{Participants: []extract.Participant{{}, {Timelog: []extract.Timelog{}}}}, true},
		{"every interval ended", extract.Session{Participants: []extract.Participant{{Timelog: []extract.Timelog{ended, ended}}, {Timelog: []extract.Timelog{ended}}}}, true},
		{"one open interval", extract.Session{Participants: []extract.Participant{{Timelog: []extract.Timelog{ended}}, {Timelog: []extract.Timelog{ended, open}}}}, false},
		{"no start, ended", extract.Session{Participants: []extract.Participant{{Timelog: []extract.Timelog{noStartEnded}}}}, true},
		{"no start, no end", extract.Session{Participants: []extract.Participant{{Timelog: []extract.Timelog{ended, noStartOpen}}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := complete(tt.s); got != tt.want {
				t.Errorf("complete = %t, want %t", got, tt.want)
			}
		})
	}
}

// tick is one incremental run of ids at logical into out.
func tick(t *testing.T, srv *videosdktest.Server, out string, logical time.Time, ids []string) (*Report, error) {
	t.Helper()
	return Run(t.Context(), tickOptions(srv, out, logical, ids))
}

func tickOptions(srv *videosdktest.Server, out string, logical time.Time, ids []string) Options {
	opts := testOptions(srv, out, logical, ids)
	opts.Incremental = true
	return opts
}

// latest is the _latest view in Go: for each key, the row extracted last.
func latest(rows []transform.Row) map[videosdktest.RowKey]transform.Row {
	out := map[videosdktest.RowKey]transform.Row{}
	for _, r := range rows {
		k := videosdktest.RowKey{SessionID: r.SessionID, ParticipantID: r.ParticipantID, TimelogIndex: r.TimelogIndex}
		if old, ok := out[k]; !ok || r.ExtractedAt > old.ExtractedAt {
			out[k] = r
		}
	}
	return out
}

func checkLatestEqualsSimulator(t *testing.T, root string, sessions []videosdktest.Session) {
	t.Helper()
	want, err := videosdktest.WantRows(sessions)
	if err != nil {
		t.Fatal(err)
	}
	// Read by column name (tabletest: not the writer's own inverse).
	got := latest(tabletest.ReadTable(t, root))
	diffs := 0
	for k, w := range want {
		g, ok := got[k]
		g.ExtractedAt, g.RunID = 0, ""
		switch {
		case !ok:
			t.Errorf("%v: missing from the latest rows", k)
			diffs++
		case !reflect.DeepEqual(g, w):
			t.Errorf("%v:\n got %+v\nwant %+v", k, g, w)
			diffs++
		}
		if diffs > 10 {
			t.Fatal("too many differences")
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%v: not in the simulator's data", k)
		}
	}
	if len(want) == 0 {
		t.Fatal("no rows to compare")
	}
}

// slotFiles hashes the table files of one logical time ("20261126T150000Z").
func slotFiles(t *testing.T, root, lt string) map[string][32]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "participant_timelogs", "*", lt+"-*.parquet"))
	out := map[string][32]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = sha256.Sum256(b)
	}
	return out
}

// rowsPerRun counts the rows of the table under root by run ID.
func rowsPerRun(t *testing.T, root string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range tabletest.ReadTable(t, root) {
		n[r.RunID]++
	}
	return n
}

// TestIncrementalTicks is the acceptance, driven through Run
// against the simulator: a tick skips exactly what an earlier tick
// completed, fetches what was ongoing and what is new, and the latest
// rows equal the simulator's final data; a tick with nothing open sends no
// request and publishes an empty slot; a rerun of tick 2 after ticks 3
// and 4 fetches and writes what tick 2 did and leaves the other slots
// alone.
func TestIncrementalTicks(t *testing.T) {
	first := videosdktest.GenerateStatic(21, 16, 2, "2026-11-26T13:30:00Z", videosdktest.Null)
	srv := serve(t, first)
	out := t.TempDir()
	t2, t3, t4 := lt1.Add(time.Hour), lt1.Add(2*time.Hour), lt1.Add(3*time.Hour)

	// Tick 1: every listed session is fetched.
	list1 := idsOf(first, nil)
	rep, err := tick(t, srv, out, lt1, list1)
	if err != nil || rep.ExitCode != ExitOK {
		t.Fatalf("tick 1: exit %d, %v", rep.ExitCode, err)
	}
	done1 := idsOf(first, videosdktest.Session.Ended)
	if c := rep.Counts; c.SessionsSkippedComplete != 0 || c.SessionsFetchedOpen != len(list1) || c.SessionsCompleted != len(done1) {
		t.Errorf("tick 1 counts: skipped %d, fetched open %d, completed %d; want 0, %d, %d",
			c.SessionsSkippedComplete, c.SessionsFetchedOpen, c.SessionsCompleted, len(list1), len(done1))
	}

	// The ongoing sessions end; new ones start, some ongoing, and join the
	// list.
	ongoing1 := idsOf(first, func(s videosdktest.Session) bool { return !s.Ended() })
	srv.EndOngoing(first, "2026-11-26T14:30:00Z")
	fresh := videosdktest.GenerateStatic(22, 8, 2, "2026-11-26T13:30:00Z", videosdktest.Null)
	for _, s := range fresh {
		srv.SetSession(s)
	}
	list2 := append(slices.Clone(list1), idsOf(fresh, nil)...)

	// Tick 2: no request for a session complete at tick 1, one for every
	// other.
	n := len(srv.RequestURIs())
	rep2, err := tick(t, srv, out, t2, list2)
	if err != nil || rep2.ExitCode != ExitOK {
		t.Fatalf("tick 2: exit %d, %v", rep2.ExitCode, err)
	}
	asked2 := srv.ParticipantsRequested(n)
	wantAsked2 := append(slices.Clone(ongoing1), idsOf(fresh, nil)...)
	if got := slices.Sorted(maps.Keys(asked2)); !slices.Equal(got, slices.Sorted(slices.Values(wantAsked2))) {
		t.Errorf("tick 2 requested %d sessions %v,\nwant the %d ongoing at tick 1 and new: %v", len(got), got, len(wantAsked2), wantAsked2)
	}
	for _, id := range done1 {
		if asked2[id] {
			t.Errorf("tick 2 requested %s, complete at tick 1", id)
		}
	}
	if c := rep2.Counts; c.SessionsSkippedComplete != len(done1) || c.SessionsFetchedOpen != len(wantAsked2) {
		t.Errorf("tick 2 counts: skipped %d, fetched open %d; want %d, %d", c.SessionsSkippedComplete, c.SessionsFetchedOpen, len(done1), len(wantAsked2))
	}
	checkLatestEqualsSimulator(t, out, srv.Snapshot())
	rowsTick2 := rowsPerRun(t, out)[rep2.RunID]

	// Tick 3 fetches the new sessions that were ongoing at tick 2, now
	// ended; tick 4 has nothing open: no request, an empty slot, exit 0.
	srv.EndOngoing(fresh, "2026-11-26T15:30:00Z")
	n = len(srv.RequestURIs())
	if rep, err := tick(t, srv, out, t3, list2); err != nil || rep.ExitCode != ExitOK {
		t.Fatalf("tick 3: exit %d, %v", rep.ExitCode, err)
	}
	if got, want := len(srv.ParticipantsRequested(n)), len(idsOf(fresh, func(s videosdktest.Session) bool { return !s.Ended() })); got != want {
		t.Errorf("tick 3 requested %d sessions, want the %d ongoing at tick 2", got, want)
	}
	n = len(srv.RequestURIs())
	rep4, err := tick(t, srv, out, t4, list2)
	if err != nil || rep4.ExitCode != ExitOK {
		t.Fatalf("tick 4: exit %d, %v", rep4.ExitCode, err)
	}
	if got := srv.RequestURIs()[n:]; len(got) != 0 {
		t.Errorf("tick 4, with every session complete, sent %d requests: %v", len(got), got)
	}
	if c := rep4.Counts; c.SessionsSkippedComplete != len(list2) || c.SessionsFetchedOpen != 0 || c.Rows != 0 || len(rep4.Files) != 1 || rep4.Files[0].Rows != 0 {
		t.Errorf("tick 4: skipped %d, fetched %d, rows %d, files %+v; want all %d skipped and one empty file",
			c.SessionsSkippedComplete, c.SessionsFetchedOpen, c.Rows, rep4.Files, len(list2))
	}
	checkLatestEqualsSimulator(t, out, srv.Snapshot())

	// Rerun tick 2 after ticks 3 and 4: the same sessions as tick 2, the
	// same row count, the other slots untouched.
	others := map[string]map[string][32]byte{}
	for _, lt := range []string{"20261126T140000Z", "20261126T160000Z", "20261126T170000Z"} {
		others[lt] = slotFiles(t, out, lt)
	}
	n = len(srv.RequestURIs())
	rerun, err := tick(t, srv, out, t2, list2)
	if err != nil || rerun.ExitCode != ExitOK {
		t.Fatalf("rerun of tick 2: exit %d, %v", rerun.ExitCode, err)
	}
	if got := srv.ParticipantsRequested(n); !maps.Equal(got, asked2) {
		t.Errorf("the rerun of tick 2 requested %v, tick 2 requested %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(asked2)))
	}
	perRun := rowsPerRun(t, out)
	if got := perRun[rerun.RunID]; got != rowsTick2 || perRun[rep2.RunID] != 0 {
		t.Errorf("the rerun of tick 2 holds %d rows (first run's left: %d), tick 2 wrote %d", got, perRun[rep2.RunID], rowsTick2)
	}
	for lt, before := range others {
		if after := slotFiles(t, out, lt); !maps.Equal(before, after) || len(before) == 0 {
			t.Errorf("slot %s changed under a rerun of tick 2 (%d files before, %d after)", lt, len(before), len(after))
		}
	}
	checkLatestEqualsSimulator(t, out, srv.Snapshot())
}

// TestFullRefetchesAndRecords: --full with --incremental fetches every
// session, and still records the complete ones.
func TestFullRefetchesAndRecords(t *testing.T) {
	sessions := videosdktest.GenerateStatic(23, 6, 2, "2026-11-26T13:30:00Z", videosdktest.Null)
	srv := serve(t, sessions)
	out := t.TempDir()
	list := idsOf(sessions, nil)
	if _, err := tick(t, srv, out, lt1, list); err != nil {
		t.Fatal(err)
	}
	n := len(srv.RequestURIs())
	opts := tickOptions(srv, out, lt1.Add(time.Hour), list)
	opts.Full = true
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.ParticipantsRequested(n); len(got) != len(list) {
		t.Errorf("--full requested %d sessions, want all %d", len(got), len(list))
	}
	if c := rep.Counts; c.SessionsSkippedComplete != 0 || c.SessionsCompleted != len(idsOf(sessions, videosdktest.Session.Ended)) {
		t.Errorf("--full: skipped %d, completed %d", c.SessionsSkippedComplete, c.SessionsCompleted)
	}
}

// TestLedgerFailureAfterPublish: a run that dies between publishing and
// recording the ledger (here the test hook fails there, as a crash would)
// has published its files and says so, exits 1, writes its report; the
// next tick fetches every session again, so nothing is lost.
func TestLedgerFailureAfterPublish(t *testing.T) {
	sessions := videosdktest.GenerateStatic(24, 8, 2, "2026-11-26T13:30:00Z", videosdktest.Null)
	srv := serve(t, sessions)
	out := t.TempDir()
	list := idsOf(sessions, nil)

	crash := errors.New("killed")
	opts := tickOptions(srv, out, lt1, list)
	opts.LedgerHook = func(step string) error {
		if step == StepLedgerPending {
			return crash
		}
		return nil
	}
	rep, err := Run(t.Context(), opts)
	if !errors.Is(err, crash) || rep.ExitCode != ExitFailed || !strings.Contains(err.Error(), "published 1 files; then failed at record the ledger") || rep.Status != StatusPublished {
		t.Fatalf("exit %d, err %v; want 1 and a published-then-failed error", rep.ExitCode, err)
	}
	if len(rep.Files) != 1 || rep.Counts.SessionsCompleted != 0 {
		t.Errorf("files %+v, completed %d; want the published file, none recorded", rep.Files, rep.Counts.SessionsCompleted)
	}
	readReportFile(t, out) // the failed run's, and only that
	checkLatestEqualsSimulator(t, out, sessions)

	n := len(srv.RequestURIs())
	rep2, err := tick(t, srv, out, lt1.Add(time.Hour), list)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.ParticipantsRequested(n); len(got) != len(list) || rep2.Counts.SessionsSkippedComplete != 0 {
		t.Errorf("after the lost ledger update the next tick requested %d of %d sessions, skipped %d", len(got), len(list), rep2.Counts.SessionsSkippedComplete)
	}
	// Its completions are recorded now: the tick after skips them.
	rep3, err := tick(t, srv, out, lt1.Add(2*time.Hour), list)
	if err != nil || rep3.Counts.SessionsSkippedComplete != len(idsOf(sessions, videosdktest.Session.Ended)) {
		t.Errorf("third tick skipped %d, want %d (%v)", rep3.Counts.SessionsSkippedComplete, len(idsOf(sessions, videosdktest.Session.Ended)), err)
	}
}
