package load

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/participants-etl/participants-etl/schemas"
)

func TestParquetRoundTrip(t *testing.T) {
	var recs []arrow.RecordBatch
	for i, n := range []int{1, 40, 0, 257} {
		rec := sessionRecord(t, fmt.Sprintf("sess-%d", i), n, "run-1")
		defer rec.Release()
		recs = append(recs, rec)
	}
	var buf bytes.Buffer
	pw, err := NewParquetWriter(&buf, ParquetOptions{Metadata: map[string]string{MetadataRunID: "run-1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := pw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if pw.Rows() != 298 {
		t.Errorf("Rows() = %d, want 298", pw.Rows())
	}
	if pw.Size() != int64(buf.Len()) {
		t.Errorf("Size() = %d after Close, file has %d bytes", pw.Size(), buf.Len())
	}

	got, pf := readParquet(t, buf.Bytes())
	// The stored Arrow schema restores the exact types, timestamp[us, UTC] included.
	// (Field metadata PARQUET:field_id is added by the reader; compare the rest.)
	if got.Schema().NumFields() != schemas.Timelogs.NumFields() {
		t.Fatalf("schema read back has %d fields, want %d", got.Schema().NumFields(), schemas.Timelogs.NumFields())
	}
	for i, want := range schemas.Timelogs.Fields() {
		f := got.Schema().Field(i)
		if f.Name != want.Name || !arrow.TypeEqual(f.Type, want.Type) || f.Nullable != want.Nullable {
			t.Errorf("field %d read back as %s, want %s", i, f, want)
		}
	}
	if ts := got.Schema().Field(6).Type.(*arrow.TimestampType); ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC" {
		t.Errorf("start_time type %s, want timestamp[us, tz=UTC]", ts)
	}
	want := array.NewTableFromRecords(schemas.Timelogs, recs)
	defer want.Release()
	for i := 0; i < int(want.NumCols()); i++ {
		if !array.ChunkedEqual(want.Column(i).Data(), got.Column(i).Data()) {
			t.Errorf("column %s read back differs from the records written", want.Schema().Field(i).Name)
		}
	}

	md := pf.MetaData()
	if v := md.KeyValueMetadata().FindValue(MetadataSchemaVersion); v == nil || *v != fmt.Sprint(schemas.Version) {
		t.Errorf("%s = %v, want %d", MetadataSchemaVersion, v, schemas.Version)
	}
	if v := md.KeyValueMetadata().FindValue(MetadataRunID); v == nil || *v != "run-1" {
		t.Errorf("%s = %v, want run-1", MetadataRunID, v)
	}
	for _, name := range plainColumnNames {
		if schemas.Timelogs.FieldIndices(name) == nil {
			t.Errorf("plainColumnNames names %s, which is not a column", name)
		}
	}
	if md.KeyValueMetadata().FindValue("ARROW:schema") == nil {
		t.Error("ARROW:schema not stored")
	}
	for rg := 0; rg < md.NumRowGroups(); rg++ {
		for c := 0; c < md.Schema.NumColumns(); c++ {
			cc, err := md.RowGroup(rg).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != compress.Codecs.Zstd {
				t.Errorf("row group %d column %d: codec %s, want zstd", rg, c, cc.Compression())
			}
			if ok, err := cc.StatsSet(); !ok || err != nil {
				t.Errorf("row group %d column %d: no statistics (%v)", rg, c, err)
			}
			// Only PLAIN, RLE (levels) and dictionary encodings: what every
			// reader, BigQuery included, decodes; no dictionary where values
			// rarely repeat.
			name := md.Schema.Column(c).Name()
			for _, enc := range cc.Encodings() {
				if enc != parquet.Encodings.Plain && enc != parquet.Encodings.RLE && enc != parquet.Encodings.RLEDict && enc != parquet.Encodings.PlainDict {
					t.Errorf("row group %d column %s: encoding %s", rg, name, enc)
				}
			}
			if slices.Contains(plainColumnNames, name) && cc.HasDictionaryPage() {
				t.Errorf("row group %d column %s: has a dictionary page, want PLAIN", rg, name)
			}
		}
	}
}

func TestParquetRowGroupLimits(t *testing.T) {
	tests := []struct {
		name       string
		opts       ParquetOptions
		sessions   []int
		wantGroups []int64
	}{
		{"rows split inside and across writes", ParquetOptions{RowGroupRows: 100}, []int{35, 35, 35, 35, 35, 35, 35, 35, 35, 35}, []int64{100, 100, 100, 50}},
		{"one write bigger than a group", ParquetOptions{RowGroupRows: 100}, []int{250}, []int64{100, 100, 50}},
		{"bytes close the group after each write", ParquetOptions{RowGroupBytes: 1}, []int{10, 20, 30}, []int64{10, 20, 30}},
		{"defaults keep one group", ParquetOptions{}, []int{10, 20, 30}, []int64{60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			pw, err := NewParquetWriter(&buf, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range tt.sessions {
				rec := sessionRecord(t, fmt.Sprint("s", i), n, "r")
				err := pw.Write(rec)
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := pw.Close(); err != nil {
				t.Fatal(err)
			}
			_, pf := readParquet(t, buf.Bytes())
			var got []int64
			for i := 0; i < pf.NumRowGroups(); i++ {
				got = append(got, pf.MetaData().RowGroup(i).NumRows())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantGroups) {
				t.Errorf("row groups %v, want %v", got, tt.wantGroups)
			}
		})
	}
}

func TestParquetRejectsOtherSchema(t *testing.T) {
	pw, err := NewParquetWriter(&bytes.Buffer{}, ParquetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, other)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := pw.Write(rec); err == nil {
		t.Error("Write accepted a record of another schema")
	}
}
