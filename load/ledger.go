package load

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"
)

// The ledger of complete sessions: see "Ledger" in doc.go for the layout,
// the protocol and what a crash between any two steps leaves.

const (
	ledgerFolder = "_ledger/"
	// ledgerHeader is the first line of every ledger object; a new format
	// gets a new version and a reader that refuses what it does not know.
	ledgerHeader      = "participants_etl ledger v1"
	ledgerContentType = "application/gzip"
	// ledgerAttempts bounds the read-modify-write loop of one ledger object.
	// A conflict means another writer of the same shard and month got in
	// between; each attempt re-reads, so a few are plenty.
	ledgerAttempts = 10
	// ledgerReaders is how many ledger objects are read at once.
	ledgerReaders = 8
)

// ledgerKey is the object holding the completions a shard recorded at
// logical times in month: _ledger/month=YYYY-MM/shard-<iii>-of-<nnn>.txt.gz.
func ledgerKey(s Slot) string {
	return fmt.Sprintf("%smonth=%s/shard-%03d-of-%03d.txt.gz", ledgerFolder, s.LogicalTime.UTC().Format("2006-01"), s.ShardIndex, s.ShardCount)
}

// ledgerMonth is the month a ledger key names ("2026-11"), or "" if the key
// is not a ledger object's.
func ledgerMonth(key string) string {
	rest, ok := strings.CutPrefix(key, ledgerFolder+"month=")
	if !ok {
		return ""
	}
	month, name, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(name, "shard-") || !strings.HasSuffix(name, ".txt.gz") {
		return ""
	}
	if _, err := time.Parse("2006-01", month); err != nil {
		return ""
	}
	return month
}

// Ledger is the set of complete sessions as read at one moment: for each
// session, the earliest logical time at which a run recorded it complete.
// It is read-only and safe for concurrent use.
//
// IDs are held sorted in one string (no per-ID allocation), with their end
// offsets and an index into the distinct logical times: about len(id)+8
// bytes per session.
type Ledger struct {
	ids   string   // the session IDs, sorted and concatenated
	ends  []uint32 // ids[ends[i-1]:ends[i]] is the i-th ID
	at    []uint32 // index into times of the i-th ID's completion
	times []int64  // distinct logical times, unix seconds
}

// Len is the number of sessions the ledger holds complete.
func (l *Ledger) Len() int {
	if l == nil {
		return 0
	}
	return len(l.ends)
}

func (l *Ledger) id(i int) string {
	start := uint32(0)
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.ids[start:l.ends[i]]
}

// CompleteBefore reports whether a run recorded id complete at a logical
// time strictly earlier than logical (compared to the second, as slots
// are). Only such a session may be skipped by a run at logical: its
// complete rows are in an earlier slot. Completions recorded at logical
// itself or later do not count, so a rerun of a tick fetches the same
// sessions as the first run did. A nil *Ledger holds nothing.
func (l *Ledger) CompleteBefore(id string, logical time.Time) bool {
	if l == nil {
		return false // no ledger read: a full run skips nothing
	}
	lo, hi := 0, len(l.ends)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.id(m) < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(l.ends) || l.id(lo) != id {
		return false
	}
	return l.times[l.at[lo]] < logical.Unix()
}

// ReadLedger reads the whole ledger: every object under _ledger/, whatever
// shard count wrote it. Call it at the start of a run, before extracting.
// An unreadable or malformed ledger object is an error that names it (see
// doc.go for what to do about one).
func (t *Table) ReadLedger(ctx context.Context) (*Ledger, error) {
	return t.ReadLedgerFor(ctx, nil)
}

// ReadLedgerFor reads the ledger as ReadLedger does, but keeps only the
// sessions keep accepts (nil keeps all): a run passes the IDs of its list,
// so that what it holds grows with the list, not with the ledger's
// history. Objects are decoded as they stream in and each line is filtered
// as it is read, so what is held is the kept IDs and a few buffers per
// object being read, however large the objects. keep is called from
// several goroutines at once and must not retain id.
func (t *Table) ReadLedgerFor(ctx context.Context, keep func(id string) bool) (*Ledger, error) {
	objs, err := t.drv.List(ctx, ledgerFolder)
	if err != nil {
		return nil, fmt.Errorf("read ledger: list: %w", err)
	}
	objs = slices.DeleteFunc(objs, func(o objectAttrs) bool { return ledgerMonth(o.Key) == "" })
	parts := make([]*ledgerPart, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(ledgerReaders)
	for i, o := range objs {
		g.Go(func() error {
			p, err := t.readLedgerPart(gctx, o.Key, keep)
			if err != nil {
				return fmt.Errorf("read ledger: %w", err)
			}
			parts[i] = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return buildLedger(parts)
}

func buildLedger(parts []*ledgerPart) (*Ledger, error) {
	type entry struct {
		id string
		at int64
	}
	n := 0
	for _, p := range parts {
		for _, ids := range p.groups {
			n += len(ids)
		}
	}
	entries := make([]entry, 0, n)
	for _, p := range parts {
		for at, ids := range p.groups {
			for _, id := range ids {
				entries = append(entries, entry{id, at})
			}
		}
		p.groups = nil // the entries now hold what is needed of it
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.at, b.at) // the earliest completion first
	})
	size, unique := 0, 0
	for i, e := range entries {
		if i == 0 || e.id != entries[i-1].id {
			size += len(e.id)
			unique++
		}
	}
	if size > math.MaxUint32 {
		return nil, fmt.Errorf("read ledger: %d bytes of session IDs: more than this reader holds (4 GiB)", size)
	}
	var sb strings.Builder
	sb.Grow(size)
	l := &Ledger{ends: make([]uint32, 0, unique), at: make([]uint32, 0, unique)}
	timeIndex := map[int64]uint32{}
	for i, e := range entries {
		if i > 0 && e.id == entries[i-1].id {
			continue // a later completion of the same session
		}
		sb.WriteString(e.id)
		ti, ok := timeIndex[e.at]
		if !ok {
			ti = uint32(len(l.times))
			timeIndex[e.at] = ti
			l.times = append(l.times, e.at)
		}
		l.ends = append(l.ends, uint32(sb.Len()))
		l.at = append(l.at, ti)
	}
	l.ids = sb.String()
	return l, nil
}

// ledgerPart is one ledger object decoded: the sessions completed at each
// logical time (unix seconds), each list sorted, without duplicates.
type ledgerPart struct {
	groups map[int64][]string
}

// readLedgerPart reads and decodes the ledger object key, keeping the IDs
// keep accepts (nil keeps all).
func (t *Table) readLedgerPart(ctx context.Context, key string, keep func(id string) bool) (*ledgerPart, error) {
	var p *ledgerPart
	err := t.readLedgerText(ctx, key, func(r io.Reader) (err error) {
		p, err = decodeLedgerPart(r, ledgerMonth(key), keep)
		return err
	})
	return p, err
}

// sourceReader remembers the first error other than io.EOF of r.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// readLedgerText opens the ledger object key and hands read its text,
// ungzipped, as it streams in. An error of the store (network,
// cancellation) is returned as such; one of gzip or of read is
// ErrCorruptLedger, naming the object.
func (t *Table) readLedgerText(ctx context.Context, key string, read func(r io.Reader) error) error {
	r, err := t.drv.NewReader(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	src := &sourceReader{r: r}
	zr, err := gzip.NewReader(bufio.NewReaderSize(src, 256<<10))
	if err == nil {
		err = read(zr)
	}
	if src.err != nil {
		return fmt.Errorf("read %s: %w", t.drv.Location(key), src.err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", t.drv.Location(key), ErrCorruptLedger, err)
	}
	return nil
}

// decodeLedgerPart decodes a ledger object's text as scanLedger reads it,
// keeping the IDs keep accepts (nil keeps all): what it holds is the kept
// IDs, however large the object.
func decodeLedgerPart(r io.Reader, month string, keep func(id string) bool) (*ledgerPart, error) {
	p := &ledgerPart{groups: map[int64][]string{}}
	var (
		at  int64
		ids []string
	)
	flush := func() {
		if len(ids) > 0 {
			p.groups[at] = slices.Clip(ids)
		}
	}
	err := scanLedger(r, month, func(t int64) {
		flush()
		at, ids = t, nil
	}, func(id string) {
		if keep == nil || keep(id) {
			ids = append(ids, id)
		}
	})
	if err != nil {
		return nil, err
	}
	flush()
	return p, nil
}

// scanLedger reads a ledger object's text from r to its end, a line at a
// time, calling group at each logical time and id for each of its session
// IDs, in order. The format (see doc.go): the header line, then for each
// logical time in increasing order a line of a tab and the time, then its
// session IDs, one a line, increasing; IDs hold no control characters, so
// a line starting with a tab can only be a logical time. Every rule is
// checked on every line, so a damaged or foreign object is refused rather
// than half believed.
func scanLedger(r io.Reader, month string, group func(at int64), id func(id string)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		long  []byte // a line longer than br's buffer
		at    int64
		prev  string // the group's previous ID
		seen  bool   // a group has started
		empty bool   // the group has no ID yet
	)
	// endGroup refuses a logical time without sessions, at line.
	endGroup := func(line int) error {
		if seen && empty {
			return fmt.Errorf("line %d: logical time %s has no sessions", line, time.Unix(at, 0).UTC().Format(LogicalTimeLayout))
		}
		return nil
	}
	for line := 1; ; line++ {
		b, err := readLine(br, &long)
		if err == io.EOF && len(b) == 0 && line > 1 {
			return endGroup(line)
		}
		if err == io.EOF {
			if line == 1 {
				return fmt.Errorf("line 1: want %q", ledgerHeader)
			}
			return errors.New("truncated: the last line has no newline")
		}
		if err != nil {
			return err // gzip's or the store's
		}
		b = b[:len(b)-1] // the newline
		if line == 1 {
			if string(b) != ledgerHeader {
				return fmt.Errorf("line 1: want %q", ledgerHeader)
			}
			continue
		}
		if lt, ok := bytes.CutPrefix(b, []byte{'\t'}); ok {
			if err := endGroup(line); err != nil {
				return err
			}
			tm, err := time.Parse(LogicalTimeLayout, string(lt))
			if err != nil {
				return fmt.Errorf("line %d: logical time %q: want %s", line, lt, LogicalTimeLayout)
			}
			if m := tm.Format("2006-01"); m != month {
				return fmt.Errorf("line %d: logical time %s is not in the object's month %s", line, lt, month)
			}
			if seen && tm.Unix() <= at {
				return fmt.Errorf("line %d: logical time %s not after the previous one", line, lt)
			}
			at, prev, seen, empty = tm.Unix(), "", true, true
			group(at)
			continue
		}
		if !seen {
			return fmt.Errorf("line %d: session ID before any logical time", line)
		}
		s := string(b)
		if err := checkLedgerID(s); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if !empty && s <= prev {
			return fmt.Errorf("line %d: session ID %q out of order", line, s)
		}
		id(s)
		prev, empty = s, false
	}
}

// readLine returns the next line of br with its newline, or what is left
// before the end with io.EOF. A line longer than br's buffer is gathered
// in *long, which is reused.
func readLine(br *bufio.Reader, long *[]byte) ([]byte, error) {
	b, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return b, err
	}
	*long = append((*long)[:0], b...)
	for err == bufio.ErrBufferFull {
		b, err = br.ReadSlice('\n')
		*long = append(*long, b...)
	}
	return *long, err
}

// ledgerEdit is a change to one ledger object, applied as its text
// streams through, so that neither the object nor the change's result is
// ever held whole.
type ledgerEdit struct {
	// replace: the group of logical time at becomes set (sorted, without
	// duplicates; empty removes the group).
	replace bool
	at      int64
	set     []string
	// drop, if not nil, removes the entries it selects.
	drop func(at int64, id string) bool
}

// apply writes to w the ledger text of the object scanned by scan (nil:
// there is none yet) with e applied, and reports whether that changed
// anything and how many entries drop removed. A group drop empties is left
// out; so is its time line. Errors of w are w's to keep (a bufio.Writer's
// are): apply returns scan's.
func (e ledgerEdit) apply(w io.StringWriter, scan func(group func(at int64), id func(id string)) error) (changed bool, dropped int, err error) {
	w.WriteString(ledgerHeader + "\n")
	writeTime := func(at int64) {
		w.WriteString("\t" + time.Unix(at, 0).UTC().Format(LogicalTimeLayout) + "\n")
	}
	setDone := !e.replace
	writeSet := func() {
		if len(e.set) > 0 {
			writeTime(e.at)
		}
		for _, id := range e.set {
			w.WriteString(id)
			w.WriteString("\n")
		}
		setDone = true
	}
	var (
		cur      int64
		pending  bool // cur's time line is not written yet
		replaced bool // cur's group is the one set replaces
		matched  int  // how many of cur's IDs equal set's, in order
		differs  bool // cur's IDs are not set's
	)
	endGroup := func() {
		if replaced && (differs || matched != len(e.set)) {
			changed = true
		}
		replaced = false
	}
	if scan != nil {
		err = scan(func(at int64) {
			endGroup()
			if !setDone && e.at < at {
				changed = changed || len(e.set) > 0 // the group was not there
				writeSet()
			}
			if !setDone && e.at == at {
				writeSet()
				replaced, matched, differs = true, 0, false
			}
			cur, pending = at, true
		}, func(id string) {
			switch {
			case replaced:
				if !differs && matched < len(e.set) && e.set[matched] == id {
					matched++
				} else {
					differs = true
				}
			case e.drop != nil && e.drop(cur, id):
				dropped++
				changed = true
			default:
				if pending {
					writeTime(cur)
					pending = false
				}
				w.WriteString(id)
				w.WriteString("\n")
			}
		})
		if err != nil {
			return false, 0, err
		}
		endGroup()
	}
	if !setDone {
		changed = changed || len(e.set) > 0
		writeSet()
	}
	return changed, dropped, nil
}

// checkLedgerID refuses what the line format cannot hold. Session lists
// (extract.ReadSessionList) never yield such an ID.
func checkLedgerID(id string) error {
	switch {
	case id == "":
		return errors.New("empty session ID")
	case !utf8.ValidString(id):
		return fmt.Errorf("session ID %q: invalid UTF-8", id)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Errorf("session ID %q: control character", id)
	}
	return nil
}

// sortedIDs validates ids and returns them sorted, without duplicates: ids
// itself when it already is (a run's many completions are not copied),
// else a sorted copy.
func sortedIDs(ids []string) ([]string, error) {
	increasing := true
	for i, id := range ids {
		if err := checkLedgerID(id); err != nil {
			return nil, err
		}
		increasing = increasing && (i == 0 || ids[i-1] < id)
	}
	if increasing {
		return ids, nil
	}
	return slices.Compact(slices.Sorted(slices.Values(ids))), nil
}

// updateLedger applies e to the ledger object key by read-modify-write,
// streaming: the object is read and the result written at once, a line at
// a time. An edit that may well change nothing (a retraction, a forget)
// first reads the object alone to find out, and writes only if so; one
// that adds entries writes at once, and the write is discarded if it
// changed nothing after all. The write carries DoesNotExist (there was no
// object) or GenerationMatch (the generation read first), and a conflict
// (another writer of the same object got in between) starts over from a
// fresh read, so no writer's entries are lost. An edit applied to its own
// result changes nothing, so a retried write that did succeed ends there.
// It returns how many entries e's drop removed.
func (t *Table) updateLedger(ctx context.Context, key string, e ledgerEdit) (int, error) {
	month := ledgerMonth(key)
	var err error
	for attempt := 1; attempt <= ledgerAttempts; attempt++ {
		cond := precondition{DoesNotExist: true}
		var scan func(w io.StringWriter) (changed bool, dropped int, err error)
		a, aerr := t.drv.Attrs(ctx, key)
		switch {
		case aerr == nil:
			// Attributes before content: if the object changes in between,
			// the content is newer than the generation and the write fails.
			cond = precondition{GenerationMatch: a.Generation}
			scan = func(w io.StringWriter) (changed bool, dropped int, err error) {
				err = t.readLedgerText(ctx, key, func(r io.Reader) (err error) {
					changed, dropped, err = e.apply(w, func(group func(int64), id func(string)) error {
						return scanLedger(r, month, group, id)
					})
					return err
				})
				return changed, dropped, err
			}
		case errors.Is(aerr, errNotExist):
			scan = func(w io.StringWriter) (bool, int, error) { return e.apply(w, nil) }
		default:
			return 0, aerr
		}
		if !e.replace || len(e.set) == 0 {
			var changed bool
			changed, _, err = scan(discard{})
			if errors.Is(err, errNotExist) {
				continue // deleted in between: start over
			} else if err != nil || !changed {
				return 0, err
			}
		}
		var dropped int
		err = t.write(ctx, key, writerOptions{Cond: cond, ContentType: ledgerContentType}, func(out io.Writer) error {
			// BestSpeed: on hex IDs it stores within a few percent of the
			// default level at a fraction of the CPU (see doc.go).
			zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
			w := bufio.NewWriterSize(zw, 64<<10)
			changed, n, err := scan(w)
			switch {
			case err != nil:
				return err
			case !changed:
				return errUnchanged
			}
			dropped = n
			if err := w.Flush(); err != nil {
				return err
			}
			return zw.Close()
		})
		switch {
		case errors.Is(err, errUnchanged):
			return 0, nil // the write was discarded
		case errors.Is(err, errNotExist):
			continue // deleted between the attributes and the read: start over
		case err == nil || !errors.Is(err, errPrecondition):
			return dropped, err
		}
	}
	return 0, fmt.Errorf("%w (%d attempts, each losing to another writer of %s)", err, ledgerAttempts, t.drv.Location(key))
}

// errUnchanged discards a ledger write that turned out to change nothing.
var errUnchanged = errors.New("ledger object unchanged")

// discard is a StringWriter that writes nowhere.
type discard struct{}

func (discard) WriteString(s string) (int, error) { return len(s), nil }

// RetractComplete is the first half of recording a run's completions:
// call it after the run has written every session and before Run.Publish.
// It removes the completions an earlier run of the same slot recorded, so
// that while the slot's files are replaced, and if the process dies before
// RecordComplete, the ledger claims none of them: a rerun may have lost a
// session (failed, left the list), and a crash in the middle of publishing
// several parts may hide one. The next tick then fetches them again. On
// the first run of a slot it reads one object and writes nothing.
func (t *Table) RetractComplete(ctx context.Context, slot Slot) error {
	if _, err := slot.name(); err != nil {
		return err
	}
	at := slot.LogicalTime.Unix()
	key := ledgerKey(slot)
	_, err := t.updateLedger(ctx, key, ledgerEdit{replace: true, at: at})
	if err != nil {
		return fmt.Errorf("retract ledger entries %s: %w", t.drv.Location(key), err)
	}
	return nil
}

// RecordComplete is the second half: call it after Run.Publish has
// succeeded, with the sessions this run wrote whose every interval has an
// end (never a skipped or failed one). Sorted IDs are taken as they are;
// others are sorted in a copy. They become the slot's completions,
// replacing whatever an earlier run of the slot recorded (a rerun does not
// append). A run that dies before it returns leaves those sessions to be
// fetched again by the next tick.
func (t *Table) RecordComplete(ctx context.Context, slot Slot, complete []string) error {
	if _, err := slot.name(); err != nil {
		return err
	}
	ids, err := sortedIDs(complete)
	if err != nil {
		return fmt.Errorf("record ledger: %w", err)
	}
	at := slot.LogicalTime.Unix()
	key := ledgerKey(slot)
	_, err = t.updateLedger(ctx, key, ledgerEdit{replace: true, at: at, set: ids})
	if err != nil {
		return fmt.Errorf("record ledger %s: %w", t.drv.Location(key), err)
	}
	if s, ok := t.drv.(sweeper); ok {
		// Temporary files of ledger writes killed long ago (local store).
		s.sweep(ctx, ledgerFolder, t.now().Add(-DefaultStaleStaging)) //nolint:errcheck // litter only
	}
	return nil
}

// ForgetSessions removes ids from the whole ledger, whatever logical time
// and shard recorded them, so that the next tick fetches them again (after
// a correction on the API side). It returns how many entries it removed.
// The rows already in the table stay; the refetch appends newer ones, which
// the _latest view prefers.
func (t *Table) ForgetSessions(ctx context.Context, ids []string) (int, error) {
	forget, err := sortedIDs(ids)
	if err != nil {
		return 0, fmt.Errorf("forget sessions: %w", err)
	}
	return t.forget(ctx, func(string) bool { return true }, func(_ int64, id string) bool {
		_, found := slices.BinarySearch(forget, id)
		return found
	})
}

// ForgetCompleted removes from the ledger every completion recorded at a
// logical time in [from, to), in every shard: for a day D, from = D 00:00
// UTC and to = from + 24h. It returns how many entries it removed.
// Deleting the objects under _ledger/month=YYYY-MM/ by hand does the same
// for a whole month.
func (t *Table) ForgetCompleted(ctx context.Context, from, to time.Time) (int, error) {
	lo, hi := from.Unix(), to.Unix()
	if to.Sub(from) <= 0 {
		return 0, fmt.Errorf("forget completions from %s to %s: empty range", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	inRange := func(month string) bool {
		m, _ := time.Parse("2006-01", month)
		return m.Before(to) && m.AddDate(0, 1, 0).After(from)
	}
	return t.forget(ctx, inRange, func(at int64, _ string) bool { return lo <= at && at < hi })
}

// forget removes, from the ledger objects of every month that inMonth
// accepts, the entries drop selects.
func (t *Table) forget(ctx context.Context, inMonth func(month string) bool, drop func(at int64, id string) bool) (int, error) {
	objs, err := t.drv.List(ctx, ledgerFolder)
	if err != nil {
		return 0, fmt.Errorf("forget: list the ledger: %w", err)
	}
	total := 0
	for _, o := range objs {
		if m := ledgerMonth(o.Key); m == "" || !inMonth(m) {
			continue
		}
		removed, err := t.updateLedger(ctx, o.Key, ledgerEdit{drop: drop})
		if err != nil {
			return total, fmt.Errorf("forget in %s: %w", t.drv.Location(o.Key), err)
		}
		total += removed
	}
	return total, nil
}
