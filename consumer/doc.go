// Package consumer tests the participant_timelogs table the way analysts
// read it: the participants-etl binary, built from ../cmd/participants-etl
// exactly as the Dockerfile builds it (CGO_ENABLED=0), exports into a
// temporary directory, and DuckDB reads the Parquet files with
// hive_partitioning and runs the views of schemas/duckdb.
//
// It is a module of its own so that DuckDB, which needs cgo and a C++
// library, stays out of the exporter's build. It depends on the exporter's
// packages only for the schema (package schemas) and, in the end-to-end
// tests, the API simulator (extract/videosdktest); everything else goes
// through the binary's command line, exit codes and output layout.
//
// Run it with
//
//	cd consumer && CGO_ENABLED=1 go test ./...
//
// The first run links DuckDB's prebuilt static library (tens of seconds);
// later runs reuse the build cache.
package consumer
