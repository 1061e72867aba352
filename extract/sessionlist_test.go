package extract

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadSessionList(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name       string
		in         string
		maxIDs     int
		wantIDs    []string
		wantDups   int
		wantBad    []InvalidLine
		wantOmited int
	}{
		{name: "empty", in: ""},
		{name: "blank and comments only", in: "\n  \n# a comment\n\t\n#x\n"},
		{
			name:    "trims and keeps order",
			in:      "  b  \r\na\n\tc\t\n",
			wantIDs: []string{"b", "a", "c"},
		},
		{
			name:     "duplicates keep the first",
			in:       "a\nb\na\n a \nb\n",
			wantIDs:  []string{"a", "b"},
			wantDups: 3,
		},
		{name: "no final newline", in: "a\nb", wantIDs: []string{"a", "b"}},
		{
			name:     "matching quotes are not part of an ID",
			in:       "\"a\"\n'b'\n \" c \" \n\"a\n\"\"\n'd\"\n",
			wantIDs:  []string{"a", "b", "c", "\"a", "'d\""},
			wantBad:  []InvalidLine{{Line: 5, Value: `""`, Reason: "empty"}},
			wantDups: 0,
		},
		{name: "byte order mark", in: "\ufeffa\nb\n", wantIDs: []string{"a", "b"}},
		{
			// Lowercase hex of even length is held as the bytes it spells;
			// neither case, length nor those bytes as text may merge IDs.
			name:     "hex IDs stay apart from their look-alikes",
			in:       "6176a1b2c3d4e5f601234567\n6176A1B2C3D4E5F601234567\nc2ab\n\u00ab\nabc\nab\n0ab\n6176a1b2c3d4e5f601234567\nc2ab\n",
			wantIDs:  []string{"6176a1b2c3d4e5f601234567", "6176A1B2C3D4E5F601234567", "c2ab", "\u00ab", "abc", "ab", "0ab"},
			wantDups: 2,
		},
		{
			name:    "implausible IDs",
			in:      "ok1\n" + long + "\nnul\x00byte\nbad\xffutf8\ntab\tinside\nok2\ndel\x7f\n",
			wantIDs: []string{"ok1", "ok2"},
			wantBad: []InvalidLine{
				{Line: 2, Value: `"` + long[:64] + `"…`, Reason: "longer than 128 bytes"},
				{Line: 3, Value: `"nul\x00byte"`, Reason: "control character"},
				{Line: 4, Value: `"bad\xffutf8"`, Reason: "invalid UTF-8"},
				{Line: 5, Value: `"tab\tinside"`, Reason: "control character"},
				{Line: 7, Value: `"del\x7f"`, Reason: "control character"},
			},
		},
		{
			name:    "exactly 128 bytes is fine",
			in:      long[:128] + "\n",
			wantIDs: []string{long[:128]},
		},
		{
			name:    "unicode IDs are plausible",
			in:      "会议-1\n",
			wantIDs: []string{"会议-1"},
		},
		{
			name:    "overlong physical line",
			in:      "a\n" + strings.Repeat("y", 200<<10) + "\nb\n",
			wantIDs: []string{"a", "b"},
			wantBad: []InvalidLine{{Line: 2, Value: `"` + strings.Repeat("y", 64) + `"`, Reason: "line of 64 KiB or more"}},
		},
		{
			name:    "overlong last line without newline",
			in:      "a\n" + strings.Repeat("z", 100<<10),
			wantIDs: []string{"a"},
			wantBad: []InvalidLine{{Line: 2, Value: `"` + strings.Repeat("z", 64) + `"`, Reason: "line of 64 KiB or more"}},
		},
		{
			name:     "more than maxIDs",
			in:       "a\nb\na\nc\nd\n",
			maxIDs:   2,
			wantIDs:  []string{"a", "b"},
			wantDups: 1,
			wantBad: []InvalidLine{
				{Line: 4, Value: `"c"`, Reason: "session list exceeds 2 IDs"},
				{Line: 5, Value: `"d"`, Reason: "session list exceeds 2 IDs"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSessionList(strings.NewReader(tt.in), tt.maxIDs)
			if err != nil {
				t.Fatal(err)
			}
			if ids := slices.Collect(got.All()); !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("IDs = %q, want %q", ids, tt.wantIDs)
			}
			if got.Duplicates != tt.wantDups {
				t.Errorf("Duplicates = %d, want %d", got.Duplicates, tt.wantDups)
			}
			if !slices.Equal(got.Invalid, tt.wantBad) {
				t.Errorf("Invalid =\n%+v\nwant\n%+v", got.Invalid, tt.wantBad)
			}
			if got.InvalidOmitted != tt.wantOmited {
				t.Errorf("InvalidOmitted = %d, want %d", got.InvalidOmitted, tt.wantOmited)
			}
		})
	}
}

func TestReadSessionListCapsInvalid(t *testing.T) {
	var b strings.Builder
	for range 1500 {
		b.WriteString("bad\x01\n")
	}
	b.WriteString("good\n")
	got, err := ReadSessionList(strings.NewReader(b.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Invalid) != 1000 || got.InvalidOmitted != 500 {
		t.Errorf("kept %d invalid, omitted %d; want 1000 and 500", len(got.Invalid), got.InvalidOmitted)
	}
	if got.Len() != 1 || got.ID(0) != "good" {
		t.Errorf("IDs = %q, want [good]", slices.Collect(got.All()))
	}
	if got.Invalid[999].Line != 1000 {
		t.Errorf("last kept line = %d, want 1000", got.Invalid[999].Line)
	}
}

func TestReadSessionListReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := ReadSessionList(io.MultiReader(strings.NewReader("a\nb\n"), iotest.ErrReader(boom)), 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
}

// TestReadSessionListManyIDs checks the compact set against a map: IDs of
// every length over many arena chunks and table growths, repeats far apart.
func TestReadSessionListManyIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in strings.Builder
	var want []string
	seen := map[string]bool{}
	dups := 0
	for range 100_000 {
		var id string
		if len(want) > 0 && rng.IntN(4) == 0 {
			id = want[rng.IntN(len(want))]
		} else {
			id = strings.Repeat(fmt.Sprintf("%016x", rng.Uint64()), MaxSessionIDBytes/16)[:1+rng.IntN(MaxSessionIDBytes)]
		}
		in.WriteString(id + "\n")
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		want = append(want, id)
	}
	got, err := ReadSessionList(strings.NewReader(in.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != len(want) || got.Duplicates != dups || len(got.Invalid) != 0 {
		t.Fatalf("%d IDs, %d duplicates, %d invalid; want %d, %d, 0", got.Len(), got.Duplicates, len(got.Invalid), len(want), dups)
	}
	for i, id := range want {
		if got.ID(i) != id {
			t.Fatalf("ID(%d) = %q, want %q", i, got.ID(i), id)
		}
	}
}

// TestHexIDsAreHeldInHalf: a list of VideoSDK-like IDs (24 lowercase hex
// digits) holds 12 bytes of each, besides its 4-byte offset.
func TestHexIDsAreHeldInHalf(t *testing.T) {
	const n = 50_000
	id := func(i int) string { return fmt.Sprintf("%08x%016x", 0x6176a1b2+i, uint64(i)*0x9e3779b97f4a7c15) }
	var in strings.Builder
	for i := range n {
		in.WriteString(id(i) + "\n")
	}
	l, err := ReadSessionList(strings.NewReader(in.String()), 0)
	if err != nil || l.Len() != n {
		t.Fatalf("%d IDs, err %v", l.Len(), err)
	}
	held := len(l.ids.open)
	for _, c := range l.ids.chunks {
		held += len(c)
	}
	if held != 12*n {
		t.Errorf("%d bytes hold %d IDs of 24 hex digits, want %d", held, n, 12*n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if got := l.ID(i); got != id(i) {
			t.Errorf("ID(%d) = %q, want %q", i, got, id(i))
		}
	}
}
