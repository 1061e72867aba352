package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
)

// DefaultLookback is the window a "videosdk:" source lists by default.
const DefaultLookback = 24 * time.Hour

// Listing is what a "videosdk:" source found, for the report.
type Listing struct {
	// From and To bound the window on the sessions' start: [From, To),
	// To being the logical time.
	From string `json:"from"`
	To   string `json:"to"`
	// SessionsInWindow counts the distinct sessions listed whose start
	// lies in the window (Counts.SessionsListed counts them all).
	SessionsInWindow int   `json:"sessions_in_window"`
	Pages            int64 `json:"list_pages"`
	Relists          int   `json:"relists"`
	EarlyStops       int   `json:"early_stops"`
	// Ongoing counts the sessions in the window that the list said were
	// not over yet: they are exported as they are now.
	Ongoing int `json:"ongoing"`
	// CarriedOpen counts sessions outside the window fetched because an
	// earlier tick wrote them while they were open.
	CarriedOpen int `json:"carried_open"`
}

// sessionIDs turns the session source into the IDs of this run's shard,
// counting what it read into the report: a list (file, gs://, "-") is read
// and checked; "videosdk:" lists the sessions that started in [logical
// time − Lookback, logical time) through client.
func (r *run) sessionIDs(ctx context.Context, table *load.Table, client *extract.Client) (*shardIDs, error) {
	var (
		list idList
		err  error
	)
	if strings.HasPrefix(r.opts.Sessions, extract.VideoSDKSource) {
		var listed listedIDs
		if listed, err = r.listSessions(ctx, client); err == nil {
			list, err = r.carryOpen(ctx, table, listed)
		}
	} else {
		list, err = r.readSessionList(ctx)
	}
	if err != nil {
		return nil, err
	}
	ids := ofShard(list, r.slot.ShardIndex, r.slot.ShardCount)
	r.rep.Counts.SessionsInShard = ids.Len()
	return ids, nil
}

// carryOpen adds to the window's sessions those that the latest earlier
// tick of this shard wrote while they were still open (load.OpenBefore):
// a session found open is fetched at every tick until it is complete, even
// after its start has left the window.
func (r *run) carryOpen(ctx context.Context, table *load.Table, listed listedIDs) (listedIDs, error) {
	open, _, err := table.OpenBefore(ctx, r.slot)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(listed))
	for _, id := range listed {
		seen[id] = true
	}
	for _, id := range open {
		if !seen[id] {
			listed = append(listed, id)
			r.rep.Listing.CarriedOpen++
		}
	}
	if n := r.rep.Listing.CarriedOpen; n > 0 {
		r.log.Info("sessions still open at an earlier tick, fetched again", "sessions_carried_open", n)
	}
	return listed, nil
}

// listSessions lists the window through the API and returns the IDs of the
// sessions that started in it, oldest first.
func (r *run) listSessions(ctx context.Context, client *extract.Client) (listedIDs, error) {
	filter, err := extract.ParseVideoSDKSource(r.opts.Sessions)
	if err != nil {
		return nil, err
	}
	lookback := r.opts.Lookback
	if lookback <= 0 {
		lookback = DefaultLookback
	}
	to := r.slot.LogicalTime
	from := to.Add(-lookback)
	rep := r.rep
	rep.Listing = &Listing{From: from.Format(time.RFC3339), To: to.Format(time.RFC3339)}
	// Every shard lists the same window and keeps its own sessions.
	l, err := client.ListSessions(ctx, extract.ListQuery{Filter: filter, From: from, To: to, Logger: r.log})
	rep.Listing.Pages = client.Stats().ListPages
	rep.Listing.Relists = l.Relists
	rep.Listing.EarlyStops = l.EarlyStops
	if err != nil {
		return nil, err
	}
	rep.Counts.SessionsListed = l.Listed
	rep.Listing.SessionsInWindow = len(l.Sessions)
	ids := make(listedIDs, len(l.Sessions))
	for i, s := range l.Sessions {
		ids[i] = s.ID
		if s.End == nil {
			rep.Listing.Ongoing++
		}
	}
	r.log.Info("sessions listed", "from", rep.Listing.From, "to", rep.Listing.To,
		"sessions_listed", l.Listed, "sessions_in_window", len(ids), "list_pages", rep.Listing.Pages,
		"relists", l.Relists, "early_stops", l.EarlyStops, "ongoing", rep.Listing.Ongoing)
	return ids, nil
}

// readSessionList reads a list of IDs (a file, gs://bucket/object, or "-"
// for Stdin) and counts it into the report.
func (r *run) readSessionList(ctx context.Context) (*extract.SessionList, error) {
	src := r.opts.Sessions
	rc := io.NopCloser(r.opts.Stdin)
	if src != "-" {
		var err error
		// A missing file or object wraps load.ErrStoreAccess: exit 2.
		if rc, err = load.ReadObject(ctx, src, r.opts.Store); err != nil {
			return nil, fmt.Errorf("read session list: %w", err)
		}
	}
	defer rc.Close()
	// A list on a stdin that never closes must not outlast a signal: the
	// read runs aside, and a stop abandons it (the process is ending).
	type read struct {
		list extract.SessionList
		err  error
	}
	done := make(chan read, 1)
	go func() {
		list, err := extract.ReadSessionList(rc, r.opts.MaxSessions)
		done <- read{list, err}
	}()
	var list extract.SessionList
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("stopped while reading the session list %s: %w", src, context.Cause(ctx))
	case got := <-done:
		if got.err != nil {
			return nil, fmt.Errorf("read session list %s: %w", src, got.err)
		}
		list = got.list
	}
	rep := r.rep
	rep.Counts.SessionsListed = list.Len()
	rep.Counts.SessionsInvalid = len(list.Invalid) + list.InvalidOmitted
	rep.Counts.DuplicateLines = list.Duplicates
	if r.slot.ShardIndex == 0 { // invalid lines are shard 0's to report
		rep.Invalid = append(rep.Invalid, list.Invalid...)
		rep.InvalidOmitted = list.InvalidOmitted
		for _, bad := range list.Invalid {
			r.log.Warn("invalid line in session list, not sent", "line", bad.Line, "value", bad.Value, "reason", bad.Reason)
		}
	}
	return &list, nil
}
