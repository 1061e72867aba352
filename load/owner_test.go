package load

import (
	"context"
	"errors"
	"strings"
	"testing"
)

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
			opts := onePartPerSession
			opts.PublishHook = func(s string) error {
				if s == tc.step {
					return errCrash
				}
				return nil
			}
			r := writeRun(t, tbl, slot, "r", []int{3, 4}, opts)
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
