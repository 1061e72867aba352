package schemas

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// TableName is the name of the output table and of its folder in the store.
const TableName = "participant_timelogs"

// Version is the schema version; it is stored in the Parquet key-value
// metadata of every file as "participants_etl.schema_version".
const Version = 1

var timestampUTC = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// The column names of [Timelogs]. Writers and readers address columns by
// these names, never by position: several columns share a type, so a
// reader that trusts positions cannot tell two of them apart.
const (
	ColSessionID       = "session_id"
	ColRoomID          = "room_id"
	ColCustomRoomID    = "custom_room_id"
	ColParticipantID   = "participant_id"
	ColParticipantName = "participant_name"
	ColTimelogIndex    = "timelog_index"
	ColStartTime       = "start_time"
	ColEndTime         = "end_time"
	ColDurationMS      = "duration_ms"
	ColExtractedAt     = "extracted_at"
	ColRunID           = "run_id"
)

// Timelogs is schema v1 of participant_timelogs. The column order is the
// order of the files analysts use (and of SELECT *); code finds a column
// by name (Timelogs.FieldIndices).
var Timelogs = arrow.NewSchema([]arrow.Field{
	{Name: ColSessionID, Type: arrow.BinaryTypes.String, Nullable: false},
	{Name: ColRoomID, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColCustomRoomID, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColParticipantID, Type: arrow.BinaryTypes.String, Nullable: false},
	{Name: ColParticipantName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColTimelogIndex, Type: arrow.PrimitiveTypes.Int32, Nullable: false},
	{Name: ColStartTime, Type: timestampUTC, Nullable: false},
	{Name: ColEndTime, Type: timestampUTC, Nullable: true},
	{Name: ColDurationMS, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColExtractedAt, Type: timestampUTC, Nullable: false},
	{Name: ColRunID, Type: arrow.BinaryTypes.String, Nullable: false},
}, nil)

// Columns returns the column names of [Timelogs], in order.
func Columns() []string {
	names := make([]string, len(Timelogs.Fields()))
	for i, f := range Timelogs.Fields() {
		names[i] = f.Name
	}
	return names
}

// Key returns the columns that identify one timelog entry across runs. Within
// one run a key occurs at most once; across runs the *_latest views keep the
// row with the greatest extracted_at.
func Key() []string {
	return []string{ColSessionID, ColParticipantID, ColTimelogIndex}
}
