// Package transform turns the sessions that extract hands on into rows of
// the participant_timelogs table and into Arrow records of schema v1
// (schemas.Timelogs), which load encodes as Parquet.
//
// Everything here is a pure function of its arguments: no I/O, and no clock
// is read — the extraction time and run ID arrive in Meta. One timelog entry
// of one participant becomes one Row; a participant without a timelog gives
// no rows and is counted in Stats, as is an entry the API sent without a
// start (the table's start_time is NOT NULL). A (session_id, participant_id,
// timelog_index) key is emitted at most once because extract hands on each
// participant of a session once (it merges a participant seen on two pages);
// Rows relies on that rather than checking every key again.
package transform
