package extract

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

// ReadSessionList parses a session list: one ID per line, spaces and one
// pair of matching quotes trimmed,
// blank lines and lines starting with '#' skipped, repeats dropped (the
// first kept, the rest counted). Lines that are not plausible IDs (over
// MaxSessionIDBytes, control characters, invalid UTF-8, overlong) and valid
// IDs beyond maxIDs (0 = no limit) are reported in Invalid and not sent. An
// empty list is not an error; the error is only for a failed read.
func ReadSessionList(r io.Reader, maxIDs int) (SessionList, error) {
	var list SessionList
	seen := make(map[string]struct{})
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
			id := string(line)
			if _, dup := seen[id]; dup {
				list.Duplicates++
			} else if maxIDs > 0 && len(list.IDs) >= maxIDs {
				invalid(n, line, fmt.Sprintf("session list exceeds %d IDs", maxIDs))
			} else {
				seen[id] = struct{}{}
				list.IDs = append(list.IDs, id)
			}
		}
		if errors.Is(err, io.EOF) {
			return list, nil
		}
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
