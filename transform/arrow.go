package transform

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/participants-etl/participants-etl/schemas"
)

// Builder accumulates Rows into Arrow record batches of schemas.Timelogs.
// It is not safe for concurrent use.
type Builder struct {
	b *array.RecordBuilder

	sessionID, roomID, customRoomID, participantID, name, runID *array.StringBuilder
	index                                                       *array.Int32Builder
	start, end, extractedAt                                     *array.TimestampBuilder
	duration                                                    *array.Int64Builder
}

// NewBuilder returns an empty Builder; mem nil means the Go allocator.
func NewBuilder(mem memory.Allocator) *Builder {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, schemas.Timelogs)
	return &Builder{
		b:             b,
		sessionID:     fieldBuilder[*array.StringBuilder](b, schemas.ColSessionID),
		roomID:        fieldBuilder[*array.StringBuilder](b, schemas.ColRoomID),
		customRoomID:  fieldBuilder[*array.StringBuilder](b, schemas.ColCustomRoomID),
		participantID: fieldBuilder[*array.StringBuilder](b, schemas.ColParticipantID),
		name:          fieldBuilder[*array.StringBuilder](b, schemas.ColParticipantName),
		index:         fieldBuilder[*array.Int32Builder](b, schemas.ColTimelogIndex),
		start:         fieldBuilder[*array.TimestampBuilder](b, schemas.ColStartTime),
		end:           fieldBuilder[*array.TimestampBuilder](b, schemas.ColEndTime),
		duration:      fieldBuilder[*array.Int64Builder](b, schemas.ColDurationMS),
		extractedAt:   fieldBuilder[*array.TimestampBuilder](b, schemas.ColExtractedAt),
		runID:         fieldBuilder[*array.StringBuilder](b, schemas.ColRunID),
	}
}

// fieldBuilder is the builder of the column called name. schemas.Timelogs
// is fixed at compile time, so a missing column or another type is a bug in
// this file, which every test of it reports at once.
func fieldBuilder[T array.Builder](b *array.RecordBuilder, name string) T {
	return b.Field(fieldIndex(b.Schema(), name)).(T)
}

func fieldIndex(s *arrow.Schema, name string) int {
	i := s.FieldIndices(name)
	if len(i) != 1 {
		panic(fmt.Sprintf("participant_timelogs: %d columns named %q, want 1", len(i), name))
	}
	return i[0]
}

// Append adds rows to the batch being built.
func (b *Builder) Append(rows ...Row) {
	b.reserve(rows)
	for i := range rows {
		r := &rows[i]
		b.sessionID.Append(r.SessionID)
		appendString(b.roomID, r.RoomID)
		appendString(b.customRoomID, r.CustomRoomID)
		b.participantID.Append(r.ParticipantID)
		appendString(b.name, r.ParticipantName)
		b.index.Append(r.TimelogIndex)
		b.start.Append(arrow.Timestamp(r.StartTime))
		if r.EndTime != nil {
			b.end.Append(arrow.Timestamp(*r.EndTime))
		} else {
			b.end.AppendNull()
		}
		if r.DurationMS != nil {
			b.duration.Append(*r.DurationMS)
		} else {
			b.duration.AppendNull()
		}
		b.extractedAt.Append(arrow.Timestamp(r.ExtractedAt))
		b.runID.Append(r.RunID)
	}
}

// reserve grows every column once for rows, instead of doubling its
// buffers as they fill: NewRecord hands the buffers on, so each batch
// starts empty.
func (b *Builder) reserve(rows []Row) {
	b.b.Reserve(len(rows))
	var sessionID, roomID, customRoomID, participantID, name, runID int
	for i := range rows {
		r := &rows[i]
		sessionID += len(r.SessionID)
		roomID += lenOf(r.RoomID)
		customRoomID += lenOf(r.CustomRoomID)
		participantID += len(r.ParticipantID)
		name += lenOf(r.ParticipantName)
		runID += len(r.RunID)
	}
	b.sessionID.ReserveData(sessionID)
	b.roomID.ReserveData(roomID)
	b.customRoomID.ReserveData(customRoomID)
	b.participantID.ReserveData(participantID)
	b.name.ReserveData(name)
	b.runID.ReserveData(runID)
}

func lenOf(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

func appendString(b *array.StringBuilder, s *string) {
	if s == nil {
		b.AppendNull()
		return
	}
	b.Append(*s)
}

// Len is the number of rows appended since the last NewRecord.
func (b *Builder) Len() int { return b.sessionID.Len() }

// NewRecord returns the rows appended so far as a record batch and resets
// the Builder. The caller releases the record.
func (b *Builder) NewRecord() arrow.RecordBatch { return b.b.NewRecordBatch() }

// Release frees the Builder's buffers.
func (b *Builder) Release() { b.b.Release() }
