package main

import (
	"log/slog"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/internal/pipeline"
	"github.com/participants-etl/participants-etl/load"
)

// options turns cfg into the options of one run. A zero logical time is
// now.
func (p *process) options(cfg Config, log *slog.Logger) pipeline.Options {
	logical := cfg.LogicalTime
	if logical.IsZero() {
		logical = p.clock.Now()
	}
	api := clientOptions(cfg, log)
	api.HTTPClient = p.apiClient
	return pipeline.Options{
		Sessions:    cfg.Sessions,
		Stdin:       p.stdin,
		MaxSessions: cfg.MaxSessions,
		Lookback:    cfg.Lookback,
		Output:      cfg.Output,
		Store:       p.store,
		Write: load.WriteOptions{
			RowGroupRows:  cfg.RowGroupRows,
			RowGroupBytes: cfg.RowGroupBytes,
			MaxFileBytes:  cfg.MaxFileBytes,
			PublishHook:   p.publishHook,
		},
		LogicalTime:       logical,
		ShardIndex:        cfg.ShardIndex,
		ShardCount:        cfg.ShardCount,
		API:               api,
		MaxFailedFraction: cfg.MaxFailedFraction,
		ProgressInterval:  cfg.ProgressInterval,
		Incremental:       cfg.Incremental,
		Full:              cfg.Full,
		LedgerHook:        p.publishHook,
		Clock:             p.clock,
		Logger:            log,
	}
}

// clientOptions maps the API flags and the credentials to the client's
// options.
func clientOptions(cfg Config, log *slog.Logger) extract.Options {
	var tokens extract.TokenSource
	if cfg.Credentials.Token != "" {
		tokens = extract.StaticToken(cfg.Credentials.Token)
	} else {
		tokens = extract.NewMinter(cfg.Credentials.APIKey, cfg.Credentials.Secret, 30*time.Minute)
	}
	return extract.Options{
		BaseURL:          cfg.APIURL,
		Tokens:           tokens,
		Concurrency:      cfg.Concurrency,
		PerPage:          cfg.PerPage,
		RequestTimeout:   cfg.RequestTimeout,
		FirstByteTimeout: cfg.FirstByteTimeout,
		MaxAttempts:      cfg.MaxAttempts,
		RetryDeadline:    cfg.RetryDeadline,
		Rate:             cfg.Rate,
		Logger:           log,
	}
}
