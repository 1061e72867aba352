-- The load-job alternative: a native BigQuery table, partitioned by dt, that
-- is refreshed from the bucket one dt at a time. Cheaper and faster to query
-- than the external table once history grows; costs a load after each run.
--
-- Placeholders: ${PROJECT}, ${DATASET}, ${BUCKET}, ${PREFIX} as in
-- participant_timelogs_external.sql, plus ${DT} (YYYY-MM-DD) and
-- ${DT_COMPACT} (YYYYMMDD) for the reload below.
--
-- A rerun of a logical time replaces that run's files in the bucket, so a
-- reload must replace the whole dt partition rather than append to it.
-- Either of these does that:
--
-- 1. A load job with a partition decorator and --replace (no query cost):
--
--    bq load --source_format=PARQUET --replace \
--      --hive_partitioning_mode=CUSTOM \
--      --hive_partitioning_source_uri_prefix='gs://${BUCKET}/${PREFIX}/participant_timelogs/{dt:DATE}' \
--      '${PROJECT}:${DATASET}.participant_timelogs_native$${DT_COMPACT}' \
--      'gs://${BUCKET}/${PREFIX}/participant_timelogs/dt=${DT}/*'
--
--    (To load exactly the files of one run, use the newline-delimited
--    manifest the run writes next to its report, with
--    --file_set_spec_type=NEW_LINE_DELIMITED_MANIFEST.)
--
-- 2. The transaction at the end of this file, through the external table of
--    participant_timelogs_external.sql (e.g. as a scheduled query).

CREATE TABLE IF NOT EXISTS `${PROJECT}.${DATASET}.participant_timelogs_native`
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
  run_id STRING NOT NULL OPTIONS (description = "ID of the run that wrote the row; its report is under _runs/."),
  dt DATE NOT NULL OPTIONS (description = "UTC date of the run's logical time (the dt= folder).")
)
PARTITION BY dt
CLUSTER BY session_id
OPTIONS (
  description = 'VideoSDK participant timelogs, loaded from the bucket per dt (schema v1).'
);

-- Same dedup as the external table's view.
CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.participant_timelogs_native_latest` AS
SELECT *
FROM `${PROJECT}.${DATASET}.participant_timelogs_native`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY session_id, participant_id, timelog_index
  ORDER BY extracted_at DESC, run_id DESC
) = 1;

-- Reload one dt from the external table, all or nothing.
BEGIN TRANSACTION;
DELETE FROM `${PROJECT}.${DATASET}.participant_timelogs_native`
WHERE dt = DATE '${DT}';
INSERT INTO `${PROJECT}.${DATASET}.participant_timelogs_native`
SELECT * FROM `${PROJECT}.${DATASET}.participant_timelogs`
WHERE dt = DATE '${DT}';
COMMIT TRANSACTION;
