package extract

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxSessionIDBytes is the longest session ID that is sent. Real IDs are
	// 24 hex digits; anything near this length is garbage.
	MaxSessionIDBytes = 128
	// maxLineBytes bounds what is read of one physical line; the rest of an
	// overlong line is skipped, not buffered.
	maxLineBytes = 64 << 10
	// maxInvalidKept bounds the invalid lines kept for the report; the rest
	// are counted in SessionList.InvalidOmitted.
	maxInvalidKept = 1000
	// shownValueBytes is how much of a bad line an InvalidLine shows.
	shownValueBytes = 64
)

// SessionList is a parsed session list. Its IDs are held compactly: a list
// of a million IDs is held for a whole run. A lowercase hex ID of even
// length (VideoSDK's are 24 digits) takes len(id)/2+4 bytes, any other
// len(id)+4.
type SessionList struct {
	ids        idArena
	Invalid    []InvalidLine // every line that was not a plausible ID
	Duplicates int           // lines dropped as repeats of an earlier ID
	// InvalidOmitted counts invalid lines beyond the first 1000, which are
	// not kept.
	InvalidOmitted int
}

// Len is the number of valid, distinct IDs.
func (l *SessionList) Len() int { return len(l.ids.ends) }

// ID is the i-th valid, distinct ID in first-seen order. A hex ID is
// spelled out again, in a new string.
func (l *SessionList) ID(i int) string { return l.ids.sealed(i) }

// All yields the valid, distinct IDs in first-seen order.
func (l *SessionList) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range l.Len() {
			if !yield(l.ID(i)) {
				return
			}
		}
	}
}

// ReadSessionList parses a session list: one ID per line, spaces and one
// pair of matching quotes trimmed,
// blank lines and lines starting with '#' skipped, repeats dropped (the
// first kept, the rest counted). Lines that are not plausible IDs (over
// MaxSessionIDBytes, control characters, invalid UTF-8, overlong) and valid
// IDs beyond maxIDs (0 = no limit) are reported in Invalid and not sent. An
// empty list is not an error; the error is for a failed read, or for IDs
// that together exceed 4 GiB.
func ReadSessionList(r io.Reader, maxIDs int) (SessionList, error) {
	var list SessionList
	seen := newIDSet(&list.ids)
	br := bufio.NewReaderSize(r, maxLineBytes)
	invalid := func(line int, value []byte, reason string) {
		if len(list.Invalid) >= maxInvalidKept {
			list.InvalidOmitted++
			return
		}
		list.Invalid = append(list.Invalid, InvalidLine{Line: line, Value: showValue(value), Reason: reason})
	}
	for n := 1; ; n++ {
		raw, overlong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return list, fmt.Errorf("read session list at line %d: %w", n, err)
		}
		if len(raw) == 0 && errors.Is(err, io.EOF) {
			list.ids.seal()
			return list, nil
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\ufeff")) // a byte-order mark from an editor
		}
		trimmed := bytes.TrimSpace(raw)
		line := unquote(trimmed)
		switch {
		case overlong:
			invalid(n, line, fmt.Sprintf("line of %d KiB or more", maxLineBytes>>10))
		case len(trimmed) == 0 || trimmed[0] == '#':
		case implausible(string(line)) != "":
			invalid(n, line, implausible(string(line)))
		default:
			i, ok := seen.find(line)
			switch {
			case ok:
				list.Duplicates++
			case maxIDs > 0 && list.Len() >= maxIDs:
				invalid(n, line, fmt.Sprintf("session list exceeds %d IDs", maxIDs))
			default:
				if err := seen.insert(i, line); err != nil {
					return list, fmt.Errorf("read session list at line %d: %w", n, err)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			list.ids.seal()
			return list, nil
		}
	}
}

// arenaChunk is the size of the arena's chunks. An ID never spans two, so a
// chunk ends with fewer than MaxSessionIDBytes unused bytes.
const arenaChunk = 64 << 10

// idArena holds IDs back to back in strings of arenaChunk bytes, with each
// ID's end offset: no allocation and no string header per ID. A lowercase
// hex ID of even length is held as the bytes it spells, half its length,
// and marked in packed; the mark keeps it apart from a held byte-for-byte
// ID with the same bytes. The open chunk is a []byte until it is sealed.
type idArena struct {
	chunks []string // sealed chunks
	open   []byte   // the chunk being filled, len(chunks) by index
	ends   []uint32 // end offset of each ID, counted across chunks
	packed []uint64 // bit i: the i-th ID is held as the bytes its hex spells
}

// span is where the i-th ID lies: in chunk k, from start to end within it.
func (a *idArena) span(i int) (k, start, end int) {
	e := int(a.ends[i])
	k = (e - 1) / arenaChunk
	s := k * arenaChunk
	if i > 0 && int(a.ends[i-1]) > s {
		s = int(a.ends[i-1])
	}
	return k, s - k*arenaChunk, e - k*arenaChunk
}

func (a *idArena) isPacked(i int) bool { return a.packed[i/64]&(1<<(i%64)) != 0 }

// sealed is the i-th ID once its chunk is sealed.
func (a *idArena) sealed(i int) string {
	k, start, end := a.span(i)
	held := a.chunks[k][start:end]
	if !a.isPacked(i) {
		return held
	}
	var buf [MaxSessionIDBytes]byte
	return string(appendHex(buf[:0], held))
}

// equal reports whether the i-th ID is id, sealed or not.
func (a *idArena) equal(i int, id []byte) bool {
	if a.isPacked(i) != packable(id) {
		return false
	}
	if a.isPacked(i) {
		var buf [MaxSessionIDBytes / 2]byte
		n, _ := hex.Decode(buf[:], id)
		id = buf[:n]
	}
	k, start, end := a.span(i)
	if k < len(a.chunks) {
		return a.chunks[k][start:end] == string(id)
	}
	return bytes.Equal(a.open[start:end], id)
}

// hash of the i-th ID as read, sealed or not.
func (a *idArena) hash(seed maphash.Seed, i int) uint64 {
	k, start, end := a.span(i)
	var buf [MaxSessionIDBytes]byte
	switch {
	case k < len(a.chunks) && a.isPacked(i):
		return maphash.Bytes(seed, appendHex(buf[:0], a.chunks[k][start:end]))
	case k < len(a.chunks):
		return maphash.String(seed, a.chunks[k][start:end])
	case a.isPacked(i):
		return maphash.Bytes(seed, appendHex(buf[:0], a.open[start:end]))
	}
	return maphash.Bytes(seed, a.open[start:end])
}

const hexDigits = "0123456789abcdef"

// appendHex appends the lowercase hex spelling of held to dst.
func appendHex[T string | []byte](dst []byte, held T) []byte {
	for j := range len(held) {
		dst = append(dst, hexDigits[held[j]>>4], hexDigits[held[j]&15])
	}
	return dst
}

// packable reports whether id is held as the bytes its hex spells: even
// length and lowercase hex digits only, so that spelling the bytes out
// again gives id back.
func packable(id []byte) bool {
	if len(id) == 0 || len(id)%2 != 0 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (a *idArena) add(id []byte) error {
	pack := packable(id)
	size := len(id)
	if pack {
		size /= 2
	}
	if len(a.open)+size > arenaChunk {
		a.seal()
	}
	end := len(a.chunks)*arenaChunk + len(a.open) + size
	if end > math.MaxUint32 {
		return errors.New("session IDs exceed 4 GiB")
	}
	if a.open == nil {
		a.open = make([]byte, 0, arenaChunk)
	}
	i := len(a.ends)
	if i%64 == 0 {
		a.packed = append(a.packed, 0)
	}
	if pack {
		a.open, _ = hex.AppendDecode(a.open, id) // packable: valid hex
		a.packed[i/64] |= 1 << (i % 64)
	} else {
		a.open = append(a.open, id...)
	}
	a.ends = append(a.ends, uint32(end))
	return nil
}

// seal turns the open chunk, if any, into a string.
func (a *idArena) seal() {
	if len(a.open) > 0 {
		a.chunks = append(a.chunks, string(a.open))
		a.open = a.open[:0]
	}
}

// idSet finds IDs in an arena: an open-addressing hash table of ID indexes
// (plus one; 0 is empty), at most half full, about 8–16 bytes per ID while
// the list is read and dropped with it. The seed is random, so no list can
// be built to collide.
type idSet struct {
	a     *idArena
	seed  maphash.Seed
	slots []uint32
}

func newIDSet(a *idArena) *idSet {
	return &idSet{a: a, seed: maphash.MakeSeed(), slots: make([]uint32, 1024)}
}

// find returns whether id is in the set and, if not, the slot to insert it.
func (s *idSet) find(id []byte) (slot int, ok bool) {
	mask := len(s.slots) - 1
	for j := int(maphash.Bytes(s.seed, id)) & mask; ; j = (j + 1) & mask {
		v := s.slots[j]
		if v == 0 {
			return j, false
		}
		if s.a.equal(int(v-1), id) {
			return j, true
		}
	}
}

// insert appends id to the arena and records it in slot, which find
// returned for it.
func (s *idSet) insert(slot int, id []byte) error {
	if err := s.a.add(id); err != nil {
		return err
	}
	n := len(s.a.ends)
	s.slots[slot] = uint32(n)
	if 2*n > len(s.slots) {
		s.grow()
	}
	return nil
}

func (s *idSet) grow() {
	s.slots = make([]uint32, 2*len(s.slots))
	mask := len(s.slots) - 1
	for i := range s.a.ends {
		j := int(s.a.hash(s.seed, i)) & mask
		for s.slots[j] != 0 {
			j = (j + 1) & mask
		}
		s.slots[j] = uint32(i + 1)
	}
}

// unquote strips one pair of matching quotes ("…" or '…') around a line,
// as a list exported from a spreadsheet or a JSON array has them, and the
// spaces inside: a quote is never part of a session ID.
func unquote(line []byte) []byte {
	if len(line) >= 2 && (line[0] == '"' || line[0] == '\'') && line[len(line)-1] == line[0] {
		return bytes.TrimSpace(line[1 : len(line)-1])
	}
	return line
}

// readLine returns one line without its '\n'. A line longer than the reader's
// buffer comes back as its first maxLineBytes bytes with overlong set; the
// rest of it is discarded.
func readLine(br *bufio.Reader) (line []byte, overlong bool, err error) {
	line, err = br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		line = bytes.Clone(line[:min(len(line), shownValueBytes)])
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return line, true, err
	}
	return bytes.TrimSuffix(line, []byte("\n")), false, err
}

// showValue quotes a bad line for a report, shortened, with every control
// character and invalid byte escaped.
func showValue(b []byte) string {
	if len(b) <= shownValueBytes {
		return strconv.Quote(string(b))
	}
	cut := shownValueBytes
	for cut > shownValueBytes-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + "…"
}

// implausible says why id cannot be a session ID, or "" if it can be.
func implausible(id string) string {
	switch {
	case id == "":
		return "empty"
	case !utf8.ValidString(id):
		return "invalid UTF-8"
	case len(id) > MaxSessionIDBytes:
		return fmt.Sprintf("longer than %d bytes", MaxSessionIDBytes)
	case strings.ContainsFunc(id, unicode.IsControl):
		return "control character"
	}
	return ""
}
