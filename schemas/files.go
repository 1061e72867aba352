package schemas

import (
	"embed"
	"strings"
)

// Files holds the analyst files described in the package comment, by their
// path relative to this directory.
//
//go:embed bigquery/*.json bigquery/*.sql duckdb/*.sql
var Files embed.FS

// DuckDBSQL returns duckdb/participant_timelogs.sql with ${ROOT} replaced by
// root (a local directory or a gs:// or s3:// URL, no trailing slash): the
// statements that create the participant_timelogs and
// participant_timelogs_latest views.
func DuckDBSQL(root string) string {
	b, err := Files.ReadFile("duckdb/participant_timelogs.sql")
	if err != nil {
		panic(err) // embedded at build time; cannot be missing
	}
	root = strings.TrimSuffix(root, "/")
	// root ends up inside a single-quoted SQL string.
	return strings.ReplaceAll(string(b), "${ROOT}", strings.ReplaceAll(root, "'", "''"))
}
