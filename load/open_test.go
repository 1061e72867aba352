package load

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestOpenSessionsCarryForward: each tick reads what the latest earlier
// tick of its shard recorded open; a rerun reads the same; shards and later
// ticks do not count.
func TestOpenSessionsCarryForward(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tbl, _ := b.open(t)
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
	})
}
