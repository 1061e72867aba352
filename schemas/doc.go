// Package schemas is the one definition of the participant_timelogs table:
// the Arrow schema in Go ([Timelogs], which the Parquet writer uses) and the
// files analysts use to read the table, embedded in [Files]:
//
//	bigquery/participant_timelogs.json       BigQuery schema (bq mk, bq load, API)
//	bigquery/participant_timelogs_external.sql
//	                                         external table over the bucket, Hive
//	                                         partitioned on dt, and the latest view
//	bigquery/participant_timelogs_native.sql native partitioned table, an idempotent
//	                                         reload of one dt, and the latest view
//	duckdb/participant_timelogs.sql          DuckDB views over the Parquet files
//
// A test keeps those files in agreement with [Timelogs]: the same columns in
// the same order, utf8 as STRING, int32 and int64 as INT64, timestamps as
// TIMESTAMP, non-nullable fields as REQUIRED / NOT NULL, and the dedup views
// partitioned by [Key].
//
// # The table
//
// One row is one join/leave interval of one participant of one VideoSDK
// session, as seen by one run of the exporter:
//
//	session_id        STRING     REQUIRED  VideoSDK session ID
//	room_id           STRING     NULLABLE  room the session ran in
//	custom_room_id    STRING     NULLABLE  caller-assigned room ID
//	participant_id    STRING     REQUIRED  participant ID within the session
//	participant_name  STRING     NULLABLE  display name; NULL when absent, "" kept
//	timelog_index     INT64      REQUIRED  0-based position in the participant's timelog (int32 in Parquet)
//	start_time        TIMESTAMP  REQUIRED  join time, UTC, microseconds
//	end_time          TIMESTAMP  NULLABLE  leave time; NULL while still in the session
//	duration_ms       INT64      NULLABLE  end_time - start_time in whole ms; NULL with end_time,
//	                                       and NULL when end_time is before start_time
//	extracted_at      TIMESTAMP  REQUIRED  when the run read the session from the API
//	run_id            STRING     REQUIRED  the run that wrote the row (see its report under _runs/)
//
// Files live at <root>/participant_timelogs/dt=YYYY-MM-DD/*.parquet, where dt
// is the UTC date of the run's logical time; readers get dt as a DATE
// partition column from the path (Hive partitioning). Every run exports the
// whole session list again (an incremental run: the sessions not yet
// complete), so a (session_id, participant_id, timelog_index) appears once
// per run that saw it. The *_latest views keep, per [Key], the row with the
// latest extracted_at: the current picture of every session, whichever tick
// last fetched it, so they must not be pruned by dt.
//
// # Placeholders
//
// The SQL files are templates. Substitute before use (envsubst works):
//
//	${ROOT}     DuckDB: the export root, a directory or gs://bucket/prefix
//	${PROJECT}  BigQuery project of the dataset
//	${DATASET}  BigQuery dataset
//	${BUCKET}   GCS bucket the job writes to (ETL_OUTPUT=gs://${BUCKET}/${PREFIX})
//	${PREFIX}   object prefix under the bucket, without slashes at either end
//	${DT}       a dt to reload into the native table, YYYY-MM-DD
//	${DT_COMPACT} the same dt as YYYYMMDD, for a bq partition decorator
//
// [DuckDBSQL] does the substitution for DuckDB.
package schemas
