// Package pipeline owns one run of the export: one slot (a logical time and
// a shard) from the session list to a published table and its report.
//
// Run opens the table, then takes its session IDs from the source
// (source.go): a list (a file, gs://bucket/object, or the reader given for
// "-"), or for "videosdk:" the sessions the API lists as started in
// [LogicalTime − Lookback, LogicalTime) (extract.Client.ListSessions,
// through the same client and limits as the participants; a listing that
// fails fails the run before anything is begun, with a report saying why).
// It keeps the IDs of its shard (FNV-1a of the ID, stable across runs;
// every shard lists the same window), begins a load.Run for the slot, fetches
// the sessions through one extract.Client with at most Concurrency requests
// in flight, turns each session into rows with transform, and hands them to
// a single writer goroutine. That writer owns the report: fetchers send it
// rows and failures alike, and it stops the run (committing nothing) once
// more than MaxFailedFraction of the sessions failed. When every session is
// in, the run is published (load's commit protocol), the report is written
// under _runs/ and one summary line is logged. Everything a run needs comes
// in through Options (store, tokens, clock, logger, standard input, test
// hooks); the package keeps no state between runs.
//
// Incremental runs (incremental.go): with Options.Incremental, Run reads
// load's ledger of complete sessions, keeping only the IDs of its shard's
// list, and skips without a request every session a run at an earlier
// logical time recorded complete; Full fetches them all the same. A session
// is complete when every interval of every participant has an end (one
// without participants or intervals included). Every run that publishes,
// incremental or not, retracts its slot's ledger entries just before
// Publish and records the sessions it wrote complete just after, in the
// order load's doc ("# Ledger") gives, so that a crash in between makes the
// next tick fetch them again and never skip rows the table lacks. A failure
// to record after a successful Publish is an error that says the files are
// published (exit 1, report written).
//
// It hands on a *Report whose ExitCode says what the run means to whoever
// retries it, and the error that stopped it, if any.
//
// A "videosdk:" source exports the sessions whose start lies in the window,
// plus the sessions the latest earlier tick of the shard wrote while they
// were still open (load.Table.OpenBefore), so that a session found open is
// followed past the window until it is complete; every such run records
// the sessions it wrote open (load.Table.RecordOpen) after its completions.
// Flags, environment, signals and schedules are the command's business,
// not this package's.
package pipeline
