// Package tabletest reads participant_timelogs Parquet files back into
// transform.Rows for tests, as a judge that shares no code with the writer.
//
// The writer (transform.Builder, load.ParquetWriter) and its inverse
// (transform.FromRecord) agree with each other by construction: a bug they
// share, such as two same-typed columns swapped, cancels out in a round
// trip. This reader goes its own way: arrow-go's Parquet file reader and
// pqarrow, every column found by its name in the file (never by position),
// its type and nullability checked against this package's own list, and
// each value put into the Row field of that name. A file with a column
// missing, duplicated, unknown or of another type is an error, as is a null
// in a required column.
package tabletest

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/participants-etl/participants-etl/schemas"
	"github.com/participants-etl/participants-etl/transform"
)

// column is what the table holds under one name and where it goes in a
// Row. set is called for non-null values only: a null leaves the field nil.
type column struct {
	name     string
	typ      arrow.DataType
	nullable bool
	set      func(r *transform.Row, a arrow.Array, i int)
}

var timestampUTC = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func str(a arrow.Array, i int) string { return a.(*array.String).Value(i) }
func micros(a arrow.Array, i int) int64 {
	return int64(a.(*array.Timestamp).Value(i))
}
func ptr[T any](v T) *T { return &v }

var columns = []column{
	{schemas.ColSessionID, arrow.BinaryTypes.String, false,
		func(r *transform.Row, a arrow.Array, i int) { r.SessionID = str(a, i) }},
	{schemas.ColRoomID, arrow.BinaryTypes.String, true,
		func(r *transform.Row, a arrow.Array, i int) { r.RoomID = ptr(str(a, i)) }},
	{schemas.ColCustomRoomID, arrow.BinaryTypes.String, true,
		func(r *transform.Row, a arrow.Array, i int) { r.CustomRoomID = ptr(str(a, i)) }},
	{schemas.ColParticipantID, arrow.BinaryTypes.String, false,
		func(r *transform.Row, a arrow.Array, i int) { r.ParticipantID = str(a, i) }},
	{schemas.ColParticipantName, arrow.BinaryTypes.String, true,
		func(r *transform.Row, a arrow.Array, i int) { r.ParticipantName = ptr(str(a, i)) }},
	{schemas.ColTimelogIndex, arrow.PrimitiveTypes.Int32, false,
		func(r *transform.Row, a arrow.Array, i int) { r.TimelogIndex = a.(*array.Int32).Value(i) }},
	{schemas.ColStartTime, timestampUTC, false,
		func(r *transform.Row, a arrow.Array, i int) { r.StartTime = micros(a, i) }},
	{schemas.ColEndTime, timestampUTC, true,
		func(r *transform.Row, a arrow.Array, i int) { r.EndTime = ptr(micros(a, i)) }},
	{schemas.ColDurationMS, arrow.PrimitiveTypes.Int64, true,
		func(r *transform.Row, a arrow.Array, i int) { r.DurationMS = ptr(a.(*array.Int64).Value(i)) }},
	{schemas.ColExtractedAt, timestampUTC, false,
		func(r *transform.Row, a arrow.Array, i int) { r.ExtractedAt = micros(a, i) }},
	{schemas.ColRunID, arrow.BinaryTypes.String, false,
		func(r *transform.Row, a arrow.Array, i int) { r.RunID = str(a, i) }},
}

// ReadFile reads every row of the Parquet file at path.
func ReadFile(path string) ([]transform.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// Read reads every row of one Parquet file, in file order.
func Read(r parquet.ReaderAtSeeker) ([]transform.Row, error) {
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("open parquet as arrow: %w", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read parquet: %w", err)
	}
	defer tbl.Release()
	return rowsOf(tbl)
}

func rowsOf(tbl arrow.Table) ([]transform.Row, error) {
	s := tbl.Schema()
	known := make(map[string]bool, len(columns))
	for _, c := range columns {
		known[c.name] = true
	}
	var errs []error
	for _, f := range s.Fields() {
		if !known[f.Name] {
			errs = append(errs, fmt.Errorf("unknown column %q", f.Name))
		}
	}
	rows := make([]transform.Row, tbl.NumRows())
	for _, c := range columns {
		idx := s.FieldIndices(c.name)
		if len(idx) != 1 {
			errs = append(errs, fmt.Errorf("%d columns named %q, want 1", len(idx), c.name))
			continue
		}
		f := s.Field(idx[0])
		if !arrow.TypeEqual(f.Type, c.typ) || f.Nullable != c.nullable {
			errs = append(errs, fmt.Errorf("column %s is %s (nullable %t), want %s (nullable %t)", c.name, f.Type, f.Nullable, c.typ, c.nullable))
			continue
		}
		if err := fill(rows, c, tbl.Column(idx[0]).Data().Chunks()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rows, nil
}

// fill sets column c of every row from the column's chunks, which follow
// one another in row order.
func fill(rows []transform.Row, c column, chunks []arrow.Array) error {
	row := 0
	for _, a := range chunks {
		for i := 0; i < a.Len(); i++ {
			switch {
			case a.IsValid(i):
				c.set(&rows[row], a, i)
			case !c.nullable:
				return fmt.Errorf("row %d: %s is null in a required column", row, c.name)
			}
			row++
		}
	}
	return nil
}
