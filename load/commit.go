package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/participants-etl/participants-etl/schemas"
)

// Folders under the output root. Only the table folder is read by
// BigQuery/DuckDB; the others sit beside it, never inside it.
const (
	stagingFolder   = "_staging/"
	runsFolder      = "_runs/"
	manifestsFolder = "_manifests/"
)

// LogicalTimeLayout is how a logical time appears in object names.
const LogicalTimeLayout = "20060102T150405Z"

// DefaultStaleStaging is the age after which any slot's staging leftovers
// are removed by Begin: far longer than a run may take.
const DefaultStaleStaging = 48 * time.Hour

const parquetContentType = "application/vnd.apache.parquet"

// WriteOptions configures a Run. Zero values take the defaults.
type WriteOptions struct {
	RowGroupRows  int64 // DefaultRowGroupRows
	RowGroupBytes int64 // DefaultRowGroupBytes
	// MaxFileBytes rolls to a new part once a part reaches it, checked
	// after each Write, so a part may exceed it by one Write's rows
	// (DefaultMaxFileBytes).
	MaxFileBytes int64
	// StaleStaging: staging of any slot older than this is removed by
	// Begin (DefaultStaleStaging).
	StaleStaging time.Duration
	// Metadata is added to every file's Parquet key-value metadata.
	Metadata map[string]string

	// PublishHook, when set, is called after each step of Publish with
	// the step's name: "staged", "listed", "published part N" (N = 0,
	// 1, ...), "extras deleted", "manifest written". An error stops
	// Publish there, as a crash would. It is a fault-injection hook for
	// tests (kill the process between two steps); production leaves it nil.
	PublishHook func(step string) error
}

func (o WriteOptions) withDefaults() WriteOptions {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.StaleStaging <= 0 {
		o.StaleStaging = DefaultStaleStaging
	}
	return o
}

// validate checks the slot and returns its name: <lt>-shard-<iii>-of-<nnn>.
func (s Slot) name() (string, error) {
	if s.LogicalTime.IsZero() {
		return "", errors.New("slot: logical time is zero")
	}
	if s.ShardCount < 1 || s.ShardIndex < 0 || s.ShardIndex >= s.ShardCount {
		return "", fmt.Errorf("slot: shard %d of %d: want 0 <= index < count", s.ShardIndex, s.ShardCount)
	}
	return fmt.Sprintf("%s-shard-%03d-of-%03d", s.LogicalTime.UTC().Format(LogicalTimeLayout), s.ShardIndex, s.ShardCount), nil
}

func (s Slot) dt() string { return "dt=" + s.LogicalTime.UTC().Format(time.DateOnly) }

func tableDir(s Slot) string { return schemas.TableName + "/" + s.dt() + "/" }

func tableKey(s Slot, name string, part int) string {
	return fmt.Sprintf("%s%s-part-%05d.parquet", tableDir(s), name, part)
}

func stagingSlotDir(name string) string { return stagingFolder + name + "/" }

func stagingKey(name, runID string, part int) string {
	return fmt.Sprintf("%s%s/part-%05d.parquet", stagingSlotDir(name), runID, part)
}

func reportKey(s Slot, name, runID string) string {
	return runsFolder + s.dt() + "/" + name + "-" + runID + ".json"
}

func manifestKey(s Slot, name string) string {
	return manifestsFolder + s.dt() + "/" + name + ".txt"
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkRunID(runID string) error {
	if !runIDPattern.MatchString(runID) {
		return fmt.Errorf("run id %q: want 1-128 characters of [A-Za-z0-9._-], not starting with . _ or -", runID)
	}
	return nil
}

// Run is one attempt at writing a slot. Write streams sessions into staged
// parts; Publish makes them the slot's files; Abort drops them. Write and
// Publish are for one goroutine; Abort may be called from another (a
// signal handler) at any time.
type Run struct {
	t     *Table
	slot  Slot
	name  string
	runID string
	opts  WriteOptions

	// ctx bounds the run's uploads, which outlive single Write calls (as a
	// storage.Writer keeps the context it was created with). Abort cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	// PreviousOwner is the run that owned the slot when this one began
	// ("" if none): a killed run, or one still running that will now stop
	// before it publishes.
	PreviousOwner string
	ownerGen      int64 // of this run's owner marker

	mu    sync.Mutex
	cur   *stagedPart
	parts []stagedPart
	err   error // sticky: the run cannot be published
	state runState
}

type runState int

const (
	runOpen runState = iota
	runPublished
	runAborted
)

type stagedPart struct {
	index int
	key   string
	w     objectWriter
	pw    *ParquetWriter
	rows  int64
	attrs objectAttrs // once closed
}

// Begin starts a run of slot. It first removes staging left by earlier
// runs of the same slot (killed runs) and staging of any slot older than
// opts.StaleStaging; it never touches another slot's fresh staging, since
// the shards of one logical time run at the same time. Nothing under the
// table is touched until Publish.
//
// ctx bounds the whole run's uploads: cancelling it aborts them.
func (t *Table) Begin(ctx context.Context, slot Slot, runID string, opts WriteOptions) (*Run, error) {
	name, err := slot.name()
	if err != nil {
		return nil, err
	}
	if err := checkRunID(runID); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := t.checkShardCount(ctx, slot); err != nil {
		return nil, err
	}
	gen, prev, err := t.takeSlot(ctx, name, runID)
	if err != nil {
		return nil, fmt.Errorf("begin %s: %w", name, err)
	}
	if err := t.cleanStaging(ctx, name, opts.StaleStaging); err != nil {
		return nil, fmt.Errorf("begin %s: %w", name, err)
	}
	if err := t.pruneOwners(ctx, name, opts.StaleStaging); err != nil {
		return nil, fmt.Errorf("begin %s: %w", name, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	return &Run{t: t, slot: slot, name: name, runID: runID, opts: opts, ctx: rctx, cancel: cancel,
		ownerGen: gen, PreviousOwner: prev}, nil
}

func (t *Table) cleanStaging(ctx context.Context, name string, staleAfter time.Duration) error {
	now := t.now()
	err := t.deleteUnless(ctx, stagingFolder, func(o objectAttrs) bool {
		slotName, _, _ := strings.Cut(strings.TrimPrefix(o.Key, stagingFolder), "/")
		return slotName != name && now.Sub(o.Updated) < staleAfter
	})
	if err != nil {
		return fmt.Errorf("remove staging leftovers: %w", err)
	}
	if s, ok := t.drv.(sweeper); ok {
		// Temporary files of killed writes: any age in this slot's staging
		// (its runs are dead: this one has not started), stale ones elsewhere.
		if err := s.sweep(ctx, stagingSlotDir(name), now); err != nil {
			return err
		}
		for _, folder := range []string{stagingFolder, runsFolder, manifestsFolder} {
			if err := s.sweep(ctx, folder, now.Add(-staleAfter)); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteUnless deletes every object under folder that keep does not keep,
// each under the generation listed, so that one rewritten meanwhile stays.
func (t *Table) deleteUnless(ctx context.Context, folder string, keep func(objectAttrs) bool) error {
	objs, err := t.drv.List(ctx, folder)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if keep(o) {
			continue
		}
		err := t.drv.Delete(ctx, o.Key, precondition{GenerationMatch: o.Generation})
		if err != nil && !errors.Is(err, errNotExist) && !errors.Is(err, errPrecondition) {
			return err
		}
	}
	return nil
}

// sweeper is implemented by stores whose killed writes leave temporary
// files behind (the local one).
type sweeper interface {
	sweep(ctx context.Context, prefix string, cutoff time.Time) error
}

// Write appends the rows of one session to the run's current part; a
// session never spans parts. After the write, a part that has reached
// MaxFileBytes is finished and the next Write starts a new one. Any error
// leaves the run unpublishable: Abort it. Cancelling ctx aborts the run's
// in-flight upload. The caller keeps ownership of rec.
func (r *Run) Write(ctx context.Context, rec arrow.RecordBatch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.NumRows() == 0 {
		return nil // an empty session neither opens nor rolls a part
	}
	stop := context.AfterFunc(ctx, r.cancel)
	defer stop()
	if r.cur == nil {
		if err := r.openPart(); err != nil {
			r.err = err
			return err
		}
	}
	if err := r.cur.pw.Write(rec); err != nil {
		r.err = fmt.Errorf("write %s: %w", r.t.drv.Location(r.cur.key), err)
		return r.err
	}
	if r.cur.pw.Size() >= r.opts.MaxFileBytes {
		if err := r.finishPart(); err != nil {
			r.err = err
			return err
		}
	}
	return nil
}

func (r *Run) usable() error {
	switch {
	case r.state == runPublished:
		return errors.New("run already published")
	case r.state == runAborted:
		return errors.New("run aborted")
	case r.err != nil:
		return fmt.Errorf("run failed earlier: %w", r.err)
	}
	return nil
}

func (r *Run) openPart() error {
	i := len(r.parts)
	key := stagingKey(r.name, r.runID, i)
	w, err := r.t.drv.NewWriter(r.ctx, key, writerOptions{Cond: precondition{DoesNotExist: true}, ContentType: parquetContentType})
	if err != nil {
		return fmt.Errorf("stage part %d: %w", i, err)
	}
	md := map[string]string{
		MetadataRunID:            r.runID,
		MetadataLogicalTime:      r.slot.LogicalTime.UTC().Format(time.RFC3339),
		"participants_etl.shard": fmt.Sprintf("%d/%d", r.slot.ShardIndex, r.slot.ShardCount),
	}
	for k, v := range r.opts.Metadata {
		md[k] = v
	}
	pw, err := NewParquetWriter(w, ParquetOptions{RowGroupRows: r.opts.RowGroupRows, RowGroupBytes: r.opts.RowGroupBytes, Metadata: md})
	if err != nil {
		// The writer exists (a temporary file, an upload session): discard
		// it, or a cancelled run leaks it. The run cannot go on anyway.
		r.cancel() // so that Close discards the object
		w.Close()  //nolint:errcheck // discarded, see above
		return fmt.Errorf("stage part %d: %w", i, err)
	}
	r.cur = &stagedPart{index: i, key: key, w: w, pw: pw}
	return nil
}

// finishPart writes the footer and commits the staged object.
func (r *Run) finishPart() error {
	p := r.cur
	r.cur = nil
	if err := p.pw.Close(); err != nil {
		r.cancel()  // so that Close discards the half-written object
		p.w.Close() //nolint:errcheck // discarded, see above
		return fmt.Errorf("stage %s: %w", r.t.drv.Location(p.key), err)
	}
	a, err := p.w.Close()
	if err != nil {
		return fmt.Errorf("stage part %d: %w", p.index, err)
	}
	p.rows, p.attrs = p.pw.Rows(), a
	r.parts = append(r.parts, *p)
	return nil
}

// step calls the caller's PublishHook between publish steps.
func (r *Run) step(name string) error {
	if r.opts.PublishHook == nil {
		return nil
	}
	return r.opts.PublishHook(name)
}

// Publish finishes the staged parts and makes them the slot's files. See
// doc.go for the steps and what a crash between any two leaves. A run with
// no rows publishes one empty file, so that it still replaces the slot's
// previous files. The returned files are in part order.
//
// The first copy into the table is the commit point. An error before it
// means nothing of this run is visible; an error after it is a
// *PublishedError, and the files it names are in the table.
func (r *Run) Publish(ctx context.Context) ([]FileInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, r.cancel)
	defer stop()
	files, err := r.publish(ctx)
	if err != nil {
		r.err = err
		return files, fmt.Errorf("publish %s: %w", r.name, err)
	}
	r.state = runPublished
	r.cancel()
	return files, nil
}

// PublishedError is a Publish that failed after its commit point: Files
// (this run's files) are in the table, and what failed is a later step.
// The next run of the slot repairs it; see doc.go.
type PublishedError struct {
	Files []FileInfo
	Step  string // what failed: "copy", "delete extras", "write manifest", or a hook's step
	Err   error
}

func (e *PublishedError) Error() string {
	return fmt.Sprintf("published %d files; then failed at %s: %v", len(e.Files), e.Step, e.Err)
}

func (e *PublishedError) Unwrap() error { return e.Err }

// publish runs steps P0–P5 of doc.go, calling the hook after each.
func (r *Run) publish(ctx context.Context) ([]FileInfo, error) {
	// P0: nothing of a run that lost its slot may reach the table.
	if err := r.stillOwner(ctx); err != nil {
		return nil, err
	}
	if err := r.verifyStaged(ctx); err != nil {
		return nil, err
	}
	if err := r.step("staged"); err != nil {
		return nil, err
	}
	listed, err := r.listSlot(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.step("listed"); err != nil {
		return nil, err
	}
	files, step, err := r.copyParts(ctx, listed)
	published := func(step string, err error) ([]FileInfo, error) {
		if len(files) == 0 {
			return nil, err // the commit point was not reached
		}
		return files, &PublishedError{Files: files, Step: step, Err: err}
	}
	if err != nil {
		return published(step, err)
	}
	if err := r.deleteExtras(ctx, listed); err != nil {
		return published("delete extras", err)
	}
	if err := r.step("extras deleted"); err != nil {
		return published("extras deleted", err)
	}
	if err := r.writeManifest(ctx, files); err != nil {
		return published("write manifest", err)
	}
	if err := r.step("manifest written"); err != nil {
		return published("manifest written", err)
	}
	r.dropStaging(ctx)
	return files, nil
}

// sameBytes reports whether got (the object at key) holds the bytes of
// staged part p, by size and CRC32C.
func (r *Run) sameBytes(key string, got objectAttrs, p stagedPart) error {
	if got.Size != p.attrs.Size || got.CRC32C != p.attrs.CRC32C {
		return fmt.Errorf("verify %s: %d bytes crc32c %08x, want %d bytes crc32c %08x",
			r.t.drv.Location(key), got.Size, got.CRC32C, p.attrs.Size, p.attrs.CRC32C)
	}
	return nil
}

// verifyStaged is P1: finish the open part (or stage an empty one, so
// that a run without rows still replaces the slot's files) and re-read
// every staged part's size and CRC32C.
func (r *Run) verifyStaged(ctx context.Context) error {
	if r.cur == nil && len(r.parts) == 0 {
		if err := r.openPart(); err != nil {
			return err
		}
	}
	if r.cur != nil {
		if err := r.finishPart(); err != nil {
			return err
		}
	}
	for _, p := range r.parts {
		a, err := r.t.drv.Attrs(ctx, p.key)
		if err != nil {
			return fmt.Errorf("verify staged part %d: %w", p.index, err)
		}
		if err := r.sameBytes(p.key, a, p); err != nil {
			return err
		}
	}
	return nil
}

// listSlot starts P2: the slot's table files now, by key, with the
// generation each copy's precondition names.
func (r *Run) listSlot(ctx context.Context) (map[string]int64, error) {
	existing, err := r.t.drv.List(ctx, tableDir(r.slot)+r.name+"-part-")
	if err != nil {
		return nil, fmt.Errorf("list the slot's files: %w", err)
	}
	listed := make(map[string]int64, len(existing))
	for _, o := range existing {
		listed[o.Key] = o.Generation
	}
	return listed, nil
}

// copyParts is P2: copy each staged part onto the slot's file of the same
// number, under the precondition that the file is still what listSlot saw.
// It returns the files copied so far, also on an error, and the step that
// failed.
func (r *Run) copyParts(ctx context.Context, listed map[string]int64) ([]FileInfo, string, error) {
	d := r.t.drv
	files := make([]FileInfo, 0, len(r.parts))
	for _, p := range r.parts {
		dst := tableKey(r.slot, r.name, p.index)
		step := fmt.Sprintf("copy part %d", p.index)
		cond := precondition{DoesNotExist: true}
		if gen, ok := listed[dst]; ok {
			cond = precondition{GenerationMatch: gen}
		}
		a, err := d.Copy(ctx, dst, p.key, cond)
		if errors.Is(err, errPrecondition) {
			// A retried copy whose first attempt succeeded finds its own
			// result; anything else means someone else changed the file.
			cur, aerr := d.Attrs(ctx, dst)
			if aerr != nil || r.sameBytes(dst, cur, p) != nil {
				return files, step, fmt.Errorf("%w (the file changed after this run listed it: is another run of %s publishing?)", err, r.name)
			}
			a, err = cur, nil
		}
		if err != nil {
			return files, step, err
		}
		if err := r.sameBytes(dst, a, p); err != nil {
			return files, step, err
		}
		files = append(files, FileInfo{Path: d.Location(dst), Rows: p.rows, Bytes: a.Size, CRC32C: a.CRC32C})
		step = fmt.Sprintf("published part %d", p.index)
		if err := r.step(step); err != nil {
			return files, step, err
		}
	}
	return files, "", nil
}

// deleteExtras is P3: delete the listed files of the slot this run did not
// write (parts beyond its count, left by an earlier run with more parts).
func (r *Run) deleteExtras(ctx context.Context, listed map[string]int64) error {
	written := make(map[string]bool, len(r.parts))
	for _, p := range r.parts {
		written[tableKey(r.slot, r.name, p.index)] = true
	}
	for key, gen := range listed {
		if written[key] {
			continue
		}
		err := r.t.drv.Delete(ctx, key, precondition{GenerationMatch: gen})
		if err != nil && !errors.Is(err, errNotExist) {
			return fmt.Errorf("remove the previous run's extra part: %w", err)
		}
	}
	return nil
}

// writeManifest is P4: the slot's files, one location a line.
func (r *Run) writeManifest(ctx context.Context, files []FileInfo) error {
	var buf bytes.Buffer
	for _, f := range files {
		buf.WriteString(f.Path)
		buf.WriteByte('\n')
	}
	if err := r.t.replace(ctx, manifestKey(r.slot, r.name), buf.Bytes(), "text/plain"); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// dropStaging is P5. A failure only leaves litter for the next Begin. The
// owner marker stays, naming this run as the slot's last writer.
func (r *Run) dropStaging(ctx context.Context) {
	for _, p := range r.parts {
		r.t.drv.Delete(ctx, p.key, precondition{}) //nolint:errcheck // best effort, see above
	}
}

// replace writes key with body, replacing the generation it has now.
func (t *Table) replace(ctx context.Context, key string, body []byte, contentType string) error {
	cond := precondition{DoesNotExist: true}
	a, err := t.drv.Attrs(ctx, key)
	switch {
	case err == nil:
		cond = precondition{GenerationMatch: a.Generation}
	case !errors.Is(err, errNotExist):
		return err
	}
	return t.put(ctx, key, body, writerOptions{Cond: cond, ContentType: contentType})
}

func (t *Table) put(ctx context.Context, key string, body []byte, opts writerOptions) error {
	return t.write(ctx, key, opts, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	})
}

// write creates the object key with what body writes to it; an error of
// body's discards the object.
func (t *Table) write(ctx context.Context, key string, opts writerOptions, body func(io.Writer) error) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := t.drv.NewWriter(wctx, key, opts)
	if err != nil {
		return err
	}
	if err := body(w); err != nil {
		cancel()
		w.Close() //nolint:errcheck // cancelled: discards the object
		return err
	}
	_, err = w.Close()
	return err
}

// Abort cancels the run's in-flight upload and removes its staging, best
// effort, using ctx for the removals: pass one that is still live (e.g.
// context.WithoutCancel of the cancelled one, with a timeout). The table
// is never touched. After a successful Publish it does nothing, so it can
// be deferred.
func (r *Run) Abort(ctx context.Context) error {
	r.cancel() // first, without the lock: it unblocks a Write in progress
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != runOpen {
		return nil
	}
	r.state = runAborted
	defer r.releaseSlot(ctx)
	if r.cur != nil {
		r.cur.w.Close() //nolint:errcheck // cancelled: discards the object
		r.cur = nil
	}
	objs, err := r.t.drv.List(ctx, stagingSlotDir(r.name)+r.runID+"/")
	if err != nil {
		return fmt.Errorf("abort %s: %w", r.name, err)
	}
	var errs []error
	for _, o := range objs {
		if err := r.t.drv.Delete(ctx, o.Key, precondition{}); err != nil && !errors.Is(err, errNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("abort %s: remove staging (a later run removes it): %w", r.name, err)
	}
	return nil
}

// WriteReport stores the run report as
// _runs/dt=YYYY-MM-DD/<lt>-shard-<iii>-of-<nnn>-<run_id>.json and returns
// its location. Call it last, after Publish (or instead of it, for a run
// that commits nothing). The name is unique to the run, so a retry
// rewrites only this run's report.
func (t *Table) WriteReport(ctx context.Context, slot Slot, runID string, report []byte) (string, error) {
	name, err := slot.name()
	if err != nil {
		return "", err
	}
	if err := checkRunID(runID); err != nil {
		return "", err
	}
	key := reportKey(slot, name, runID)
	if err := t.put(ctx, key, report, writerOptions{ContentType: "application/json"}); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	return t.drv.Location(key), nil
}
