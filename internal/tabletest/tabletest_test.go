package tabletest_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/participants-etl/participants-etl/internal/tabletest"
	"github.com/participants-etl/participants-etl/schemas"
	"github.com/participants-etl/participants-etl/transform"
)

func compare(t *testing.T, got, want []transform.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(want))
	}
	bad := 0
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			if bad++; bad <= 3 {
				t.Errorf("row %d:\n got %s\nwant %s", i, dump(got[i]), dump(want[i]))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d rows differ", bad, len(want))
	}
}

func dump(r transform.Row) string {
	s := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprintf("%q", *p)
	}
	n := func(p *int64) string {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("{session %q room %s custom_room %s participant %q name %s index %d start %d end %s duration %s extracted %d run %q}",
		r.SessionID, s(r.RoomID), s(r.CustomRoomID), r.ParticipantID, s(r.ParticipantName), r.TimelogIndex,
		r.StartTime, n(r.EndTime), n(r.DurationMS), r.ExtractedAt, r.RunID)
}

// record builds rows into a record of schema, filling each column by name
// from the Row field that fill names for it.
func record(t *testing.T, schema *arrow.Schema, rows []transform.Row, field func(column string) string) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, f := range schema.Fields() {
		for _, r := range rows {
			appendValue(t, b.Field(i), reflect.ValueOf(r).FieldByName(field(f.Name)))
		}
	}
	return b.NewRecordBatch()
}

func appendValue(t *testing.T, b array.Builder, v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.AppendNull()
			return
		}
		v = v.Elem()
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v.String())
	case *array.Int32Builder:
		b.Append(int32(v.Int()))
	case *array.Int64Builder:
		b.Append(v.Int())
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.Int()))
	default:
		t.Fatalf("no test support for %T", b)
	}
}

// rowField names the Row field of each column, as the writer should.
var rowField = map[string]string{
	schemas.ColSessionID: "SessionID", schemas.ColRoomID: "RoomID", schemas.ColCustomRoomID: "CustomRoomID",
	schemas.ColParticipantID: "ParticipantID", schemas.ColParticipantName: "ParticipantName",
	schemas.ColTimelogIndex: "TimelogIndex", schemas.ColStartTime: "StartTime", schemas.ColEndTime: "EndTime",
	schemas.ColDurationMS: "DurationMS", schemas.ColExtractedAt: "ExtractedAt", schemas.ColRunID: "RunID",
}

func correct(column string) string { return rowField[column] }

// A writer that puts room_id into custom_room_id and back writes a valid
// file of the right schema: only a reader that goes by name and a
// comparison with what was meant to be written can tell.
func TestReadShowsSwappedColumns(t *testing.T) {
	want := tabletest.SampleRows(40)
	swapped := func(column string) string {
		switch column {
		case schemas.ColRoomID:
			return "CustomRoomID"
		case schemas.ColCustomRoomID:
			return "RoomID"
		}
		return rowField[column]
	}
	rec := record(t, schemas.Timelogs, want, swapped)
	defer rec.Release()
	got, err := tabletest.Read(bytes.NewReader(parquetOf(t, rec)))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(got, want) {
		t.Fatal("rows written with room_id and custom_room_id swapped read back as the rows meant")
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].RoomID, want[i].CustomRoomID) || !reflect.DeepEqual(got[i].CustomRoomID, want[i].RoomID) {
			t.Fatalf("row %d: read %s, want room_id and custom_room_id of %s swapped, as written", i, dump(got[i]), dump(want[i]))
		}
	}
}

// parquetOf encodes rec with pqarrow directly. (That the judge reads what
// the production writer writes is load's TestTabletestReadsTheWriter.)
func parquetOf(t *testing.T, rec arrow.RecordBatch) []byte {
	t.Helper()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	var buf bytes.Buffer
	if err := pqarrow.WriteTable(tbl, &buf, tbl.NumRows(), parquet.NewWriterProperties(),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadGoesByName(t *testing.T) {
	fields := schemas.Timelogs.Fields()
	for i, j := 0, len(fields)-1; i < j; i, j = i+1, j-1 {
		fields[i], fields[j] = fields[j], fields[i]
	}
	want := tabletest.SampleRows(30)
	rec := record(t, arrow.NewSchema(fields, nil), want, correct)
	defer rec.Release()
	got, err := tabletest.Read(bytes.NewReader(parquetOf(t, rec)))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, want)
}

func TestReadRejectsOtherTables(t *testing.T) {
	fields := func(edit func([]arrow.Field) []arrow.Field) *arrow.Schema {
		return arrow.NewSchema(edit(schemas.Timelogs.Fields()), nil)
	}
	index := func(name string) int { return schemas.Timelogs.FieldIndices(name)[0] }
	tests := []struct {
		name   string
		schema *arrow.Schema
		want   string
	}{
		{"missing column", fields(func(f []arrow.Field) []arrow.Field {
			return append(f[:index(schemas.ColRoomID)], f[index(schemas.ColRoomID)+1:]...)
		}), `0 columns named "room_id"`},
		{"extra column", fields(func(f []arrow.Field) []arrow.Field {
			return append(f, arrow.Field{Name: "room", Type: arrow.BinaryTypes.String, Nullable: true})
		}), `unknown column "room"`},
		{"other type", fields(func(f []arrow.Field) []arrow.Field {
			f[index(schemas.ColTimelogIndex)].Type = arrow.PrimitiveTypes.Int64
			return f
		}), "column timelog_index is int64"},
		{"timestamp without zone", fields(func(f []arrow.Field) []arrow.Field {
			f[index(schemas.ColStartTime)].Type = &arrow.TimestampType{Unit: arrow.Microsecond}
			return f
		}), "column start_time is timestamp[us]"},
		{"required column nullable", fields(func(f []arrow.Field) []arrow.Field {
			f[index(schemas.ColRunID)].Nullable = true
			return f
		}), "column run_id is utf8 (nullable true)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tabletest.SampleRows(3)
			rec := record(t, tt.schema, rows, func(column string) string {
				if f, ok := rowField[column]; ok {
					return f
				}
				return "RoomID"
			})
			defer rec.Release()
			_, err := tabletest.Read(bytes.NewReader(parquetOf(t, rec)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
