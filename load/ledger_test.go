package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestLedger runs the ledger's behaviour, and that of the open sessions a
// tick records beside it, against every store.
func TestLedger(t *testing.T) {
	runStoreTests(t, []storeTest{
		{"empty", testLedgerEmpty},
		{"record and read back", testLedgerRecordRead},
		{"complete before", testLedgerCompleteBefore},
		{"read filtered", testLedgerReadFor},
		{"IDs longer than a read buffer", testLedgerLongIDs},
		{"rerun replaces", testLedgerRerunReplaces},
		{"retract before a rerun publishes", testLedgerRetract},
		{"shards", testLedgerShards},
		{"concurrent writer", testLedgerConcurrentWriter},
		{"concurrent creator", testLedgerConcurrentCreator},
		{"endless conflicts", testLedgerEndlessConflicts},
		{"forget sessions", testLedgerForgetSessions},
		{"forget a day", testLedgerForgetDay},
		{"corrupt object", testLedgerCorrupt},
		{"invalid IDs", testLedgerInvalidIDs},
		{"store error is not corruption", testLedgerStoreError},
		{"open sessions carry forward", testOpenSessionsCarryForward},
	})
}

var (
	tick1 = time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	tick2 = tick1.Add(time.Hour)
	tick3 = tick2.Add(time.Hour)
)

func slot1(lt time.Time) Slot { return Slot{LogicalTime: lt, ShardIndex: 0, ShardCount: 1} }

func mustRecord(t *testing.T, tbl *Table, s Slot, ids ...string) {
	t.Helper()
	if err := tbl.RecordComplete(context.Background(), s, ids); err != nil {
		t.Fatalf("RecordComplete(%v, %q): %v", s, ids, err)
	}
}

func mustReadLedger(t *testing.T, tbl *Table) *Ledger {
	t.Helper()
	l, err := tbl.ReadLedger(context.Background())
	if err != nil {
		t.Fatalf("ReadLedger: %v", err)
	}
	return l
}

// ledgerContents lists the ledger as "id@first completion", by asking
// CompleteBefore only, at every second of [from, to).
func ledgerContents(l *Ledger, ids []string, from, to time.Time) []string {
	var out []string
	for _, id := range ids {
		for lt := from; lt.Before(to); lt = lt.Add(time.Second) {
			if l.CompleteBefore(id, lt.Add(time.Second)) {
				out = append(out, id+"@"+lt.Format("15:04:05"))
				break
			}
		}
	}
	return out
}

func testLedgerEmpty(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	mustPut(t, tbl.drv, "_ledger/README.txt", []byte("not a ledger object: ignored")) // an operator's note
	l := mustReadLedger(t, tbl)
	if l.Len() != 0 || l.CompleteBefore("s1", tick3) || l.CompleteBefore("", tick3) {
		t.Errorf("empty store: ledger of %d sessions, CompleteBefore true", l.Len())
	}
	// Retracting or recording nothing on a fresh slot writes nothing.
	if err := tbl.RetractComplete(context.Background(), slot1(tick1)); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, tbl, slot1(tick1))
	if got := raw(); !slices.Equal(got, []string{"_ledger/README.txt"}) {
		t.Errorf("store holds %q, want only the note", got)
	}
}

func testLedgerRecordRead(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	ids := []string{"6176a1b2c3d4e5f601234567", "s-2", "Zoë 参加", "s-2", "a"}
	mustRecord(t, tbl, slot1(tick1.Add(59*time.Minute+30*time.Second)), ids...)
	l := mustReadLedger(t, tbl)
	if l.Len() != 4 {
		t.Errorf("Len = %d, want 4 (a duplicate counts once)", l.Len())
	}
	got := ledgerContents(l, append(ids, "never"), tick1, tick2)
	want := []string{"6176a1b2c3d4e5f601234567@13:59:30", "s-2@13:59:30", "Zoë 参加@13:59:30", "s-2@13:59:30", "a@13:59:30"}
	if !slices.Equal(got, want) {
		t.Errorf("ledger = %q, want %q", got, want)
	}
	// Beside the table, never in it; one object per shard and month.
	const key = "_ledger/month=2026-11/shard-000-of-001.txt.gz"
	if got := raw(); !slices.Equal(got, []string{key}) {
		t.Errorf("store holds %q, want only %s", got, key)
	}
	// The format, read with gzip alone (not the ledger's decoder).
	zr, err := gzip.NewReader(bytes.NewReader(readObject(t, tbl.drv, key)))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	wantText := "participants_etl ledger v1\n\t20261126T135930Z\n6176a1b2c3d4e5f601234567\nZoë 参加\na\ns-2\n" // sorted by bytes
	if string(text) != wantText {
		t.Errorf("object text = %q, want %q", text, wantText)
	}
}

// testLedgerReadFor: a run reads only the entries of its own IDs, with
// their earliest completion, across months and shard counts.
func testLedgerReadFor(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	october := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)
	mustRecord(t, tbl, slot1(tick1), "s1", "s2", "s3")
	mustRecord(t, tbl, Slot{LogicalTime: october, ShardIndex: 1, ShardCount: 2}, "s2", "s4")
	mustRecord(t, tbl, slot1(tick2), "s5")
	keep := map[string]bool{"s2": true, "s5": true, "absent": true}
	l, err := tbl.ReadLedgerFor(context.Background(), func(id string) bool { return keep[id] })
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2 {
		t.Errorf("Len = %d, want 2 (s2 and s5 only)", l.Len())
	}
	got := ledgerContents(l, []string{"s1", "s2", "s3", "s4", "s5", "absent"}, october, tick3)
	want := []string{"s2@23:00:00", "s5@14:00:00"}
	if !slices.Equal(got, want) {
		t.Errorf("filtered ledger = %q, want %q", got, want)
	}
	// A nil filter keeps everything, as ReadLedger does.
	if l, err := tbl.ReadLedgerFor(context.Background(), nil); err != nil || l.Len() != 5 {
		t.Errorf("nil filter: %d sessions, %v; want 5", l.Len(), err)
	}
}

// testLedgerLongIDs: the reader streams objects a line at a time; an ID
// longer than its buffer is read whole, kept or not.
func testLedgerLongIDs(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	long := []string{strings.Repeat("a", 64<<10), strings.Repeat("b", 200<<10) + "1", strings.Repeat("b", 200<<10) + "2"}
	mustRecord(t, tbl, slot1(tick1), append([]string{"short"}, long...)...)
	l := mustReadLedger(t, tbl)
	if got := ledgerContents(l, append([]string{"short"}, long...), tick1, tick2); len(got) != 4 {
		t.Errorf("read back %d of 4 sessions", len(got))
	}
	for _, keep := range long {
		l, err := tbl.ReadLedgerFor(context.Background(), func(id string) bool { return id == keep })
		if err != nil {
			t.Fatal(err)
		}
		if l.Len() != 1 || !l.CompleteBefore(keep, tick2) {
			t.Errorf("filtered to one ID of %d bytes: %d sessions, complete = %v", len(keep), l.Len(), l.CompleteBefore(keep, tick2))
		}
	}
}

func testLedgerCompleteBefore(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	mustRecord(t, tbl, slot1(tick2), "s1", "s2")
	mustRecord(t, tbl, slot1(tick1), "s2") // a backfill of an earlier tick
	mustRecord(t, tbl, slot1(tick3), "s3")
	l := mustReadLedger(t, tbl)
	tests := []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"s1", tick1, false},                             // later completion
		{"s1", tick2, false},                             // same tick: a rerun of tick2 fetches it again
		{"s1", tick2.Add(time.Second), true},             // the next second
		{"s1", tick2.Add(500 * time.Millisecond), false}, // slots are to the second
		{"s1", tick3, true},
		{"s2", tick1, false},
		{"s2", tick2, true}, // the earliest completion counts
		{"s3", tick3, false},
		{"s3", tick3.Add(time.Hour), true},
		{"s4", tick3.Add(time.Hour), false},
	}
	for _, tt := range tests {
		if got := l.CompleteBefore(tt.id, tt.at); got != tt.want {
			t.Errorf("CompleteBefore(%q, %s) = %v, want %v", tt.id, tt.at.Format(time.RFC3339Nano), got, tt.want)
		}
	}
}

func testLedgerRerunReplaces(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	ids := []string{"a", "b", "c"}
	mustRecord(t, tbl, slot1(tick1), "x")
	mustRecord(t, tbl, slot1(tick2), "a", "b")
	mustRecord(t, tbl, slot1(tick2), "b", "c") // the rerun of tick2
	got := ledgerContents(mustReadLedger(t, tbl), append(ids, "x"), tick1, tick3)
	if want := []string{"b@14:00:00", "c@14:00:00", "x@13:00:00"}; !slices.Equal(got, want) {
		t.Errorf("after a rerun: ledger = %q, want %q", got, want)
	}
	mustRecord(t, tbl, slot1(tick2)) // a rerun that completed nothing
	got = ledgerContents(mustReadLedger(t, tbl), append(ids, "x"), tick1, tick3)
	if want := []string{"x@13:00:00"}; !slices.Equal(got, want) {
		t.Errorf("after an empty rerun: ledger = %q, want %q", got, want)
	}
}

func testLedgerRetract(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	ctx := context.Background()
	mustRecord(t, tbl, slot1(tick1), "x")
	mustRecord(t, tbl, slot1(tick2), "a", "b")
	mustRecord(t, tbl, Slot{LogicalTime: tick2, ShardIndex: 1, ShardCount: 2}, "y")
	// A rerun of tick2 (shard 0 of 1) is about to publish: until it records,
	// the ledger claims nothing of that slot, and only of that slot.
	if err := tbl.RetractComplete(ctx, slot1(tick2)); err != nil {
		t.Fatal(err)
	}
	ids := []string{"a", "b", "c", "x", "y"}
	got := ledgerContents(mustReadLedger(t, tbl), ids, tick1, tick3)
	if want := []string{"x@13:00:00", "y@14:00:00"}; !slices.Equal(got, want) {
		t.Errorf("after RetractComplete: ledger = %q, want %q", got, want)
	}
	mustRecord(t, tbl, slot1(tick2), "c", "b")
	got = ledgerContents(mustReadLedger(t, tbl), ids, tick1, tick3)
	if want := []string{"b@14:00:00", "c@14:00:00", "x@13:00:00", "y@14:00:00"}; !slices.Equal(got, want) {
		t.Errorf("after RecordComplete: ledger = %q, want %q", got, want)
	}
}

func testLedgerShards(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	mustRecord(t, tbl, Slot{LogicalTime: tick1, ShardIndex: 0, ShardCount: 2}, "a")
	mustRecord(t, tbl, Slot{LogicalTime: tick1, ShardIndex: 1, ShardCount: 2}, "b")
	// Another shard count, another month: the reader is told neither.
	mustRecord(t, tbl, Slot{LogicalTime: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ShardIndex: 4, ShardCount: 5}, "c")
	l := mustReadLedger(t, tbl)
	for _, id := range []string{"a", "b", "c"} {
		if !l.CompleteBefore(id, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s missing from the ledger", id)
		}
	}
	want := []string{
		"_ledger/month=2026-11/shard-000-of-002.txt.gz",
		"_ledger/month=2026-11/shard-001-of-002.txt.gz",
		"_ledger/month=2026-12/shard-004-of-005.txt.gz",
	}
	if got := raw(); !slices.Equal(got, want) {
		t.Errorf("store holds %q, want %q", got, want)
	}
}

// raceDriver lets a test act just before the next write of a ledger object
// starts, as another process could.
type raceDriver struct {
	driver
	writes int
	before func()
}

func (d *raceDriver) NewWriter(ctx context.Context, key string, opts writerOptions) (objectWriter, error) {
	if strings.HasPrefix(key, ledgerFolder) {
		d.writes++
		if d.before != nil {
			d.before()
		}
	}
	return d.driver.NewWriter(ctx, key, opts)
}

// racingTable is a Table over the same store whose ledger writes call
// before first.
func racingTable(tbl *Table, before func()) (*Table, *raceDriver) {
	d := &raceDriver{driver: tbl.drv, before: before}
	return &Table{drv: d, now: time.Now}, d
}

// ageObject sets a local object's modification time an hour back: a local
// generation is its mtime, which the kernel keeps at a coarse tick, so a
// test that writes twice within one tick must age the first write to see
// two generations. GCS needs nothing.
func ageObject(t *testing.T, b testBackend, tbl *Table, key string) {
	t.Helper()
	if b.name != "local" {
		return
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tbl.drv.Location(key), old, old); err != nil {
		t.Fatal(err)
	}
}

// recordAgainstB has A record from-a at tick2 while B, another writer of
// the same shard and month, records from-b at bTick between A's read of
// the ledger object and A's write; A must write twice, its first write
// refused by its precondition.
func recordAgainstB(t *testing.T, tbl *Table, bTick time.Time) {
	t.Helper()
	var a *raceDriver
	tblA, a := racingTable(tbl, func() {
		a.before = nil
		mustRecord(t, tbl, slot1(bTick), "from-b")
	})
	mustRecord(t, tblA, slot1(tick2), "from-a")
	if a.writes != 2 {
		t.Errorf("A wrote %d times, want 2 (the first refused by its precondition)", a.writes)
	}
}

func testLedgerConcurrentWriter(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	mustRecord(t, tbl, slot1(tick1), "seed")
	ageObject(t, b, tbl, ledgerKey(slot1(tick1)))
	// B is a backfill of tick3.
	recordAgainstB(t, tbl, tick3)
	got := ledgerContents(mustReadLedger(t, tbl), []string{"seed", "from-a", "from-b"}, tick1, tick3.Add(time.Hour))
	if want := []string{"seed@13:00:00", "from-a@14:00:00", "from-b@15:00:00"}; !slices.Equal(got, want) {
		t.Errorf("ledger = %q, want %q: a writer's entries were lost", got, want)
	}
}

func testLedgerConcurrentCreator(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	// As above, but the object does not exist when A reads: A's write
	// demands DoesNotExist, and B creates it first.
	recordAgainstB(t, tbl, tick1)
	got := ledgerContents(mustReadLedger(t, tbl), []string{"from-a", "from-b"}, tick1, tick3)
	if want := []string{"from-a@14:00:00", "from-b@13:00:00"}; !slices.Equal(got, want) {
		t.Errorf("ledger = %q, want %q: a writer's entries were lost", got, want)
	}
}

func testLedgerEndlessConflicts(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	n := 0
	tblA, _ := racingTable(tbl, func() {
		n++
		mustRecord(t, tbl, slot1(tick1), strings.Repeat("b", n))
		ageObject(t, b, tbl, ledgerKey(slot1(tick1)))
	})
	err := tblA.RecordComplete(context.Background(), slot1(tick2), []string{"a"})
	if !errors.Is(err, errPrecondition) || !strings.Contains(err.Error(), tbl.drv.Location(ledgerKey(slot1(tick2)))) {
		t.Errorf("RecordComplete losing every race: %v, want errPrecondition naming the object", err)
	}
	if n != ledgerAttempts {
		t.Errorf("%d attempts, want %d", n, ledgerAttempts)
	}
}

func testLedgerForgetSessions(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	mustRecord(t, tbl, Slot{LogicalTime: tick1, ShardIndex: 0, ShardCount: 2}, "a", "b")
	mustRecord(t, tbl, Slot{LogicalTime: tick1, ShardIndex: 1, ShardCount: 2}, "c")
	mustRecord(t, tbl, Slot{LogicalTime: tick1.AddDate(0, 1, 0), ShardIndex: 0, ShardCount: 2}, "a")
	n, err := tbl.ForgetSessions(context.Background(), []string{"a", "c", "never"})
	if err != nil || n != 3 {
		t.Fatalf("ForgetSessions = %d, %v; want 3 entries removed", n, err)
	}
	l := mustReadLedger(t, tbl)
	end := tick1.AddDate(1, 0, 0)
	if l.Len() != 1 || !l.CompleteBefore("b", end) || l.CompleteBefore("a", end) || l.CompleteBefore("c", end) {
		t.Errorf("after forgetting a and c: %d sessions, b %v, a %v, c %v; want only b",
			l.Len(), l.CompleteBefore("b", end), l.CompleteBefore("a", end), l.CompleteBefore("c", end))
	}
	if n, err := tbl.ForgetSessions(context.Background(), []string{"a"}); err != nil || n != 0 {
		t.Errorf("forgetting again = %d, %v; want 0, nil", n, err)
	}
}

func testLedgerForgetDay(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	mustRecord(t, tbl, slot1(day.Add(-time.Second)), "before")
	mustRecord(t, tbl, slot1(day), "first")
	mustRecord(t, tbl, Slot{LogicalTime: day.Add(23*time.Hour + 59*time.Minute + 59*time.Second), ShardIndex: 1, ShardCount: 3}, "last")
	mustRecord(t, tbl, slot1(day.Add(24*time.Hour)), "after") // December
	n, err := tbl.ForgetCompleted(context.Background(), day, day.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("ForgetCompleted = %d, %v; want 2 entries removed", n, err)
	}
	l := mustReadLedger(t, tbl)
	end := day.AddDate(0, 1, 0)
	for id, want := range map[string]bool{"before": true, "first": false, "last": false, "after": true} {
		if got := l.CompleteBefore(id, end); got != want {
			t.Errorf("%s complete = %v, want %v", id, got, want)
		}
	}
	if _, err := tbl.ForgetCompleted(context.Background(), day, day); err == nil {
		t.Error("ForgetCompleted of an empty range: no error")
	}
}

func testLedgerCorrupt(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	gz := func(s string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(s))
		zw.Close()
		return buf.Bytes()
	}
	const h = ledgerHeader + "\n"
	valid := gz(h + "\t20261126T130000Z\na\n")
	tests := []struct {
		name, want string
		body       []byte
	}{
		{"not gzip", "gzip: invalid header", []byte("participants_etl ledger v1\n")},
		{"truncated gzip", "unexpected EOF", valid[:len(valid)-6]},
		{"other header", "line 1", gz("participants_etl ledger v2\n")},
		{"last line cut", "truncated", gz(h + "\t20261126T130000Z\na")},
		{"ID first", "line 2: session ID before any logical time", gz(h + "a\n")},
		{"bad time", "line 2: logical time", gz(h + "\t2026-11-26\na\n")},
		{"other month", "not in the object's month 2026-11", gz(h + "\t20261226T130000Z\na\n")},
		{"times out of order", "line 4: logical time 20261126T120000Z not after", gz(h + "\t20261126T130000Z\na\n\t20261126T120000Z\nb\n")},
		{"IDs out of order", "line 4: session ID \"a\" out of order", gz(h + "\t20261126T130000Z\nb\na\n")},
		{"duplicate ID", "line 4: session ID \"a\" out of order", gz(h + "\t20261126T130000Z\na\na\n")},
		{"empty time", "has no sessions", gz(h + "\t20261126T130000Z\n\t20261126T140000Z\na\n")},
		{"empty line", "line 3: empty session ID", gz(h + "\t20261126T130000Z\n\n")},
	}
	key := ledgerKey(slot1(tick1))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPut(t, tbl.drv, key, tt.body)
			for op, err := range map[string]error{
				"ReadLedger": func() error { _, err := tbl.ReadLedger(context.Background()); return err }(),
				// Lines the filter drops are checked all the same.
				"ReadLedgerFor keeping nothing": func() error {
					_, err := tbl.ReadLedgerFor(context.Background(), func(string) bool { return false })
					return err
				}(),
				"RecordComplete": tbl.RecordComplete(context.Background(), slot1(tick1), []string{"x"}),
			} {
				if !errors.Is(err, ErrCorruptLedger) || !strings.Contains(err.Error(), tbl.drv.Location(key)) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: %v; want ErrCorruptLedger naming %s and saying %q", op, err, tbl.drv.Location(key), tt.want)
				}
			}
		})
	}
	// Deleting the object is the documented cure, and is safe.
	if err := tbl.drv.Delete(context.Background(), key, precondition{}); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, tbl, slot1(tick1), "x")
}

func testLedgerInvalidIDs(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	for _, ids := range [][]string{{""}, {"a\nb"}, {"\tx"}, {"ok", string([]byte{0xff})}} {
		if err := tbl.RecordComplete(context.Background(), slot1(tick1), ids); err == nil {
			t.Errorf("RecordComplete(%q): no error", ids)
		}
		if _, err := tbl.ForgetSessions(context.Background(), ids); err == nil {
			t.Errorf("ForgetSessions(%q): no error", ids)
		}
	}
	bad := Slot{LogicalTime: tick1, ShardIndex: 2, ShardCount: 2}
	if err := tbl.RecordComplete(context.Background(), bad, []string{"a"}); err == nil {
		t.Error("RecordComplete of shard 2 of 2: no error")
	}
	if err := tbl.RetractComplete(context.Background(), bad); err == nil {
		t.Error("RetractComplete of shard 2 of 2: no error")
	}
	if got := raw(); len(got) != 0 {
		t.Errorf("store holds %q after refused calls, want nothing", got)
	}
}

// failingReads cuts every read of an object short with a store error.
type failingReads struct{ driver }

var errFlaky = errors.New("connection reset")

func (d failingReads) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := d.driver.NewReader(ctx, key)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(r, 20), iotest.ErrReader(errFlaky)), r}, nil
}

func testLedgerStoreError(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	mustRecord(t, tbl, slot1(tick1), "a", "b")
	flaky := &Table{drv: failingReads{tbl.drv}, now: time.Now}
	_, err := flaky.ReadLedger(context.Background())
	if !errors.Is(err, errFlaky) || errors.Is(err, ErrCorruptLedger) {
		t.Errorf("ReadLedger with a failing store: %v; want the store's error, not ErrCorruptLedger", err)
	}
}

// testOpenSessionsCarryForward: each tick reads what the latest earlier
// tick of its shard recorded open; a rerun reads the same; shards and later
// ticks do not count.
func testOpenSessionsCarryForward(t *testing.T, b testBackend, tbl *Table, raw func() []string) {
	ctx := context.Background()
	at := func(h int, shard int) Slot {
		return Slot{LogicalTime: baseTime.Add(time.Duration(h) * time.Hour), ShardIndex: shard, ShardCount: 2}
	}
	if ids, when, err := tbl.OpenBefore(ctx, at(1, 0)); err != nil || ids != nil || !when.IsZero() {
		t.Fatalf("empty store: %v %v %v", ids, when, err)
	}
	for _, rec := range []struct {
		slot Slot
		ids  []string
	}{
		{at(1, 0), []string{"b", "a"}},
		{at(2, 0), []string{"c"}},
		{at(1, 1), []string{"other-shard"}},
		{at(3, 0), []string{"later"}},
	} {
		if err := tbl.RecordOpen(ctx, rec.slot, rec.ids); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		slot Slot
		want []string
	}{
		{at(1, 0), nil},                // nothing earlier
		{at(2, 0), []string{"a", "b"}}, // tick 1's, sorted
		{at(3, 0), []string{"c"}},      // the latest earlier tick only
		{at(2, 1), []string{"other-shard"}},
		{at(9, 0), []string{"later"}},
	} {
		got, _, err := tbl.OpenBefore(ctx, tc.slot)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("OpenBefore(%s shard %d) = %v, %v; want %v", tc.slot.LogicalTime.Format(time.RFC3339), tc.slot.ShardIndex, got, err, tc.want)
		}
	}
	// A rerun of tick 2 replaces its record.
	if err := tbl.RecordOpen(ctx, at(2, 0), []string{"d"}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := tbl.OpenBefore(ctx, at(3, 0)); !slices.Equal(got, []string{"d"}) {
		t.Errorf("after a rerun of tick 2: %v, want [d]", got)
	}
}

// TestLedgerAroundPublish kills a rerun at every step of the ledger's
// protocol around Publish (L1, P's steps, L2) and checks the invariant
// that makes skipping safe: every session the ledger holds complete at the
// slot's time has rows in the slot's files, as a reader lists them.
func TestLedgerAroundPublish(t *testing.T) {
	// The first run: s0, s1, s2 complete. The rerun holds s0 and s1 (s2
	// failed this time).
	scenarios := []crashScenario{
		{"one part", []int{5, 6, 7}, []int{5, 6}, WriteOptions{}},
		{"a part per session", []int{5, 6, 7}, []int{5, 6}, onePartPerSession},
	}
	steps := []string{"retracted", "staged", "listed", "published part 0", "published part 1", "extras deleted", "manifest written", "published", ""}
	forEachCrash(t, scenarios, steps, func(t *testing.T, b testBackend, sc crashScenario, step string) {
		ctx := context.Background()
		tbl, _ := b.open(t)
		slot := Slot{LogicalTime: tick2, ShardIndex: 1, ShardCount: 3}
		publishRun(t, tbl, slot, "first", sc.old, sc.opts)
		mustRecord(t, tbl, slot, "s0", "s1", "s2")

		// The rerun dies at step.
		crashed := func() bool {
			r := writeRun(t, tbl, slot, "rerun", sc.new, crashAt(sc.opts, step))
			defer r.cancel() // the process is gone: its context with it
			if err := tbl.RetractComplete(ctx, slot); err != nil {
				t.Fatal(err)
			}
			if step == "retracted" {
				return true
			}
			if _, err := r.Publish(ctx); err != nil {
				if !errors.Is(err, errCrash) {
					t.Fatalf("Publish: %v", err)
				}
				return true
			}
			if step == "published" {
				return true
			}
			mustRecord(t, tbl, slot, "s0", "s1")
			return false
		}()
		if crashed == (step == "") {
			t.Fatalf("crashed = %v at step %q", crashed, step)
		}
		rows := rowsPerSession(readTable(t, tbl, slot))
		l := mustReadLedger(t, tbl)
		for _, id := range []string{"s0", "s1", "s2"} {
			if l.CompleteBefore(id, tick3) && rows[id] == 0 {
				t.Errorf("the ledger holds %s complete at %s, the slot's files have no row of it", id, tick2.Format(time.RFC3339))
			}
		}
		if !crashed && l.Len() != 2 {
			t.Errorf("after the rerun the ledger holds %d sessions, want s0 and s1", l.Len())
		}
	})
}

// ledgerText is the text of a ledger object holding groups (logical time
// to sorted IDs), written from doc.go's format; empty groups are left out.
func ledgerText(groups map[int64][]string) string {
	var b strings.Builder
	b.WriteString(ledgerHeader + "\n")
	for _, at := range slices.Sorted(maps.Keys(groups)) {
		if len(groups[at]) == 0 {
			continue
		}
		b.WriteString("\t" + time.Unix(at, 0).UTC().Format(LogicalTimeLayout) + "\n")
		for _, id := range groups[at] {
			b.WriteString(id + "\n")
		}
	}
	return b.String()
}

// TestLedgerEditMatchesModel holds the streaming edit to a model of the
// ledger as a map of logical time to a set of IDs: for random objects and
// random edits (a group replaced before, at, between or after the
// existing ones, by nothing, by the same IDs or by others; entries
// dropped), the text written is the model's, and the change and the count
// of dropped entries are the model's.
func TestLedgerEditMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix()
	randomIDs := func(max int) []string {
		set := map[string]bool{}
		for range rng.IntN(max + 1) {
			set[fmt.Sprintf("s%02d", rng.IntN(40))] = true
		}
		return slices.Sorted(maps.Keys(set))
	}
	for i := range 3000 {
		old := map[int64][]string{}
		for range rng.IntN(5) {
			if ids := randomIDs(6); len(ids) > 0 {
				old[base+int64(rng.IntN(8))*3600] = ids
			}
		}
		want := maps.Clone(old)
		var e ledgerEdit
		wantDropped := 0
		switch rng.IntN(3) {
		case 0, 1:
			e = ledgerEdit{replace: true, at: base + int64(rng.IntN(9))*3600 - 1800*int64(rng.IntN(2))}
			switch had := old[e.at]; rng.IntN(5) {
			case 0:
				e.set = had // the same again
			case 1:
				e.set = append(slices.Clone(had), "s99") // the same and more
			case 2:
				e.set = had[:len(had)/2] // fewer of the same
			default:
				e.set = randomIDs(5)
			}
			want[e.at] = e.set
		case 2:
			gone := map[string]bool{}
			for _, id := range randomIDs(10) {
				gone[id] = true
			}
			e.drop = func(at int64, id string) bool { return gone[id] && (at-base)%7200 == 0 }
			for at, ids := range old {
				kept := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return e.drop(at, id) })
				wantDropped += len(ids) - len(kept)
				want[at] = kept
			}
		}
		var scan func(group func(int64), id func(string)) error
		if len(old) > 0 || rng.IntN(2) == 0 {
			scan = func(group func(int64), id func(string)) error {
				return scanLedger(strings.NewReader(ledgerText(old)), "2026-11", group, id)
			}
		}
		var got strings.Builder
		changed, dropped, err := e.apply(&got, scan)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got.String() != ledgerText(want) || changed != (ledgerText(want) != ledgerText(old)) || dropped != wantDropped {
			t.Fatalf("case %d: edit %+v of\n%s\nwrote\n%s\nchanged %v, dropped %d; want\n%s\nchanged %v, dropped %d",
				i, e, ledgerText(old), got.String(), changed, dropped, ledgerText(want), ledgerText(want) != ledgerText(old), wantDropped)
		}
	}
}
