package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used, user and system: on a
// shared machine a steadier measure than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ledgerFixture fills a local store with a ledger of n complete sessions,
// VideoSDK-like IDs (24 hex digits, a time prefix then random), recorded by
// hourly ticks over months months, split over shards shards by FNV-1a as
// the run does. It returns the table, one month's (tick, shard 0) slot, and
// a function that reports the store's object count and size per session.
func ledgerFixture(b *testing.B, n, months, shards int) (*Table, Slot, func()) {
	b.Helper()
	ctx := context.Background()
	tbl, err := Open(ctx, b.TempDir(), OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hours := int(start.AddDate(0, months, 0).Sub(start) / time.Hour)
	parts := map[string]map[int64][]string{} // by object key
	for i := range n {
		h := i * hours / n
		at := start.Add(time.Duration(h) * time.Hour)
		id := fmt.Sprintf("%08x%016x", at.Unix()-int64(rng.IntN(86400)), rng.Uint64())
		key := ledgerKey(Slot{LogicalTime: at, ShardIndex: fnv64a(id) % shards, ShardCount: shards})
		if parts[key] == nil {
			parts[key] = map[int64][]string{}
		}
		parts[key][at.Unix()] = append(parts[key][at.Unix()], id)
	}
	var stored int64
	for key, groups := range parts {
		for at, ids := range groups {
			groups[at], _ = sortedIDs(ids)
		}
		var body bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed)
		zw.Write([]byte(ledgerText(groups)))
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		stored += int64(body.Len())
		if err := tbl.put(ctx, key, body.Bytes(), writerOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	objects := len(parts) // not parts: the report must not keep them alive
	report := func() {
		b.ReportMetric(float64(objects), "objects")
		b.ReportMetric(float64(stored)/float64(n), "stored-B/session")
	}
	return tbl, Slot{LogicalTime: start.Add(time.Duration(hours/months/2) * time.Hour), ShardIndex: 0, ShardCount: shards}, report
}

func fnv64a(s string) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return int(h % (1 << 62))
}

// BenchmarkLedgerRead reads a ledger of 1M complete sessions (a year of
// hourly ticks, 4 shards: 48 objects) and reports the heap the Ledger
// keeps, per session, and the peak heap while reading.
//
//	go test -run '^$' -bench Ledger -benchtime 3x ./load
func BenchmarkLedgerRead(b *testing.B) {
	const n = 1_000_000
	tbl, _, report := ledgerFixture(b, n, 12, 4)
	ctx := context.Background()
	l, base := benchLedgerRead(b, func() (*Ledger, error) { return tbl.ReadLedger(ctx) })
	if l.Len() != n {
		b.Fatalf("ledger holds %d sessions, want %d", l.Len(), n)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse-base)/n, "kept-B/session")
	report()
	runtime.KeepAlive(l)
}

// benchLedgerRead runs read in b's loop (see benchOp). It returns the
// last Ledger read and the heap in use before.
func benchLedgerRead(b *testing.B, read func() (*Ledger, error)) (*Ledger, uint64) {
	b.Helper()
	var l *Ledger
	base := benchOp(b, func() {
		l = nil // the last read may be collected while reading the next
		var err error
		if l, err = read(); err != nil {
			b.Fatal(err)
		}
	})
	return l, base
}

// benchOp runs op in b's loop and reports its CPU time per op and the peak
// heap while it runs, above the heap in use before, which it returns.
func benchOp(b *testing.B, op func()) uint64 {
	b.Helper()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak, stop := sampleHeap()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		op()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
	stop()
	b.ReportMetric(float64(*peak-base.HeapInuse)/(1<<20), "peak-heap-MiB")
	return base.HeapInuse
}

// ledgerShapes are the ledgers of 1M sessions the update and filtered-read
// benchmarks use: a year over 4 shards, and all of it in one object.
var ledgerShapes = []struct {
	name           string
	months, shards int
}{{"year-4-shards", 12, 4}, {"one-object", 1, 1}}

// BenchmarkLedgerLookup is 1M calls of CompleteBefore (a tick's list) on a
// ledger of 1M sessions, half of them for sessions it does not hold.
func BenchmarkLedgerLookup(b *testing.B) {
	const n = 1_000_000
	tbl, s, _ := ledgerFixture(b, n, 12, 1)
	l, err := tbl.ReadLedger(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	probe := make([]string, 4096)
	for i := range probe {
		if i%2 == 0 {
			probe[i] = l.id(i * (n / len(probe)))
		} else {
			probe[i] = fmt.Sprintf("%024x", i)
		}
	}
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		for i := range n {
			l.CompleteBefore(probe[i%len(probe)], s.LogicalTime)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N*n), "cpu-ns/lookup")
}

// BenchmarkLedgerRecord is a rerun's update (RetractComplete, then
// RecordComplete of 500 sessions), its CPU time and peak heap, into a
// ledger of 1M sessions: spread over a year and 4 shards (one object of
// about 21k sessions rewritten), and the worst case of everything in one
// month and one shard (one object of 1M).
func BenchmarkLedgerRecord(b *testing.B) {
	for _, c := range ledgerShapes {
		b.Run(c.name, func(b *testing.B) {
			tbl, s, report := ledgerFixture(b, 1_000_000, c.months, c.shards)
			ctx := context.Background()
			ids := [2][]string{}
			for i := range 500 {
				ids[0] = append(ids[0], fmt.Sprintf("new-a-%020d", i))
				ids[1] = append(ids[1], fmt.Sprintf("new-b-%020d", i))
			}
			i := 0
			benchOp(b, func() {
				// Alternate, so that every iteration really rewrites the object.
				if err := tbl.RetractComplete(ctx, s); err != nil {
					b.Fatal(err)
				}
				if err := tbl.RecordComplete(ctx, s, ids[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			})
			report()
		})
	}
}

// BenchmarkLedgerReadFor reads the same ledger of 1M sessions for a run
// whose list holds 10,000 IDs, half of them in the ledger: what a run
// keeps, and its peak heap, grow with its list, not with the ledger, even
// when the whole ledger is one object.
func BenchmarkLedgerReadFor(b *testing.B) {
	const n, listed = 1_000_000, 10_000
	for _, c := range ledgerShapes {
		b.Run(c.name, func(b *testing.B) {
			tbl, _, report := ledgerFixture(b, n, c.months, c.shards)
			ctx := context.Background()
			full, err := tbl.ReadLedger(ctx)
			if err != nil {
				b.Fatal(err)
			}
			list := make(map[string]struct{}, listed)
			for i := 0; len(list) < listed/2; i += n / (listed / 2) {
				list[strings.Clone(full.id(i))] = struct{}{}
			}
			for i := 0; len(list) < listed; i++ {
				list[fmt.Sprintf("not-in-ledger-%d", i)] = struct{}{}
			}
			full = nil
			inList := func(id string) bool { _, ok := list[id]; return ok }
			l, _ := benchLedgerRead(b, func() (*Ledger, error) { return tbl.ReadLedgerFor(ctx, inList) })
			if l.Len() != listed/2 {
				b.Fatalf("ledger holds %d sessions, want %d", l.Len(), listed/2)
			}
			// What the Ledger holds, counted from its fields (a heap
			// difference is below the noise at this size).
			kept := len(l.ids) + 4*len(l.ends) + 4*len(l.at) + 8*len(l.times)
			b.ReportMetric(float64(kept)/(1<<10), "kept-KiB")
			report()
		})
	}
}
