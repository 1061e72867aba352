package pipeline

import (
	"testing"
	"time"
)

func TestShardOfIsStableAndCoversAll(t *testing.T) {
	// Pinned values (FNV-1a 64 computed independently): changing the hash
	// would move sessions between shards of reruns, so these never change.
	for _, tt := range []struct {
		id      string
		n, want int
	}{
		{"61763c2597b0c743cf454204", 7, 6}, {"61763c2597b0c743cf454204", 4, 3},
		{"a1pu7evl", 7, 2}, {"x", 4, 3},
	} {
		if got := shardOf(tt.id, tt.n); got != tt.want {
			t.Errorf("shardOf(%q, %d) = %d, want %d", tt.id, tt.n, got, tt.want)
		}
	}
	if got := shardOf("abc", 1); got != 0 {
		t.Errorf("one shard: got %d", got)
	}
	counts := make([]int, 4)
	for i := 0; i < 4000; i++ {
		counts[shardOf("session-"+time.Duration(i).String(), 4)]++
	}
	for i, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d took %d of 4000 IDs: the hash does not spread", i, n)
		}
	}
}
