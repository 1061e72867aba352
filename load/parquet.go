package load

import (
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/participants-etl/participants-etl/schemas"
)

// Defaults for ParquetOptions and WriteOptions.
const (
	DefaultRowGroupRows  = 256 << 10
	DefaultRowGroupBytes = 128 << 20
	DefaultMaxFileBytes  = 1 << 30
)

// MetadataSchemaVersion is the Parquet key-value metadata key that carries
// schemas.Version. MetadataRunID and MetadataLogicalTime identify the run.
const (
	MetadataSchemaVersion = "participants_etl.schema_version"
	MetadataRunID         = "participants_etl.run_id"
	MetadataLogicalTime   = "participants_etl.logical_time"
)

// ParquetOptions configures a ParquetWriter. Zero values take the defaults.
type ParquetOptions struct {
	// RowGroupRows and RowGroupBytes close the buffered row group once it
	// holds that many rows or has been fed that many bytes of Arrow data
	// (an upper bound of what it holds encoded: the encoders' buffers are
	// not observable from outside). A row group is held in memory until it
	// is closed, so these bound memory.
	RowGroupRows  int64
	RowGroupBytes int64
	// Metadata is added to the file's key-value metadata, besides
	// MetadataSchemaVersion which is always set.
	Metadata map[string]string
}

func (o ParquetOptions) withDefaults() ParquetOptions {
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	return o
}

// ParquetWriter streams records of schemas.Timelogs to an io.Writer as one
// Parquet file: zstd, statistics on, the Arrow schema stored, buffered row
// groups closed at RowGroupRows or RowGroupBytes. Only the open row group
// is held in memory; closed ones have already gone to the io.Writer.
type ParquetWriter struct {
	fw          *pqarrow.FileWriter
	out         *countingWriter
	opts        ParquetOptions
	rows        int64
	rgBytes     int64 // Arrow bytes fed into the open row group
	rowGroupDue bool  // the open row group is full; start a new one before the next write
	closed      bool
}

// NewParquetWriter starts a Parquet file on w. Nothing is written to w
// until the first row group closes (or Close).
func NewParquetWriter(w io.Writer, opts ParquetOptions) (*ParquetWriter, error) {
	opts = opts.withDefaults()
	props := parquet.NewWriterProperties(append([]parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithStats(true),
		parquet.WithDataPageSize(dataPageBytes),
		parquet.WithMaxRowGroupLength(opts.RowGroupRows),
		parquet.WithCreatedBy("participants-etl"),
	}, plainColumns()...)...)
	out := &countingWriter{w: w}
	fw, err := pqarrow.NewFileWriter(schemas.Timelogs, out, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("start parquet file: %w", err)
	}
	if err := fw.AppendKeyValueMetadata(MetadataSchemaVersion, strconv.Itoa(schemas.Version)); err != nil {
		return nil, fmt.Errorf("set parquet metadata: %w", err)
	}
	for k, v := range opts.Metadata {
		if err := fw.AppendKeyValueMetadata(k, v); err != nil {
			return nil, fmt.Errorf("set parquet metadata %s: %w", k, err)
		}
	}
	return &ParquetWriter{fw: fw, out: out, opts: opts}, nil
}

// Write appends the rows of rec. rec must have schema schemas.Timelogs.
// The caller keeps ownership of rec.
func (p *ParquetWriter) Write(rec arrow.RecordBatch) error {
	if p.closed {
		return fmt.Errorf("write parquet: writer closed")
	}
	if !rec.Schema().Equal(schemas.Timelogs) {
		return fmt.Errorf("write parquet: record schema %s is not schemas.Timelogs", rec.Schema())
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if p.rowGroupDue {
		if err := p.fw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("write parquet: close row group: %w", err)
		}
		p.rowGroupDue, p.rgBytes = false, 0
	}
	// WriteBuffered itself splits at RowGroupRows (MaxRowGroupLength).
	if err := p.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	p.rows += rec.NumRows()
	n, err := p.fw.RowGroupNumRows()
	if err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	size := recordBytes(rec)
	if int64(n) < rec.NumRows() {
		// WriteBuffered split rec across row groups: count the tail only.
		size = size * int64(n) / rec.NumRows()
		p.rgBytes = 0
	}
	p.rgBytes += size
	// Start the next row group lazily so that Close never leaves an empty
	// row group behind.
	if int64(n) >= p.opts.RowGroupRows || p.rgBytes >= p.opts.RowGroupBytes {
		p.rowGroupDue = true
	}
	return nil
}

// Rows is the number of rows written so far.
func (p *ParquetWriter) Rows() int64 { return p.rows }

// Size estimates the file's size so far from above: bytes already handed
// to the io.Writer plus the Arrow bytes fed into the open row group.
func (p *ParquetWriter) Size() int64 {
	if p.closed {
		return p.out.n
	}
	return p.out.n + p.rgBytes
}

// Close writes the open row group and the footer. It does not close the
// underlying io.Writer.
func (p *ParquetWriter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.fw.Close(); err != nil {
		return fmt.Errorf("finish parquet file: %w", err)
	}
	return nil
}

// dataPageBytes is where a column's data page closes. Each column of the
// open row group buffers its page uncompressed until then: 256 KiB instead
// of arrow-go's 1 MiB took peak RSS down by about 24 MiB on both shapes
// (BenchmarkExport), for the same bytes per row.
const dataPageBytes = 256 << 10

// plainColumnNames are the columns whose values rarely repeat within a row
// group, or repeat in runs zstd finds by itself: a dictionary costs memory
// and CPU there and saves nothing after zstd. extracted_at differs per
// session: its dictionary was a 6 MiB hash table per row group of small
// sessions, and the files are smaller without it (BenchmarkExport: 8.3
// bytes per row instead of 9.1 on small sessions, 6.1 on big ones either
// way). They are written PLAIN, which every Parquet reader must support;
// BigQuery's Parquet documentation names the compression codecs it reads
// but not the encodings, so no DELTA encoding is used.
var plainColumnNames = []string{"participant_id", "start_time", "end_time", "duration_ms", "extracted_at"}

func plainColumns() []parquet.WriterProperty {
	var props []parquet.WriterProperty
	for _, name := range plainColumnNames {
		props = append(props, parquet.WithDictionaryFor(name, false), parquet.WithEncodingFor(name, parquet.Encodings.Plain))
	}
	return props
}

// countingWriter counts bytes and hides any Close method of w, so that
// pqarrow's Close (which closes an io.Closer) leaves w to its owner.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// recordBytes is the size of rec's buffers (flat schema: no child arrays).
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}
