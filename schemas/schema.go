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

// Timelogs is schema v1 of participant_timelogs. Column order is fixed:
// readers may rely on it.
var Timelogs = arrow.NewSchema([]arrow.Field{
	{Name: "session_id", Type: arrow.BinaryTypes.String, Nullable: false},
	{Name: "room_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "custom_room_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "participant_id", Type: arrow.BinaryTypes.String, Nullable: false},
	{Name: "participant_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "timelog_index", Type: arrow.PrimitiveTypes.Int32, Nullable: false},
	{Name: "start_time", Type: timestampUTC, Nullable: false},
	{Name: "end_time", Type: timestampUTC, Nullable: true},
	{Name: "duration_ms", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "extracted_at", Type: timestampUTC, Nullable: false},
	{Name: "run_id", Type: arrow.BinaryTypes.String, Nullable: false},
}, nil)
