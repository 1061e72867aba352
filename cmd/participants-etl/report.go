package main

import (
	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
	"github.com/participants-etl/participants-etl/transform"
)

// Report is the run report written under <output>/_runs/ after the run's
// files are published (or, for a failed run, in their place), so that an
// operator can see what every run did without reading the table.
type Report struct {
	ReportVersion  int                   `json:"report_version"`
	RunID          string                `json:"run_id"`
	LogicalTime    string                `json:"logical_time"`
	Shard          shardInfo             `json:"shard"`
	StartedAt      string                `json:"started_at"`
	FinishedAt     string                `json:"finished_at"`
	DurationSec    float64               `json:"duration_seconds"`
	Status         string                `json:"status"` // succeeded, partial, failed
	ExitCode       int                   `json:"exit_code"`
	Error          string                `json:"error,omitempty"`
	Sessions       string                `json:"sessions_source"`
	Output         string                `json:"output"`
	Counts         counts                `json:"counts"`
	API            apiCounts             `json:"api"`
	Failed         []failure             `json:"failed_sessions"`
	Invalid        []extract.InvalidLine `json:"invalid_lines"`
	InvalidOmitted int                   `json:"invalid_lines_omitted,omitempty"`
	Files          []load.FileInfo       `json:"files"`
}

type shardInfo struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

type counts struct {
	// SessionsListed counts the distinct valid IDs in the whole list.
	SessionsListed int `json:"sessions_listed"`
	// SessionsInShard counts those that fall to this shard.
	SessionsInShard  int `json:"sessions_in_shard"`
	SessionsExported int `json:"sessions_exported"`
	SessionsFailed   int `json:"sessions_failed"`
	// SessionsInvalid counts list lines that were not sent; they belong to
	// shard 0's report and exit code.
	SessionsInvalid int   `json:"sessions_invalid"`
	DuplicateLines  int   `json:"duplicate_lines"`
	Pages           int64 `json:"pages"`
	transform.Stats
}

type apiCounts struct {
	Requests       int64            `json:"requests"`
	RetriesByCause map[string]int64 `json:"retries_by_cause"`
	Rereads        int64            `json:"session_rereads"`
	RateLimited    int64            `json:"rate_limited_responses"`
}

type failure struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason"`
}
