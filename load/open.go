package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// openFolder holds, per shard and tick, the sessions a run wrote while they
// were still open: _open/shard-<iii>-of-<nnn>/<lt>.txt, one ID a line. A
// tick that lists sessions by a time window (videosdk:) reads the latest
// such object of an earlier tick and fetches those sessions again, so that
// a session found open is followed until it is complete, even after its
// start has left the window. Each tick writes the sessions still open, so
// the chain carries itself; a session drops out of it once it is complete
// (and then in the ledger).
const openFolder = "_open/"

func openPrefix(s Slot) string {
	return fmt.Sprintf("%sshard-%03d-of-%03d/", openFolder, s.ShardIndex, s.ShardCount)
}

func openKey(s Slot) string {
	return openPrefix(s) + s.LogicalTime.UTC().Format(LogicalTimeLayout) + ".txt"
}

// openTick is the logical time an object of openPrefix(slot) was written
// for, read from its name.
func openTick(slot Slot, key string) (time.Time, error) {
	return time.Parse(LogicalTimeLayout, strings.TrimSuffix(strings.TrimPrefix(key, openPrefix(slot)), ".txt"))
}

// OpenBefore returns the sessions that the latest earlier tick of slot's
// shard (a logical time strictly before slot's) recorded as still open,
// and that tick's logical time (zero if there is none). A rerun of a tick
// therefore gets the same sessions as its first run.
func (t *Table) OpenBefore(ctx context.Context, slot Slot) ([]string, time.Time, error) {
	objs, err := t.drv.List(ctx, openPrefix(slot))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("list open sessions: %w", err)
	}
	var (
		best    string
		bestAt  time.Time
		current = slot.LogicalTime.UTC().Truncate(time.Second)
	)
	for _, o := range objs {
		at, err := openTick(slot, o.Key)
		if err != nil || !at.Before(current) || !at.After(bestAt) {
			continue
		}
		best, bestAt = o.Key, at
	}
	if best == "" {
		return nil, time.Time{}, nil
	}
	r, err := t.drv.NewReader(ctx, best)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read open sessions: %w", err)
	}
	defer r.Close()
	var ids []string
	sc := bufio.NewScanner(io.LimitReader(r, 1<<30))
	for sc.Scan() {
		id := sc.Text()
		if err := checkLedgerID(id); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: %s: %v", ErrCorruptLedger, t.drv.Location(best), err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("read open sessions %s: %w", t.drv.Location(best), err)
	}
	return ids, bestAt, nil
}

// RecordOpen records, after Run.Publish, the sessions this run of slot wrote
// that are still open, replacing what an earlier run of the slot recorded.
// Objects of this shard older than a month before slot are removed: reruns
// further back start the chain afresh from their window.
func (t *Table) RecordOpen(ctx context.Context, slot Slot, open []string) error {
	ids, err := sortedIDs(open)
	if err != nil {
		return fmt.Errorf("record open sessions: %w", err)
	}
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id)
		b.WriteByte('\n')
	}
	if err := t.replace(ctx, openKey(slot), []byte(b.String()), "text/plain"); err != nil {
		return fmt.Errorf("record open sessions: %w", err)
	}
	cutoff := slot.LogicalTime.UTC().AddDate(0, -1, 0)
	return t.deleteUnless(ctx, openPrefix(slot), func(o objectAttrs) bool {
		at, err := openTick(slot, o.Key)
		return err != nil || !at.Before(cutoff)
	})
}
