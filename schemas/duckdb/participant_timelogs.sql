-- DuckDB views over the exported Parquet files (schema v1).
--
-- ${ROOT} is the export root: the directory or URL given to --output, e.g.
-- /data/videosdk or gs://my-bucket/videosdk (gs:// needs the httpfs extension
-- and a GCS HMAC key: CREATE SECRET (TYPE gcs, KEY_ID '...', SECRET '...')).
-- schemas.DuckDBSQL(root) substitutes it; so does envsubst.
--
-- dt is the partition column from the path (dt=YYYY-MM-DD): the UTC date of
-- the run's logical time. Filter on it to read fewer files.

CREATE OR REPLACE VIEW participant_timelogs AS
SELECT *
FROM read_parquet(
    '${ROOT}/participant_timelogs/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'dt': DATE}
);

-- Every run exports its whole session list again (an --incremental run: the
-- sessions not yet complete), so one timelog entry appears once per run that
-- saw it. This view keeps the row with the latest extracted_at per key: the
-- current picture of every session, whichever tick last fetched it (do not
-- filter it by dt). run_id breaks ties so that the choice is deterministic.
CREATE OR REPLACE VIEW participant_timelogs_latest AS
SELECT *
FROM participant_timelogs
QUALIFY row_number() OVER (
    PARTITION BY session_id, participant_id, timelog_index
    ORDER BY extracted_at DESC, run_id DESC
) = 1;
