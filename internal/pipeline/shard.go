package pipeline

import "hash/fnv"

// shardOf assigns a session ID to one of n shards by the FNV-1a 64-bit hash
// of its bytes: stable across runs, versions and machines, so a rerun of one
// shard takes exactly the sessions it took before.
func shardOf(id string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(n))
}
