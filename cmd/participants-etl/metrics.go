package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/participants-etl/participants-etl/internal/pipeline"
)

// push sends the run's metrics to --pushgateway, the usual way to watch a
// batch job. It uses Add (POST), so last_success_timestamp_seconds keeps
// its value from the last good run when this one failed. A Pushgateway
// that is down is logged, never fatal: the data is what matters.
func (p *process) push(ctx context.Context, cfg Config, log *slog.Logger, rep *pipeline.Report) {
	if cfg.Pushgateway == "" {
		return
	}
	code := rep.ExitCode
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "participants_etl", Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	c := rep.Counts
	gauge("rows", "Rows exported by the last run.", float64(c.Rows))
	gauge("sessions_listed", "Distinct valid session IDs in the list, or sessions the API listed for --sessions videosdk:.", float64(c.SessionsListed))
	if l := rep.Listing; l != nil {
		gauge("sessions_in_window", "Sessions listed whose start lies in the --lookback window.", float64(l.SessionsInWindow))
		gauge("list_pages", "Pages of the session list read by the last run.", float64(l.Pages))
	}
	gauge("sessions_exported", "Sessions exported by the last run.", float64(c.SessionsExported))
	gauge("sessions_failed", "Sessions the last run could not export.", float64(c.SessionsFailed))
	gauge("sessions_invalid", "Invalid lines in the session list.", float64(c.SessionsInvalid))
	gauge("sessions_skipped_complete", "Sessions the last run skipped because an earlier tick recorded them complete.", float64(c.SessionsSkippedComplete))
	gauge("sessions_fetched_open", "Sessions an incremental run fetched because no earlier tick recorded them complete.", float64(c.SessionsFetchedOpen))
	gauge("sessions_completed", "Sessions the last run recorded complete in the ledger.", float64(c.SessionsCompleted))
	gauge("pages", "Participant pages read by the last run.", float64(c.Pages))
	gauge("requests", "API requests sent by the last run.", float64(rep.API.Requests))
	gauge("duration_seconds", "Wall time of the last run.", rep.DurationSec)
	if rep.PeakRSSBytes > 0 {
		gauge("peak_rss_bytes", "Peak resident memory of the last run's process, for sizing its memory request.", float64(rep.PeakRSSBytes))
	}
	gauge("exit_code", "Exit code of the last run (0 ok, 1 failed, 2 configuration, 3 partial).", float64(code))
	gauge("last_run_timestamp_seconds", "When the last run finished.", float64(p.clock.Now().Unix()))
	retries := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "participants_etl", Name: "retries",
		Help: "API retries of the last run, by cause."}, []string{"cause"})
	for cause, n := range rep.API.RetriesByCause {
		retries.WithLabelValues(cause).Set(float64(n))
	}
	reg.MustRegister(retries)
	if code == exitOK || code == exitPartial {
		gauge("last_success_timestamp_seconds", "When a run last committed its output.", float64(p.clock.Now().Unix()))
	}

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := push.New(cfg.Pushgateway, "participants_etl").
		Gatherer(reg).
		Grouping("shard", strconv.Itoa(cfg.ShardIndex)).
		AddContext(pctx)
	if err != nil {
		log.Warn("could not push metrics", "pushgateway", redactURL(cfg.Pushgateway), "error", redactIn(err.Error(), cfg.Pushgateway))
	}
}
