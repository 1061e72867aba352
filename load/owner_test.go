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
		if first.PreviousOwner != "" || second.PreviousOwner != "first" {
			t.Errorf("previous owners %q and %q, want none and first", first.PreviousOwner, second.PreviousOwner)
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
