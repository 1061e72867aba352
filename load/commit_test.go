package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/schemas"
)

var (
	lt1 = baseTime                      // 2026-11-26T14:00:00Z
	lt2 = baseTime.Add(time.Hour)       // same day, another logical time
	lt3 = baseTime.Add(-24 * time.Hour) // the day before
)

const tablePrefix = schemas.TableName + "/"

// onePartPerSession makes every Write finish its part.
var onePartPerSession = WriteOptions{MaxFileBytes: 1}

// writeRun begins a run of slot and writes one session per entry of
// sessions (its row count), named s0, s1, ...
func writeRun(t *testing.T, tbl *Table, slot Slot, runID string, sessions []int, opts WriteOptions) *Run {
	t.Helper()
	ctx := context.Background()
	r, err := tbl.Begin(ctx, slot, runID, opts)
	if err != nil {
		t.Fatalf("begin %s: %v", runID, err)
	}
	for i, n := range sessions {
		rec := sessionRecord(t, fmt.Sprintf("s%d", i), n, runID)
		err := r.Write(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatalf("write %s: %v", runID, err)
		}
	}
	return r
}

func publishRun(t *testing.T, tbl *Table, slot Slot, runID string, sessions []int, opts WriteOptions) []FileInfo {
	t.Helper()
	r := writeRun(t, tbl, slot, runID, sessions, opts)
	files, err := r.Publish(context.Background())
	if err != nil {
		t.Fatalf("publish %s: %v", runID, err)
	}
	return files
}

func listKeys(t *testing.T, tbl *Table, prefix string) []string {
	t.Helper()
	objs, err := tbl.drv.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// visibleFile is a table file as a reader sees it.
type visibleFile struct {
	key      string
	runID    string         // of all its rows (the test fails if mixed)
	sessions map[string]int // rows per session
}

// readTable reads every file under the table prefix whose name starts
// with namePrefix (after the dt folder).
func readTable(t *testing.T, tbl *Table, slot Slot) []visibleFile {
	t.Helper()
	name, _ := slot.name()
	var out []visibleFile
	for _, key := range listKeys(t, tbl, tableDir(slot)+name+"-") {
		data, _ := readParquet(t, readObject(t, tbl.drv, key))
		f := visibleFile{key: key, sessions: map[string]int{}}
		for _, s := range stringColumn(data, 0) {
			f.sessions[s]++
		}
		for _, id := range stringColumn(data, 10) {
			if f.runID != "" && f.runID != id {
				t.Fatalf("%s mixes rows of runs %s and %s", key, f.runID, id)
			}
			f.runID = id
		}
		out = append(out, f)
	}
	return out
}

// rowsPerSession sums the visible rows of each session.
func rowsPerSession(files []visibleFile) map[string]int {
	m := map[string]int{}
	for _, f := range files {
		for s, n := range f.sessions {
			m[s] += n
		}
	}
	return m
}

func wantExactlyOnce(t *testing.T, files []visibleFile, runID string, sessions []int) {
	t.Helper()
	for _, f := range files {
		if f.runID != runID && len(f.sessions) > 0 {
			t.Errorf("%s holds rows of run %s, want only %s", f.key, f.runID, runID)
		}
	}
	got := rowsPerSession(files)
	want := map[string]int{}
	for i, n := range sessions {
		if n > 0 {
			want[fmt.Sprintf("s%d", i)] = n
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows per session %v, want %v", got, want)
	}
}

func TestSlotNames(t *testing.T) {
	s := Slot{LogicalTime: time.Date(2026, 11, 26, 23, 30, 0, 0, time.FixedZone("X", -3600)), ShardIndex: 7, ShardCount: 12}
	name, err := s.name()
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 at UTC-1 is 00:30 UTC on the 27th.
	for got, want := range map[string]string{
		tableKey(s, name, 3):        "participant_timelogs/dt=2026-11-27/20261127T003000Z-shard-007-of-012-part-00003.parquet",
		stagingKey(name, "r-1", 12): "_staging/20261127T003000Z-shard-007-of-012/r-1/part-00012.parquet",
		reportKey(s, name, "r-1"):   "_runs/dt=2026-11-27/20261127T003000Z-shard-007-of-012-r-1.json",
		manifestKey(s, name):        "_manifests/dt=2026-11-27/20261127T003000Z-shard-007-of-012.txt",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for _, bad := range []Slot{{}, {LogicalTime: lt1, ShardCount: 0}, {LogicalTime: lt1, ShardIndex: 2, ShardCount: 2}, {LogicalTime: lt1, ShardIndex: -1, ShardCount: 2}} {
		if _, err := bad.name(); err == nil {
			t.Errorf("slot %+v accepted", bad)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "_x", strings.Repeat("a", 129)} {
		if checkRunID(bad) == nil {
			t.Errorf("run id %q accepted", bad)
		}
	}
}

func TestCommitStagingInvisibleUntilPublish(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, raw := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardIndex: 0, ShardCount: 2}
		r := writeRun(t, tbl, slot, "run-a", []int{30, 0, 45, 7}, onePartPerSession)
		if got := listKeys(t, tbl, tablePrefix); len(got) != 0 {
			t.Fatalf("before Publish the table lists %q", got)
		}
		name, _ := slot.name()
		if got := listKeys(t, tbl, stagingSlotDir(name)); len(got) != 3 {
			t.Errorf("staging holds %q, want 3 finished parts (the empty session writes nothing)", got)
		}
		if got := listKeys(t, tbl, slotsFolder); !slices.Contains(got, ownerKey(name)) {
			t.Errorf("slot markers %q: no owner marker of the run", got)
		}
		files, err := r.Publish(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"participant_timelogs/dt=2026-11-26/20261126T140000Z-shard-000-of-002-part-00000.parquet",
			"participant_timelogs/dt=2026-11-26/20261126T140000Z-shard-000-of-002-part-00001.parquet",
			"participant_timelogs/dt=2026-11-26/20261126T140000Z-shard-000-of-002-part-00002.parquet",
		}
		if got := listKeys(t, tbl, tablePrefix); !slices.Equal(got, want) {
			t.Errorf("after Publish the table lists %q, want %q", got, want)
		}
		var manifest strings.Builder
		for i, f := range files {
			if f.Path != tbl.drv.Location(want[i]) {
				t.Errorf("file %d path %s, want %s", i, f.Path, tbl.drv.Location(want[i]))
			}
			manifest.WriteString(f.Path + "\n")
		}
		if fmt.Sprint(files[0].Rows, files[1].Rows, files[2].Rows) != "30 45 7" {
			t.Errorf("rows per file %d %d %d, want 30 45 7", files[0].Rows, files[1].Rows, files[2].Rows)
		}
		name, _ = slot.name()
		if got := string(readObject(t, tbl.drv, manifestKey(slot, name))); got != manifest.String() {
			t.Errorf("manifest:\n%s\nwant:\n%s", got, manifest.String())
		}
		wantExactlyOnce(t, readTable(t, tbl, slot), "run-a", []int{30, 0, 45, 7})
		for _, k := range raw() {
			if strings.HasPrefix(k, stagingFolder) {
				t.Errorf("staging left after Publish: %s", k)
			}
			if strings.HasPrefix(k, tablePrefix) && !strings.HasSuffix(k, ".parquet") {
				t.Errorf("non-Parquet object in the table: %s", k)
			}
		}
		report, err := tbl.WriteReport(context.Background(), slot, "run-a", []byte(`{"ok":true}`))
		if err != nil {
			t.Fatal(err)
		}
		if report != tbl.drv.Location(reportKey(slot, name, "run-a")) {
			t.Errorf("report at %s", report)
		}
		if _, err := r.Publish(context.Background()); err == nil {
			t.Error("a second Publish succeeded")
		}
		if err := r.Abort(context.Background()); err != nil {
			t.Errorf("Abort after Publish: %v", err)
		}
		if got := listKeys(t, tbl, tablePrefix); len(got) != 3 {
			t.Errorf("Abort after Publish changed the table: %q", got)
		}
	})
}

func TestCommitEmptyRunPublishesOneEmptyFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		publishRun(t, tbl, slot, "old", []int{5, 6}, onePartPerSession)
		files := publishRun(t, tbl, slot, "new", nil, WriteOptions{})
		if len(files) != 1 || files[0].Rows != 0 {
			t.Fatalf("empty run published %+v, want one file of 0 rows", files)
		}
		vis := readTable(t, tbl, slot)
		if len(vis) != 1 || len(vis[0].sessions) != 0 {
			t.Errorf("table after an empty run: %+v", vis)
		}
	})
}

func TestCommitAbortLeavesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, raw := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		// Two finished parts, then an open one with an upload under way.
		r := writeRun(t, tbl, slot, "run-a", []int{10, 10}, onePartPerSession)
		r.opts.MaxFileBytes = 1 << 40
		rec := sessionRecord(t, "s9", 5000, "run-a")
		defer rec.Release()
		if err := r.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if err := r.Abort(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := raw(); len(got) != 0 {
			t.Errorf("Abort left %q", got)
		}
		if err := r.Write(context.Background(), rec); err == nil {
			t.Error("Write after Abort succeeded")
		}
		if _, err := r.Publish(context.Background()); err == nil {
			t.Error("Publish after Abort succeeded")
		}
	})
}

// TestCommitCancelledRunLeavesNothing: a run whose context is cancelled
// before its first part is opened (a signal, or the failure ceiling, as
// the writer starts) must leave no temporary object behind after Abort.
func TestCommitCancelledRunLeavesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, raw := b.open(t)
		ctx, cancel := context.WithCancel(context.Background())
		r, err := tbl.Begin(ctx, Slot{LogicalTime: lt1, ShardCount: 1}, "run-c", WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		rec := sessionRecord(t, "s1", 100, "run-c")
		defer rec.Release()
		if err := r.Write(context.Background(), rec); err == nil {
			t.Fatal("Write into a cancelled run succeeded")
		}
		if err := r.Abort(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := raw(); len(got) != 0 {
			t.Errorf("a cancelled run left %q", got)
		}
	})
}

func TestCommitRerunReplacesOnlyItsSlot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		a := Slot{LogicalTime: lt1, ShardIndex: 0, ShardCount: 2}
		others := []Slot{
			{LogicalTime: lt1, ShardIndex: 1, ShardCount: 2}, // another shard
			{LogicalTime: lt2, ShardIndex: 0, ShardCount: 2}, // another logical time, same dt
			{LogicalTime: lt3, ShardIndex: 0, ShardCount: 2}, // another day
		}
		publishRun(t, tbl, a, "a1", []int{5, 6}, WriteOptions{})
		for i, s := range others {
			publishRun(t, tbl, s, fmt.Sprint("other", i), []int{3, 4}, WriteOptions{})
		}
		before := map[string]objectAttrs{}
		objs, _ := tbl.drv.List(context.Background(), "")
		for _, o := range objs {
			before[o.Key] = o
		}

		publishRun(t, tbl, a, "a2", []int{8, 1, 2}, WriteOptions{})
		wantExactlyOnce(t, readTable(t, tbl, a), "a2", []int{8, 1, 2})
		for i, s := range others {
			wantExactlyOnce(t, readTable(t, tbl, s), fmt.Sprint("other", i), []int{3, 4})
		}
		aName, _ := a.name()
		after, _ := tbl.drv.List(context.Background(), "")
		for _, o := range after {
			old, ok := before[o.Key]
			mine := strings.Contains(o.Key, aName)
			switch {
			case mine:
			case !ok:
				t.Errorf("rerun of %s created %s", aName, o.Key)
			case old.Generation != o.Generation:
				t.Errorf("rerun of %s replaced %s", aName, o.Key)
			}
			delete(before, o.Key)
		}
		for k := range before {
			if !strings.Contains(k, aName) {
				t.Errorf("rerun of %s deleted %s", aName, k)
			}
		}
		if got := listKeys(t, tbl, tableDir(a)+aName); len(got) != 1 || !strings.HasSuffix(got[0], "-part-00000.parquet") {
			t.Errorf("slot files after rerun: %q", got)
		}
	})
}

func TestCommitRerunWithFewerPartsDeletesExtras(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		publishRun(t, tbl, slot, "r1", []int{5, 6, 7}, onePartPerSession)
		name, _ := slot.name()
		if got := listKeys(t, tbl, tableDir(slot)); len(got) != 3 {
			t.Fatalf("first run published %q, want 3 parts", got)
		}
		files := publishRun(t, tbl, slot, "r2", []int{9, 9, 9}, WriteOptions{})
		want := []string{tableKey(slot, name, 0)}
		if got := listKeys(t, tbl, tableDir(slot)); !slices.Equal(got, want) {
			t.Errorf("after a one-part rerun the table lists %q, want %q", got, want)
		}
		if got := string(readObject(t, tbl.drv, manifestKey(slot, name))); got != files[0].Path+"\n" {
			t.Errorf("manifest %q", got)
		}
		wantExactlyOnce(t, readTable(t, tbl, slot), "r2", []int{9, 9, 9})
	})
}

func TestBeginCleansStaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		a := Slot{LogicalTime: lt1, ShardIndex: 0, ShardCount: 2}
		other := Slot{LogicalTime: lt1, ShardIndex: 1, ShardCount: 2}
		aName, _ := a.name()
		otherName, _ := other.name()

		// A killed run of a (neither published nor aborted), and a live run of the other shard.
		writeRun(t, tbl, a, "killed", []int{3, 3}, onePartPerSession)
		live := writeRun(t, tbl, other, "live", []int{4}, onePartPerSession)

		r := writeRun(t, tbl, a, "next", nil, WriteOptions{})
		if got := listKeys(t, tbl, stagingSlotDir(aName)); len(got) != 0 {
			t.Errorf("Begin left the killed run's staging: %q", got)
		}
		if got := listKeys(t, tbl, stagingSlotDir(otherName)); len(got) != 1 {
			t.Errorf("Begin of shard 0 touched shard 1's fresh staging: %q", got)
		}
		if _, err := live.Publish(context.Background()); err != nil {
			t.Errorf("the other shard's run could not publish: %v", err)
		}
		if err := r.Abort(context.Background()); err != nil {
			t.Fatal(err)
		}

		// Staging of any slot is removed once it is older than StaleStaging.
		writeRun(t, tbl, other, "killed-too", []int{4}, onePartPerSession)
		tbl.now = func() time.Time { return time.Now().Add(DefaultStaleStaging + time.Hour) }
		writeRun(t, tbl, Slot{LogicalTime: lt2, ShardCount: 1}, "much-later", nil, WriteOptions{})
		if got := listKeys(t, tbl, stagingSlotDir(otherName)); len(got) != 0 {
			t.Errorf("stale staging of another slot survived: %q", got)
		}
	})
}

func TestCommitPreconditionStopsOverwrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		name, _ := slot.name()
		publishRun(t, tbl, slot, "r1", []int{5}, WriteOptions{})

		// Between the listing and the copy, someone else replaces the file.
		r := writeRun(t, tbl, slot, "r2", []int{6}, WriteOptions{PublishHook: func(step string) error {
			if step == "listed" {
				intruder := publishFileBytes(t, "intruder")
				mustPut(t, tbl.drv, tableKey(slot, name, 0), intruder)
			}
			return nil
		}})
		_, err := r.Publish(context.Background())
		expectPrecondition(t, b, gapCopyPrecondition, err)
		if err != nil {
			vis := readTable(t, tbl, slot)
			if len(vis) != 1 || vis[0].runID != "intruder" {
				t.Errorf("a refused publish changed the table: %+v", vis)
			}
		}
		r.Abort(context.Background())
	})
}

// TestConcurrentRunsOfOneSlot: the run that began last owns the slot; the
// earlier one publishes nothing and names the run that took over.
func TestConcurrentRunsOfOneSlot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, raw := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardIndex: 1, ShardCount: 2}
		publishRun(t, tbl, slot, "before", []int{4}, WriteOptions{})

		first := writeRun(t, tbl, slot, "first", []int{5, 6}, WriteOptions{})
		second := writeRun(t, tbl, slot, "second", []int{7}, WriteOptions{})
		if first.PreviousOwner != "before" || second.PreviousOwner != "first" {
			t.Errorf("previous owners %q and %q, want before (the last writer) and first", first.PreviousOwner, second.PreviousOwner)
		}

		_, err := first.Publish(context.Background())
		if !errors.Is(err, ErrSlotTaken) || !strings.Contains(err.Error(), "second") {
			t.Fatalf("the earlier run's Publish: %v, want ErrSlotTaken naming run second", err)
		}
		wantExactlyOnce(t, readTable(t, tbl, slot), "before", []int{4})
		// The loser's Abort leaves the owner's marker alone.
		if err := first.Abort(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := second.Publish(context.Background()); err != nil {
			t.Fatalf("the owner could not publish: %v", err)
		}
		wantExactlyOnce(t, readTable(t, tbl, slot), "second", []int{7})
		for _, k := range raw() {
			if strings.HasPrefix(k, stagingFolder) {
				t.Errorf("staging left after the owner published: %s", k)
			}
		}
	})
}

// TestKilledRunDoesNotBlockTheSlot: a run that died without a word (SIGKILL)
// leaves its marker; the next run of the slot takes over at once.
func TestKilledRunDoesNotBlockTheSlot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		killed := writeRun(t, tbl, slot, "killed", []int{3}, WriteOptions{})
		killed.cancel()
		r := writeRun(t, tbl, slot, "retry", []int{3, 2}, WriteOptions{})
		if r.PreviousOwner != "killed" {
			t.Errorf("PreviousOwner %q, want killed", r.PreviousOwner)
		}
		if _, err := r.Publish(context.Background()); err != nil {
			t.Fatal(err)
		}
		wantExactlyOnce(t, readTable(t, tbl, slot), "retry", []int{3, 2})
	})
}

func TestShardCountIsFixedPerLogicalTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		ctx := context.Background()
		publishRun(t, tbl, Slot{LogicalTime: lt1, ShardIndex: 1, ShardCount: 2}, "two", []int{4}, WriteOptions{})

		_, err := tbl.Begin(ctx, Slot{LogicalTime: lt1, ShardIndex: 0, ShardCount: 3}, "three", WriteOptions{})
		if !errors.Is(err, ErrShardCountChanged) {
			t.Fatalf("Begin with another shard count: %v, want ErrShardCountChanged", err)
		}
		for _, want := range []string{"--shard-count 2", "--shard-count 3", "-of-002"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message lacks %q: %v", want, err)
			}
		}
		// The same shard count, and another logical time, are fine.
		for _, slot := range []Slot{{LogicalTime: lt1, ShardIndex: 0, ShardCount: 2}, {LogicalTime: lt2, ShardIndex: 0, ShardCount: 3}} {
			r, err := tbl.Begin(ctx, slot, "ok", WriteOptions{})
			if err != nil {
				t.Fatalf("Begin %+v: %v", slot, err)
			}
			r.Abort(ctx)
		}
	})
}

// TestPublishNamesItsCommitPoint: an error before the first copy says
// nothing is visible; after it, a *PublishedError names the files that are.
func TestPublishNamesItsCommitPoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		for _, tc := range []struct {
			step      string
			published int // files a *PublishedError names; -1: not one
		}{
			{"listed", -1},
			{"published part 0", 1},
			{"extras deleted", 2},
			{"manifest written", 2},
		} {
			tbl, _ := b.open(t)
			slot := Slot{LogicalTime: lt1, ShardCount: 1}
			r := writeRun(t, tbl, slot, "r", []int{3, 4}, crashAt(onePartPerSession, tc.step))
			files, err := r.Publish(context.Background())
			var pe *PublishedError
			switch {
			case !errors.Is(err, errCrash):
				t.Errorf("%s: Publish: %v, want the simulated failure", tc.step, err)
			case tc.published < 0 && (errors.As(err, &pe) || files != nil):
				t.Errorf("%s: a failure before the commit point claims files: %v %v", tc.step, files, err)
			case tc.published >= 0 && (!errors.As(err, &pe) || len(pe.Files) != tc.published || len(files) != tc.published):
				t.Errorf("%s: %v (files %d), want a PublishedError naming %d files", tc.step, err, len(files), tc.published)
			case tc.published >= 0 && !strings.Contains(err.Error(), "published"):
				t.Errorf("%s: message %q does not say what was published", tc.step, err)
			}
			r.Abort(context.Background())
		}
	})
}

func TestCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		if ok, err := tbl.Committed(context.Background(), slot); ok || err != nil {
			t.Fatalf("an empty table: Committed %v, %v", ok, err)
		}
		r := writeRun(t, tbl, slot, "r", []int{3}, WriteOptions{})
		if ok, _ := tbl.Committed(context.Background(), slot); ok {
			t.Errorf("a run that has not published counts as committed")
		}
		if _, err := r.Publish(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ok, err := tbl.Committed(context.Background(), slot); !ok || err != nil {
			t.Errorf("after Publish: Committed %v, %v", ok, err)
		}
		if ok, _ := tbl.Committed(context.Background(), Slot{LogicalTime: lt2, ShardCount: 1}); ok {
			t.Errorf("another logical time counts as committed")
		}
	})
}

// TestPublishHookSteps pins the names and order of the steps the hook
// sees: crash tests of whole processes stop the child at them by name.
func TestPublishHookSteps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardCount: 1}
		publishRun(t, tbl, slot, "old", []int{1, 2, 3}, onePartPerSession)
		var seen []string
		opts := onePartPerSession
		opts.PublishHook = func(step string) error {
			seen = append(seen, step)
			return nil
		}
		publishRun(t, tbl, slot, "new", []int{4, 5}, opts)
		want := []string{"staged", "listed", "published part 0", "published part 1", "extras deleted", "manifest written"}
		if !slices.Equal(seen, want) {
			t.Errorf("publish steps %q, want %q", seen, want)
		}
	})
}

// publishFileBytes encodes one small Parquet file of run runID.
func publishFileBytes(t *testing.T, runID string) []byte {
	rec := sessionRecord(t, "s0", 2, runID)
	defer rec.Release()
	return parquetBytes(t, ParquetOptions{}, rec)
}

var errCrash = errors.New("simulated crash")

// crashAt returns opts with a PublishHook that stops Publish after step
// with errCrash, as if the process died there.
func crashAt(opts WriteOptions, step string) WriteOptions {
	opts.PublishHook = func(s string) error {
		if s == step {
			return errCrash
		}
		return nil
	}
	return opts
}

// crashScenario is a slot's earlier run and a rerun of the slot, which a
// test kills at one step after another.
type crashScenario struct {
	name     string
	old, new []int        // sessions (rows) of the earlier run and of the rerun
	opts     WriteOptions // of both: one part, or onePartPerSession
}

// parts is how many files the rerun publishes.
func (sc crashScenario) parts() int {
	if sc.opts.MaxFileBytes == onePartPerSession.MaxFileBytes {
		return len(sc.new)
	}
	return 1
}

// forEachCrash runs f as a subtest per backend, scenario and step, named
// scenario/step. A rerun of one part has no step "published part 1".
func forEachCrash(t *testing.T, scenarios []crashScenario, steps []string, f func(t *testing.T, b testBackend, sc crashScenario, step string)) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		for _, sc := range scenarios {
			for _, step := range steps {
				if sc.parts() == 1 && step == "published part 1" {
					continue
				}
				t.Run(sc.name+"/"+step, func(t *testing.T) { f(t, b, sc, step) })
			}
		}
	})
}

// TestCommitCrashBetweenSteps kills Publish after each step (the hook
// returns an error, and nothing else of the run runs: no cleanup, no
// Abort), checks what a reader listing the table sees against doc.go, and
// checks that the next run of the slot repairs it.
func TestCommitCrashBetweenSteps(t *testing.T) {
	scenarios := []crashScenario{
		// One part before and after: the reader sees all of the old run or all of the new one.
		{"one part", []int{5, 6, 7}, []int{5, 6, 7, 8}, WriteOptions{}},
		// Three parts before, two after: see doc.go for the mixed states.
		{"three parts then two", []int{5, 6, 7}, []int{8, 9}, onePartPerSession},
	}
	steps := []string{"staged", "listed", "published part 0", "published part 1", "extras deleted", "manifest written"}
	forEachCrash(t, scenarios, steps, func(t *testing.T, b testBackend, sc crashScenario, step string) {
		tbl, raw := b.open(t)
		slot := Slot{LogicalTime: lt1, ShardIndex: 1, ShardCount: 3}
		publishRun(t, tbl, slot, "old", sc.old, sc.opts)

		r := writeRun(t, tbl, slot, "new", sc.new, crashAt(sc.opts, step))
		if _, err := r.Publish(context.Background()); !errors.Is(err, errCrash) {
			t.Fatalf("Publish: %v, want the simulated crash", err)
		}
		r.cancel() // the process is gone: its context with it

		vis := readTable(t, tbl, slot)
		var runs []string
		for _, f := range vis {
			runs = append(runs, f.runID)
		}
		want := wantAfterCrash(sc.name, step)
		if fmt.Sprint(runs) != fmt.Sprint(want) {
			t.Errorf("table files by run after a crash at %q: %v, want %v", step, runs, want)
		}
		if want[0] == "new" && len(want) == len(vis) && !slices.Contains(want, "old") {
			wantExactlyOnce(t, vis, "new", sc.new)
		}

		// The next run (a Job retry) repairs the slot.
		publishRun(t, tbl, slot, "repair", sc.new, sc.opts)
		wantExactlyOnce(t, readTable(t, tbl, slot), "repair", sc.new)
		for _, k := range raw() {
			if strings.HasPrefix(k, stagingFolder) {
				t.Errorf("staging left after the repair: %s", k)
			}
		}
	})
}

// wantAfterCrash is doc.go's table of what a reader sees: the run of each
// visible file of the slot, in part order.
func wantAfterCrash(scenario, step string) []string {
	if scenario == "one part" {
		switch step {
		case "staged", "listed":
			return []string{"old"}
		default:
			return []string{"new"}
		}
	}
	switch step {
	case "staged", "listed":
		return []string{"old", "old", "old"}
	case "published part 0":
		return []string{"new", "old", "old"}
	case "published part 1":
		return []string{"new", "new", "old"}
	default:
		return []string{"new", "new"}
	}
}

func TestRunRollsOnlyBetweenWrites(t *testing.T) {
	tbl, _ := openLocal(t)
	slot := Slot{LogicalTime: lt1, ShardCount: 1}
	sessions := make([]int, 20)
	for i := range sessions {
		sessions[i] = 300 + 97*i
	}
	// Small row groups too, so a part holds several.
	files := publishRun(t, tbl, slot, "r", sessions, WriteOptions{MaxFileBytes: 48 << 10, RowGroupRows: 1000})
	if len(files) < 3 {
		t.Fatalf("%d files, want the run rolled into several", len(files))
	}
	vis := readTable(t, tbl, slot)
	seen := map[string]string{}
	for i, f := range vis {
		for s := range f.sessions {
			if prev, ok := seen[s]; ok {
				t.Errorf("session %s spans %s and %s", s, prev, f.key)
			}
			seen[s] = f.key
		}
		n := 0
		for _, c := range f.sessions {
			n += c
		}
		if int64(n) != files[i].Rows {
			t.Errorf("%s: FileInfo says %d rows, file has %d", f.key, files[i].Rows, n)
		}
	}
	wantExactlyOnce(t, vis, "r", sessions)
}
