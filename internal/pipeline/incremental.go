package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/load"
)

// Incremental exports: the ledger of complete sessions (load's "# Ledger")
// read before fetching, and updated around publishing.

// Steps at which Options.LedgerHook is called.
const (
	StepLedgerRetracted = "ledger retracted"               // L1 done, Publish next
	StepLedgerPending   = "published, ledger not recorded" // Publish done, L2 next
)

// skipComplete is the list→fetch step of an incremental run: it reads the
// ledger, filtered to ids, and returns the IDs to fetch, leaving out every
// session that a run at an earlier logical time recorded complete. A full
// run (not Incremental, or Full) fetches every ID and reads no ledger.
func (r *run) skipComplete(ctx context.Context, table *load.Table, ids *shardIDs) (*shardIDs, error) {
	if !r.opts.Incremental || r.opts.Full {
		return ids, nil
	}
	listed := make(map[string]struct{}, ids.Len())
	for i := range ids.Len() {
		listed[ids.ID(i)] = struct{}{}
	}
	ledger, err := table.ReadLedgerFor(ctx, func(id string) bool { _, ok := listed[id]; return ok })
	if err != nil {
		return nil, err // it names the object; see load's doc on a corrupt one
	}
	fetch := &shardIDs{list: ids.list}
	for i := range ids.Len() {
		if !ledger.CompleteBefore(ids.ID(i), r.slot.LogicalTime) {
			fetch.idx = append(fetch.idx, uint32(ids.index(i)))
		}
	}
	c := &r.rep.Counts
	c.SessionsSkippedComplete = ids.Len() - fetch.Len()
	c.SessionsFetchedOpen = fetch.Len()
	r.log.Info("ledger read", "sessions_skipped_complete", c.SessionsSkippedComplete, "sessions_to_fetch", fetch.Len())
	return fetch, nil
}

// complete reports whether every interval of every participant of s has an
// end: such a session cannot change any more. A session without
// participants, or whose participants have no intervals, is complete. An
// interval without a start (which gives no row) still needs an end: a
// session with one is fetched again, which is harmless. The session's
// status field is not consulted.
func complete(s extract.Session) bool {
	for _, p := range s.Participants {
		for _, tl := range p.Timelog {
			if tl.End == nil {
				return false
			}
		}
	}
	return true
}

// isPublishedError reports whether err came after the run's files were
// published (a later publish step, or the ledger): the data is committed.
// It exits 1 whatever it wraps: the next run of the slot repairs it.
func isPublishedError(err error) bool {
	var pe *load.PublishedError
	return errors.As(err, &pe)
}

// hook calls Options.LedgerHook, if any, at step.
func (r *run) hook(step string) error {
	if r.opts.LedgerHook == nil {
		return nil
	}
	return r.opts.LedgerHook(step)
}

// retract is L1: before publishing, the ledger stops claiming what an
// earlier run of this slot recorded.
func (r *run) retract(ctx context.Context, table *load.Table) error {
	if err := table.RetractComplete(ctx, r.slot); err != nil {
		return err
	}
	return r.hook(StepLedgerRetracted)
}

// record is L2: after publishing, the sessions this run wrote complete
// become the slot's completions.
func (r *run) record(ctx context.Context, table *load.Table, files []load.FileInfo) error {
	err := r.hook(StepLedgerPending)
	if err == nil {
		err = table.RecordComplete(ctx, r.slot, r.idsAt(r.complete))
	}
	if err == nil && strings.HasPrefix(r.opts.Sessions, extract.VideoSDKSource) {
		// After the completions. A crash in between makes the next tick
		// carry the earlier tick's open sessions instead; those first found
		// open at this tick are then still in the next tick's window,
		// unless the lookback is shorter than the rule of thumb (README).
		err = table.RecordOpen(ctx, r.slot, r.idsAt(r.open))
	}
	if err != nil {
		return &load.PublishedError{Files: files, Step: "record the ledger", Err: err}
	}
	r.rep.Counts.SessionsCompleted = len(r.complete)
	return nil
}

// idsAt is the IDs at the list positions pos, sorted: the ledger takes a
// sorted list as it is, without a copy.
func (r *run) idsAt(pos []uint32) []string {
	ids := make([]string, len(pos))
	for i, p := range pos {
		ids[i] = r.list.ID(int(p))
	}
	slices.Sort(ids)
	return ids
}
