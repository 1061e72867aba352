package load

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/participants-etl/participants-etl/schemas"
)

// BenchmarkWriteParquet encodes 1M and 4M rows to io.Discard with the
// production settings and reports rows/s, the file's bytes per row and the
// peak heap in use while writing. The peak should not grow with the row count: only the open row
// group is held.
//
//	go test -run '^$' -bench WriteParquet -benchtime 1x ./load
func BenchmarkWriteParquet(b *testing.B) {
	const batchRows = 10_000
	// Sessions of distinct values, built once from schemas.Timelogs.
	var batches []arrow.RecordBatch
	for i := range 16 {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schemas.Timelogs)
		appendSessionRows(rb, fmt.Sprintf("session-%04d", i), i*batchRows, batchRows, "bench-run")
		batches = append(batches, rb.NewRecordBatch())
		rb.Release()
	}
	defer func() {
		for _, r := range batches {
			r.Release()
		}
	}()

	for _, rows := range []int{1_000_000, 4_000_000} {
		b.Run(fmt.Sprintf("rows=%dM", rows/1_000_000), func(b *testing.B) {
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			peak, stop := sampleHeap()
			b.ResetTimer()
			start := time.Now()
			var size int64
			for range b.N {
				pw, err := NewParquetWriter(io.Discard, ParquetOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < rows/batchRows; i++ {
					if err := pw.Write(batches[i%len(batches)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := pw.Close(); err != nil {
					b.Fatal(err)
				}
				size = pw.Size()
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			b.ReportMetric(float64(rows)*float64(b.N)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(*peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MiB")
			b.ReportMetric(float64(size)/float64(rows), "file-B/row")
		})
	}
}

// sampleHeap records the highest HeapInuse until stop is called.
func sampleHeap() (*uint64, func()) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak, func() { close(done); wg.Wait() }
}
