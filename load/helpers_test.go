package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/participants-etl/participants-etl/schemas"
)

var baseTime = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

// sessionRecord builds n rows of one session straight from schemas.Timelogs,
// with nulls in the nullable columns now and then.
func sessionRecord(tb testing.TB, sessionID string, n int, runID string) arrow.RecordBatch {
	tb.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schemas.Timelogs)
	defer b.Release()
	appendSessionRows(b, sessionID, 0, n, runID)
	return b.NewRecordBatch()
}

func appendSessionRows(b *array.RecordBuilder, sessionID string, from, n int, runID string) {
	s := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	ts := func(i int) *array.TimestampBuilder { return b.Field(i).(*array.TimestampBuilder) }
	extracted := arrow.Timestamp(baseTime.Add(time.Hour).UnixMicro())
	for k := from; k < from+n; k++ {
		s(0).Append(sessionID)
		s(1).Append("room-" + sessionID)
		if k%5 == 0 {
			s(2).AppendNull()
		} else {
			s(2).Append("custom-" + sessionID)
		}
		s(3).Append(fmt.Sprintf("p%06d", k/3))
		switch k % 7 {
		case 0:
			s(4).AppendNull()
		case 1:
			s(4).Append("")
		default:
			s(4).Append(fmt.Sprintf("Zoë %d 参加者", k))
		}
		b.Field(5).(*array.Int32Builder).Append(int32(k % 3))
		start := baseTime.Add(time.Duration(k) * time.Second)
		ts(6).Append(arrow.Timestamp(start.UnixMicro()))
		if k%11 == 0 {
			ts(7).AppendNull()
			b.Field(8).(*array.Int64Builder).AppendNull()
		} else {
			end := start.Add(time.Duration(k%900) * time.Second)
			ts(7).Append(arrow.Timestamp(end.UnixMicro()))
			b.Field(8).(*array.Int64Builder).Append(end.Sub(start).Milliseconds())
		}
		ts(9).Append(extracted)
		s(10).Append(runID)
	}
}

// readParquet decodes a whole Parquet file.
func readParquet(tb testing.TB, data []byte) (arrow.Table, *file.Reader) {
	tb.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("open parquet: %v", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		tb.Fatalf("arrow reader: %v", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		tb.Fatalf("read table: %v", err)
	}
	tb.Cleanup(tbl.Release)
	return tbl, pf
}

// readObject reads a whole object through the driver.
func readObject(tb testing.TB, d driver, key string) []byte {
	tb.Helper()
	r, err := d.NewReader(context.Background(), key)
	if err != nil {
		tb.Fatalf("read %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read %s: %v", key, err)
	}
	return b
}

// stringColumn gathers a utf8 column of tbl.
func stringColumn(tbl arrow.Table, i int) []string {
	var out []string
	for _, c := range tbl.Column(i).Data().Chunks() {
		a := c.(*array.String)
		for j := 0; j < a.Len(); j++ {
			out = append(out, a.Value(j))
		}
	}
	return out
}
