package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// owner is the marker that says which run writes a slot, or wrote it last:
// _slots/<slot>.owner. Begin writes it (replacing any earlier run's, with
// a precondition on the generation it read), so the latest run to begin
// owns the slot; an earlier run that is still alive finds the marker
// changed before it touches the table, and stops naming the new owner.
type owner struct {
	RunID   string    `json:"run_id"`
	BeganAt time.Time `json:"began_at"`
}

// slotsFolder holds the owner markers, beside the table.
const slotsFolder = "_slots/"

func ownerKey(slotName string) string { return slotsFolder + slotName + ".owner" }

// takeSlot makes runID the slot's owner and returns the marker's generation
// and the previous owner's run id ("" if there was none).
func (t *Table) takeSlot(ctx context.Context, slotName, runID string) (int64, string, error) {
	key := ownerKey(slotName)
	prev, gen, err := t.readOwner(ctx, key)
	if err != nil && !errors.Is(err, errNotExist) {
		return 0, "", fmt.Errorf("read the slot's owner: %w", err)
	}
	cond := precondition{DoesNotExist: true}
	if err == nil {
		cond = precondition{GenerationMatch: gen}
	}
	body, _ := json.Marshal(owner{RunID: runID, BeganAt: t.now().UTC()})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := t.drv.NewWriter(wctx, key, writerOptions{Cond: cond, ContentType: "application/json"})
	if err != nil {
		return 0, "", fmt.Errorf("claim the slot: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		cancel()
		w.Close() //nolint:errcheck // cancelled: discards the object
		return 0, "", fmt.Errorf("claim the slot: %w", err)
	}
	a, err := w.Close()
	if errors.Is(err, errPrecondition) {
		other, _, _ := t.readOwner(ctx, key)
		return 0, "", fmt.Errorf("%w: run %s began %s at the same moment and owns it", ErrSlotTaken, other.RunID, slotName)
	}
	if err != nil {
		return 0, "", fmt.Errorf("claim the slot: %w", err)
	}
	return a.Generation, prev.RunID, nil
}

func (t *Table) readOwner(ctx context.Context, key string) (owner, int64, error) {
	a, err := t.drv.Attrs(ctx, key)
	if err != nil {
		return owner{}, 0, err
	}
	// The marker exists from here on: a read that fails still leaves its
	// generation, which is what a new owner replaces.
	var b []byte
	if r, err := t.drv.NewReader(ctx, key); err == nil {
		b, err = io.ReadAll(io.LimitReader(r, 4<<10))
		r.Close()
		if err != nil {
			b = nil
		}
	}
	var o owner
	if err := json.Unmarshal(b, &o); err != nil || o.RunID == "" {
		// A marker we cannot read still belongs to someone; its generation
		// is what a new owner replaces.
		o.RunID = "(unreadable marker " + t.drv.Location(key) + ")"
	}
	return o, a.Generation, nil
}

// stillOwner checks that no other run has taken the slot since Begin. It
// is called before the first change to the table.
func (r *Run) stillOwner(ctx context.Context) error {
	key := ownerKey(r.name)
	a, err := r.t.drv.Attrs(ctx, key)
	if err == nil && a.Generation == r.ownerGen {
		return nil
	}
	if err != nil && !errors.Is(err, errNotExist) {
		return fmt.Errorf("check the slot's owner: %w", err)
	}
	other, _, rerr := r.t.readOwner(ctx, key)
	if rerr != nil {
		return fmt.Errorf("%w: run %s no longer owns %s (its owner marker %s is gone); nothing of this run was published",
			ErrSlotTaken, r.runID, r.name, r.t.drv.Location(key))
	}
	return fmt.Errorf("%w: run %s began %s at %s, after this run (%s); nothing of this run was published",
		ErrSlotTaken, other.RunID, r.name, other.BeganAt.Format(time.RFC3339), r.runID)
}

// releaseSlot removes the owner marker of a run that gives up (Abort) if it
// is still this run's. The run id is compared as well as the generation,
// so that a store which ignores the delete precondition (fake-gcs-server
// does) still never removes a newer owner's marker. A published run keeps
// its marker: an earlier run still going then learns who replaced it.
func (r *Run) releaseSlot(ctx context.Context) {
	key := ownerKey(r.name)
	o, gen, err := r.t.readOwner(ctx, key)
	if err != nil || o.RunID != r.runID || gen != r.ownerGen {
		return // a newer owner's marker stays; a missing one is gone already
	}
	r.t.drv.Delete(ctx, key, precondition{GenerationMatch: r.ownerGen}) //nolint:errcheck // litter at worst, replaced by the next Begin
}

// pruneOwners removes owner markers of other slots older than staleAfter.
func (t *Table) pruneOwners(ctx context.Context, slotName string, staleAfter time.Duration) error {
	now := t.now()
	err := t.deleteUnless(ctx, slotsFolder, func(o objectAttrs) bool {
		return o.Key == ownerKey(slotName) || now.Sub(o.Updated) < staleAfter
	})
	if err != nil {
		return fmt.Errorf("remove stale owner markers: %w", err)
	}
	return nil
}

// checkShardCount refuses a run whose shard count differs from output
// already published for its logical time (table files or manifests).
func (t *Table) checkShardCount(ctx context.Context, slot Slot) error {
	lt := slot.LogicalTime.UTC().Format(LogicalTimeLayout) + "-shard-"
	ours := fmt.Sprintf("-of-%03d", slot.ShardCount)
	for _, prefix := range []string{tableDir(slot) + lt, manifestsFolder + slot.dt() + "/" + lt} {
		objs, err := t.drv.List(ctx, prefix)
		if err != nil {
			return fmt.Errorf("list %s: %w", t.drv.Location(prefix), err)
		}
		for _, o := range objs {
			rest := strings.TrimPrefix(o.Key, prefix) // iii-of-nnn...
			if len(rest) < 10 || rest[3:7] != "-of-" || rest[3:10] == ours {
				continue
			}
			count := strings.TrimLeft(rest[7:10], "0")
			return fmt.Errorf("%w: logical time %s already has output of --shard-count %s (%s), this run has --shard-count %d; "+
				"run it with --shard-count %s, or retire the old output first by deleting %s*-of-%s-* and %s*-of-%s.txt",
				ErrShardCountChanged, slot.LogicalTime.UTC().Format(time.RFC3339), count, t.drv.Location(o.Key), slot.ShardCount,
				count, t.drv.Location(tableDir(slot)+lt), rest[7:10], t.drv.Location(manifestsFolder+slot.dt()+"/"+lt), rest[7:10])
		}
	}
	return nil
}

// Committed reports whether a run of slot has published: the slot's
// manifest exists (P4 writes it after the files).
func (t *Table) Committed(ctx context.Context, slot Slot) (bool, error) {
	name, err := slot.name()
	if err != nil {
		return false, err
	}
	_, err = t.drv.Attrs(ctx, manifestKey(slot, name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errNotExist):
		return false, nil
	}
	return false, err
}
