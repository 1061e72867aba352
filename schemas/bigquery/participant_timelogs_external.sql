-- BigQuery external table over the exported Parquet files, and the dedup view.
--
-- Placeholders (substitute with envsubst or by hand):
--   ${PROJECT}.${DATASET}  where the table and view live
--   ${BUCKET}, ${PREFIX}   the job's ETL_OUTPUT, gs://${BUCKET}/${PREFIX}
--
-- The wildcard reads every object under participant_timelogs/; the exporter
-- publishes only complete .parquet files there (staging, reports and
-- manifests live outside), so a query never sees half a run.
--
-- dt comes from the object path (Hive partitioning, dt=YYYY-MM-DD) and prunes
-- files when a query filters on it. require_hive_partition_filter is false on
-- purpose: the latest view must look at every dt to find the latest row per
-- key, and BigQuery cannot push a dt filter through its window function, so
-- with the option on the view would always fail. Set it to true if you drop
-- the view and want to force every ad hoc query to name its dates.
--
-- The column list is the schema file bigquery/participant_timelogs.json;
-- a test in package schemas keeps the two and the Go schema in agreement.

CREATE OR REPLACE EXTERNAL TABLE `${PROJECT}.${DATASET}.participant_timelogs`
(
  session_id STRING NOT NULL OPTIONS (description = "VideoSDK session ID."),
  room_id STRING OPTIONS (description = "VideoSDK room the session ran in; NULL when the API did not say."),
  custom_room_id STRING OPTIONS (description = "Caller-assigned room ID; NULL when absent."),
  participant_id STRING NOT NULL OPTIONS (description = "Participant ID within the session."),
  participant_name STRING OPTIONS (description = "Display name; NULL when absent or null in the API, an empty name stays empty."),
  timelog_index INT64 NOT NULL OPTIONS (description = "0-based position of this interval in the participant's timelog."),
  start_time TIMESTAMP NOT NULL OPTIONS (description = "When the participant joined (UTC, microseconds)."),
  end_time TIMESTAMP OPTIONS (description = "When the participant left (UTC, microseconds); NULL while still in the session."),
  duration_ms INT64 OPTIONS (description = "end_time - start_time in whole milliseconds; NULL while end_time is NULL, and NULL when the API sent an end before the start."),
  extracted_at TIMESTAMP NOT NULL OPTIONS (description = "When the run read this session from the VideoSDK API; the latest per key is the current state."),
  run_id STRING NOT NULL OPTIONS (description = "ID of the run that wrote the row; its report is under _runs/.")
)
WITH PARTITION COLUMNS (
  dt DATE
)
OPTIONS (
  format = 'PARQUET',
  uris = ['gs://${BUCKET}/${PREFIX}/participant_timelogs/*'],
  hive_partition_uri_prefix = 'gs://${BUCKET}/${PREFIX}/participant_timelogs',
  require_hive_partition_filter = false,
  description = 'VideoSDK participant timelogs, one row per interval per run (schema v1).'
);

-- One row per (session_id, participant_id, timelog_index): the one with the
-- latest extracted_at. run_id breaks ties deterministically. (WHERE TRUE:
-- older BigQuery releases reject QUALIFY without WHERE, GROUP BY or HAVING.)
CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.participant_timelogs_latest` AS
SELECT *
FROM `${PROJECT}.${DATASET}.participant_timelogs`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY session_id, participant_id, timelog_index
  ORDER BY extracted_at DESC, run_id DESC
) = 1;
