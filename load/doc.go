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
// ReadObject (input.go) reads a run's input, the session list, from a local
// path or gs://bucket/object with the same GCS client, retries and
// ErrStoreAccess errors as the stores, so that one set of credentials and
// one error vocabulary cover everything the job reads and writes.
//
// # Layout under the output root
//
//	participant_timelogs/dt=YYYY-MM-DD/<lt>-shard-<iii>-of-<nnn>-part-<ppppp>.parquet   the table
//	_staging/<lt>-shard-<iii>-of-<nnn>/<run_id>/part-<ppppp>.parquet                   a run's parts before Publish
//	_slots/<lt>-shard-<iii>-of-<nnn>.owner                                              the run that owns the slot (or wrote it last)
//	_open/shard-<iii>-of-<nnn>/<lt>.txt                                                 sessions a videosdk: tick wrote while open (open.go)
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
//	B0  Begin refuses a slot whose logical time already has table files or
//	    manifests of another shard count (ErrShardCountChanged): both sets
//	    would be read, doubling every row.
//	B1  Begin writes the slot's owner marker (run id, time), replacing the
//	    generation it read (or DoesNotExist): the run that began last owns
//	    the slot. A killed run never blocks the next one.
//	B   Begin: delete every staging object of this slot (earlier, killed runs)
//	    and of any slot older than 48h. Another slot's fresh staging is kept:
//	    the shards of one logical time run at once, in separate pods. On the
//	    local store, also the hidden temporary files of killed writes (this
//	    slot's, and stale ones anywhere outside the table).
//	W   Write: stream sessions into _staging/<slot>/<run_id>/part-N. Each part
//	    is committed by its writer's Close (DoesNotExist) once it passes
//	    MaxFileBytes or at Publish, and its CRC32C compared with what we sent.
//	P0  Publish: check that the owner marker still has this run's
//	    generation; if another run began the slot since, stop with
//	    ErrSlotTaken naming it, before anything in the table changes.
//	P1  Finish the open part; re-read every staged part's size and CRC32C.
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
//	P5  Delete this run's staging. The owner marker stays, naming this run
//	    as the slot's last writer (Begin prunes markers older than 48h).
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
// Two live runs of one slot (a pod presumed dead but still running, or two
// runs started by hand): the later one takes the owner marker at Begin; the
// earlier one fails at P0 with ErrSlotTaken, naming the later run, and
// publishes nothing, so no report lists files its run did not publish. If
// the earlier one had passed P0 before the later began, it publishes in
// milliseconds, long before the later run has fetched anything, and the
// later run then replaces its files as any rerun does (its P2 preconditions
// catch the rare overlap). Abort removes the marker only if it is still
// the run's own.
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
//
// # Ledger
//
// The ledger records the sessions that are complete (every interval of
// every participant has an end: the caller decides) with the logical time
// of the run that completed them, so that an incremental run can skip a
// session whose complete rows an earlier slot already holds. It lives
// beside the table, never in it:
//
//	_ledger/month=YYYY-MM/shard-<iii>-of-<nnn>.txt.gz   the completions one shard recorded at logical times in that month (UTC)
//
// An object is gzip'd text: the line "participants_etl ledger v1", then
// for each logical time, in order, a line of a tab and the time
// (20261126T140000Z) followed by the session IDs completed then, sorted by
// bytes, one a line. Session IDs hold no control characters (the list
// reader refuses them, and so does the ledger), so a line starting with a
// tab can only be a time. gunzip -c shows it. A reader checks every rule
// (header, order, times inside the object's month, final newline, gzip
// CRC); an object that breaks one is an error wrapping ErrCorruptLedger
// and naming the object, never half believed.
//
// Invariant: the ledger holds (T, shard, S) only while slot (T, shard)
// holds the complete rows of session S. Hence a run at logical time T may
// skip S when Ledger.CompleteBefore(S, T): some slot earlier than T holds
// it complete. Every change keeps the invariant, in this order:
//
//	L0  ReadLedger, at the start of the run: list _ledger/ and read every
//	    object, whatever shard count wrote it; a session completed at
//	    several logical times counts from the earliest. (ReadLedgerFor
//	    keeps only the IDs of the run's list: the pipeline's way.)
//	W   The run fetches the listed sessions of its shard that are not
//	    CompleteBefore(id, T), and writes them (Run.Write).
//	L1  RetractComplete(slot), just before Publish: remove what an earlier
//	    run of this slot recorded. Only a rerun writes here: its files are
//	    about to be replaced, perhaps without a session the old run held
//	    (it failed, or left the list), perhaps part by part (see P2). The
//	    first run of a slot reads one object and writes nothing.
//	P   Publish (P1-P5 above).
//	L2  RecordComplete(slot, complete), after Publish: the slot's entries
//	    become exactly complete (replaced, not appended: a rerun of a tick
//	    records what it holds, no duplicates).
//	R   The run report.
//
// Every run that publishes a slot takes L1 and L2, full (non-incremental)
// runs included, which merely read no ledger at L0 (a nil *Ledger skips
// nothing): a run that replaced a slot's files without L1 could leave the
// ledger claiming rows the new files lack, and recording at L2 keeps the
// ledger warm for when incremental runs start.
//
// complete is the sessions this run wrote whose every interval has an end
// (a session with no participants or no intervals included): never a
// skipped or failed one. Each of L1 and L2 is a read-modify-write of one
// object, the slot's shard and month: stat, read, change, write with
// DoesNotExist (there was none) or GenerationMatch (the generation
// stated); on a precondition failure it starts over from a fresh read, up
// to 10 times. It streams: the object is read, and its new version
// written, a line at a time, so memory does not grow with the object. L1
// (and a forget), which usually change nothing, read the object once
// alone to find out and write only if they do. Two writers of one object (the tick and a backfill of the
// same shard and month; a stale pod) therefore never lose each other's
// entries: each replaces only its own logical time's. A write retried
// after a lost answer meets 412, re-reads, finds its change made, and
// stops. The limit: two runs of the same slot publishing at once (a stale
// pod whose Publish began before the new pod listed the table) may record
// in either order, so the ledger may hold the set of the run whose files
// were replaced; a session only that run held complete would then be
// skipped. ForgetSessions repairs it; concurrencyPolicy: Forbid keeps it
// away.
//
// What the next run sees if the process dies (SIGKILL included) between two
// steps:
//
//   - before L1: nothing changed.
//   - between L1 and P, or anywhere in P (a mix of parts included), or after
//     a failed Publish: the ledger claims nothing of this slot, so no
//     session can be skipped for rows the slot may lack. A rerun's earlier
//     completions are fetched again by the next tick; a Job retry of the
//     slot records them again.
//   - between P and L2: the new slot is published, its new completions are
//     not recorded. The next tick fetches those sessions again (their rows
//     are the same; _latest keeps one) and records them; never the reverse,
//     a ledger that claims rows the table lacks. A rerun of the slot
//     records them too.
//   - after L2, before R: committed; only the report is missing.
//
// Reruns and backfills. A run at T skips only completions recorded at a
// logical time strictly before T (to the second, as slots are), never its
// own or later ones, so rerunning tick 2 after ticks 3 and 4 fetches the
// same sessions as tick 2 did, records tick 2's completions again in place
// of the old ones, and leaves ticks 3 and 4 alone. The set is the same as
// long as the entries before T are: a rerun or backfill of an earlier
// tick (which records what it finds complete now), or a Forget, changes
// what a later rerun skips (more or less), never what the table holds for
// _latest.
//
// Shards. A shard writes only its own objects; a reader lists and unions
// them all, so it needs no shard count, and the objects of an older shard
// count stay valid beside a newer one's. (As for the table, do not change
// the shard count of a logical time that already has data: its rerun
// would leave the old count's entries for that time beside the new ones.)
//
// Why one object per shard and month. A run must read the whole ledger
// (any session of the list may be in it), so a read costs what the ledger
// holds, however it is cut; the cut decides how many objects a read lists
// and GETs, and how much a tick rewrites. One object per tick and shard is
// 8760*N objects a year of hourly ticks, all listed and read every tick;
// one per day is still 365*N GETs a year. One per shard for ever is N
// objects, but every tick rewrites its shard's whole history. By month, a
// year is 12*N objects, and a tick rewrites one month of one shard. That
// object is its own compaction: the tick replaces its entries in it under
// GenerationMatch, so there is no delta or snapshot to merge and no step
// that changes two objects at once.
//
// Measured (go test -run '^$' -bench Ledger -benchtime 3x ./load; 1M
// sessions with 24-hex IDs, a year of hourly ticks over 4 shards, local
// store, 2 cores shared under a load of about 15, so CPU time is given; the
// wall clock was 3-4 times longer): 48 objects, 13.1 bytes per session
// stored (gzip BestSpeed: 4% larger than the default level at a third of
// the CPU). ReadLedger: 1.2 CPU-s, 171 MB allocated, a peak heap of about
// 200 MiB while decoding (garbage included), then 32 bytes per session
// kept (the sorted IDs in one string, an offset and a time index each;
// about 100 MB for 3M sessions). CompleteBefore: 0.65 us. A rerun's update
// of one shard's month (L1, then L2 of 500 sessions; about 21k entries):
// 75 CPU-ms. The worst case, 1M sessions in one month of one shard, is one
// object of 12.5 MiB rewritten twice by a rerun: 2.2 CPU-s.
//
// Measured again on an idle machine after reads and updates began to
// stream (the README has the current figures): ReadLedgerFor of a 10,000-ID
// list peaks at about 10 MiB of heap, 6 MiB when the 1M sessions are one
// object (was 62 and 97); the rerun's update of that one object peaks at
// 7 MiB (was 65) for 1.9 CPU-s.
//
// Forgetting (after a correction on the API side): Table.ForgetSessions
// removes sessions from every object; Table.ForgetCompleted removes the
// completions recorded at logical times in [from, to), e.g. one UTC day.
// Both are read-modify-writes under preconditions, safe beside running
// ticks; the next tick that reads the ledger after them fetches the
// sessions again and appends their rows, which _latest prefers. Deleting ledger objects by hand is equivalent and
// always safe (it only makes sessions be fetched again): delete
// _ledger/month=YYYY-MM/ to forget a month, or one object to forget a
// shard's month, e.g. one that ReadLedger reports as corrupt. Never edit
// one by hand.
//
// On the local store GenerationMatch is checked then renamed, not
// atomically, and a generation is an mtime: keep to one writer of a
// shard's ledger at a time there, as for the rest of the local store.
package load
