// Package load writes Arrow records of schemas.Timelogs as Parquet files
// into the output location, a local directory or gs://bucket/prefix, and
// commits them so that no crash can show a reader half a run. It takes
// records from transform and hands cmd the published files (FileInfo) for
// the run report.
//
// # Pieces
//
// ParquetWriter encodes records to any io.Writer: zstd (long-lived encoders
// with a 1 MiB window, zstd.go), statistics, the Arrow schema stored,
// key-value metadata participants_etl.schema_version (plus run_id,
// logical_time, shard), no dictionary on the columns whose values rarely
// repeat, buffered row groups closed at 256Ki rows or 128 MiB, so memory is
// bounded by one row group per open file and DuckDB can scan a file with
// several threads.
//
// Two stores sit behind one small driver interface (driver.go): the local
// directory (temporary file, fsync, rename, directory fsync) and GCS
// (resumable uploads with an 8 MiB chunk, retries with backoff on 429/5xx,
// preconditions on every overwrite, CRC32C checked after every upload).
// One conformance suite (driver_test.go) runs against both; GCS through
// fake-gcs-server in process.
//
// Table (Open) is the location; Run (Table.Begin) is one attempt at one
// Slot: one logical time, one shard.
//
// # Layout under the output root
//
//	participant_timelogs/dt=YYYY-MM-DD/<lt>-shard-<iii>-of-<nnn>-part-<ppppp>.parquet   the table
//	_staging/<lt>-shard-<iii>-of-<nnn>/<run_id>/part-<ppppp>.parquet                   a run's parts before Publish
//	_manifests/dt=YYYY-MM-DD/<lt>-shard-<iii>-of-<nnn>.txt                             the slot's files, one URI a line
//	_runs/dt=YYYY-MM-DD/<lt>-shard-<iii>-of-<nnn>-<run_id>.json                        run reports
//
// dt is the UTC date of the logical time, <lt> the logical time as
// 20261126T140000Z (seconds; sub-second parts are dropped), shard and
// part numbers are 0-based. Only .parquet files are ever created under
// participant_timelogs/: temporary names live in the staging folder, and
// local writes into the table are renames of hard links made there.
//
// # Commit protocol
//
// One run of a slot, the same steps on both stores:
//
//	B   Begin: delete every staging object of this slot (earlier, killed runs)
//	    and of any slot older than 48h. Another slot's fresh staging is kept:
//	    the shards of one logical time run at once, in separate pods. On the
//	    local store, also the hidden temporary files of killed writes (this
//	    slot's, and stale ones anywhere outside the table).
//	W   Write: stream sessions into _staging/<slot>/<run_id>/part-N. Each part
//	    is committed by its writer's Close (DoesNotExist) once it passes
//	    MaxFileBytes or at Publish, and its CRC32C compared with what we sent.
//	P1  Publish: finish the open part; re-read every staged part's size and
//	    CRC32C.
//	P2  For N = 0, 1, ...: copy staged part N onto the table file of the same
//	    number, with the precondition DoesNotExist if the listing at the
//	    start of P2 did not have it, or GenerationMatch(the listed
//	    generation) if it did. One server-side copy (GCS) or one rename of
//	    a hard link (local): each file appears or is replaced atomically,
//	    whole. The copy's CRC32C is checked against the staged one.
//	P3  Delete the slot's table files this run did not write (parts beyond
//	    its count, left by an earlier run with more parts), each with
//	    GenerationMatch.
//	P4  Write the manifest (replacing it under GenerationMatch).
//	P5  Delete this run's staging.
//	R   cmd writes the run report (WriteReport), last.
//
// Nothing but P2 and P3 touches the table, and they touch only names of
// this slot: <lt>-shard-<iii>-of-<nnn>-part-*.parquet in its dt folder.
// Other logical times and other shards are never listed for change.
//
// What a reader listing participant_timelogs/ sees if the process dies
// (SIGKILL included) between two steps, and what the next run of the slot
// does (a Job retry: same logical time and shard, new run id):
//
//   - before P2 (during B, W or P1): the previous run's files, unchanged, or
//     nothing if there was none. The dead run's staging is outside the table;
//     the next Begin of this slot deletes it (or any Begin after 48h).
//   - during P2, the common case of one part now and one part before: the
//     old file or the new one, never both, never a torn file. Publishing a
//     single-file run is one object replace.
//   - during P2 with several parts: parts 0..k of the new run beside parts
//     k+1.. of the old one. Every file is whole and holds whole sessions,
//     but a session that moved between part numbers may appear twice (the
//     dedup view keeps one copy) or, until the next run, not at all. No
//     multi-object atomic commit exists on GCS; this is the honest limit.
//     The next run republishes every part over the same names under fresh
//     preconditions and deletes the extras, which repairs the slot.
//   - between P2 and P3 (the new run has fewer parts than the old): all of
//     the new run plus the old run's extra parts: duplicates, no rows
//     missing. The next run's P3 deletes the extras.
//   - between P3 and P4: exactly the new run. The manifest still describes
//     the previous run (it may name a deleted extra part); the next run
//     rewrites it.
//   - between P4 and P5, or before R: exactly the new run; a consistent
//     manifest; staging litter (removed by the next Begin of the slot) and
//     no report (cmd's exit code says the run failed; a rerun rewrites the
//     same files).
//
// A rerun of a slot with the same part count replaces its files in place
// under the same names; with fewer parts it deletes the extra ones (P3).
//
// Preconditions make every retried or stale request harmless: GCS requests
// are retried on 429/5xx (storage.RetryAlways) because each mutation either
// names the generation it replaces, demands that the object not exist, or
// writes a key unique to the run (staging parts, reports). A P2 copy whose
// first attempt succeeded but whose answer was lost gets 412 on retry; it is
// recognised by the destination's CRC32C and size equal to the staged
// part's. A stale pod of the same slot (replaced while still running) loses
// its staging to the new pod's Begin and fails; if it had already listed
// the table, its copies fail their GenerationMatch instead of overwriting.
//
// On the local store DoesNotExist is atomic (link(2) fails if the target
// exists) while GenerationMatch (mtime in nanoseconds) is checked then
// renamed, not atomically: enough for one writer per slot.
//
// # Aborting
//
// Run.Abort (on SIGTERM/SIGINT) cancels the in-flight upload, so nothing
// half-written becomes an object, and removes the run's staging; the table
// is not touched. A run that is never published is invisible.
package load
