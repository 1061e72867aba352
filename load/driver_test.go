package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
)

// TestDriverConformance is the one suite every store passes.
func TestDriverConformance(t *testing.T) {
	runStoreTests(t, []storeTest{
		driverTest("write then read", testWriteRead),
		driverTest("write preconditions", testWritePreconditions),
		driverTest("cancel aborts a write", testCancelAbortsWrite),
		driverTest("list", testList),
		driverTest("copy", testCopy),
		driverTest("delete", testDelete),
	})
}

// driverTest is a storeTest of the table's driver alone.
func driverTest(name string, f func(t *testing.T, b testBackend, d driver, raw func() []string)) storeTest {
	return storeTest{name, func(t *testing.T, b testBackend, tbl *Table, raw func() []string) { f(t, b, tbl.drv, raw) }}
}

// payload is bigger than the 256 KiB test chunk, so GCS uploads take
// several resumable requests.
func payload(seed byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*31) + byte(i>>9)
	}
	return p
}

func put(t *testing.T, d driver, key string, body []byte, cond precondition) (objectAttrs, error) {
	t.Helper()
	w, err := d.NewWriter(context.Background(), key, writerOptions{Cond: cond, ContentType: "application/octet-stream"})
	if err != nil {
		return objectAttrs{}, err
	}
	if _, err := w.Write(body); err != nil {
		return objectAttrs{}, err
	}
	return w.Close()
}

func mustPut(t *testing.T, d driver, key string, body []byte) objectAttrs {
	t.Helper()
	a, err := put(t, d, key, body, precondition{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return a
}

func testWriteRead(t *testing.T, b testBackend, d driver, raw func() []string) {
	ctx := context.Background()
	body := payload(1, 600<<10)
	w, err := d.NewWriter(ctx, "dir/sub/obj.bin", writerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// In pieces, as Parquet arrives.
	for off := 0; off < len(body); off += 100_000 {
		if _, err := w.Write(body[off:min(off+100_000, len(body))]); err != nil {
			t.Fatal(err)
		}
	}
	a, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantCRC := crc32.Checksum(body, castagnoli)
	if a.Key != "dir/sub/obj.bin" || a.Size != int64(len(body)) || a.CRC32C != wantCRC || a.Generation == 0 {
		t.Errorf("Close attrs = %+v, want key dir/sub/obj.bin size %d crc32c %08x and a generation", a, len(body), wantCRC)
	}
	if got := readObject(t, d, "dir/sub/obj.bin"); !bytes.Equal(got, body) {
		t.Errorf("read back %d bytes, differs from the %d written", len(got), len(body))
	}
	st, err := d.Attrs(ctx, "dir/sub/obj.bin")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != a.Size || st.CRC32C != a.CRC32C || st.Generation != a.Generation {
		t.Errorf("Attrs = %+v, Close said %+v", st, a)
	}
	if _, err := d.Attrs(ctx, "dir/sub/missing"); !errors.Is(err, errNotExist) {
		t.Errorf("Attrs of a missing object: %v, want errNotExist", err)
	}
	if _, err := d.NewReader(ctx, "dir/sub/missing"); !errors.Is(err, errNotExist) {
		t.Errorf("NewReader of a missing object: %v, want errNotExist", err)
	}
	if got := raw(); !slices.Equal(got, []string{"dir/sub/obj.bin"}) {
		t.Errorf("store holds %q, want only dir/sub/obj.bin (no temporary files)", got)
	}
}

func testWritePreconditions(t *testing.T, b testBackend, d driver, raw func() []string) {
	first := mustPut(t, d, "o", []byte("first"))
	// DoesNotExist on an existing object: a non-nil Close, object unchanged.
	if _, err := put(t, d, "o", []byte("second"), precondition{DoesNotExist: true}); !errors.Is(err, errPrecondition) {
		t.Errorf("DoesNotExist over an existing object: %v, want errPrecondition", err)
	}
	if got := readObject(t, d, "o"); string(got) != "first" {
		t.Errorf("after a failed write the object holds %q, want %q", got, "first")
	}
	if _, err := put(t, d, "o", []byte("third"), precondition{GenerationMatch: first.Generation + 1}); !errors.Is(err, errPrecondition) {
		t.Errorf("GenerationMatch with a wrong generation: %v, want errPrecondition", err)
	}
	second, err := put(t, d, "o", []byte("fourth"), precondition{GenerationMatch: first.Generation})
	if err != nil {
		t.Fatalf("GenerationMatch with the right generation: %v", err)
	}
	if second.Generation == first.Generation {
		t.Errorf("replacing the object kept generation %d", first.Generation)
	}
	if got := readObject(t, d, "o"); string(got) != "fourth" {
		t.Errorf("object holds %q, want %q", got, "fourth")
	}
	if _, err := put(t, d, "new", []byte("x"), precondition{DoesNotExist: true}); err != nil {
		t.Errorf("DoesNotExist on a new key: %v", err)
	}
	if got := raw(); !slices.Equal(got, []string{"new", "o"}) {
		t.Errorf("store holds %q, want [new o]", got)
	}
}

func testCancelAbortsWrite(t *testing.T, b testBackend, d driver, raw func() []string) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := d.NewWriter(ctx, "aborted/obj", writerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// More than one chunk, so a GCS upload session is under way.
	if _, err := w.Write(payload(2, 700<<10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Write(payload(3, 10)) //nolint:errcheck // may or may not notice yet
	if _, err := w.Close(); err == nil {
		t.Fatal("Close after cancel returned nil: the object would exist")
	}
	if _, err := d.Attrs(context.Background(), "aborted/obj"); !errors.Is(err, errNotExist) {
		t.Errorf("Attrs after an aborted write: %v, want errNotExist", err)
	}
	if got := raw(); len(got) != 0 {
		t.Errorf("an aborted write left %q", got)
	}

	// A writer whose context is cancelled before any byte leaves nothing either.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if w, err := d.NewWriter(ctx2, "never", writerOptions{}); err == nil {
		w.Write([]byte("x")) //nolint:errcheck
		if _, err := w.Close(); err == nil {
			t.Error("Close with a cancelled context returned nil")
		}
	}
	if got := raw(); len(got) != 0 {
		t.Errorf("a cancelled write left %q", got)
	}
}

func testList(t *testing.T, b testBackend, d driver, raw func() []string) {
	ctx := context.Background()
	for i, k := range []string{"a/2", "a/1", "ab/3", "b/4", "a/deep/5"} {
		mustPut(t, d, k, bytes.Repeat([]byte{'x'}, i+1))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/1", "a/2", "a/deep/5"}},
		{"a", []string{"a/1", "a/2", "a/deep/5", "ab/3"}},
		{"a/deep/", []string{"a/deep/5"}},
		{"", []string{"a/1", "a/2", "a/deep/5", "ab/3", "b/4"}},
		{"nothing/", nil},
	}
	for _, tt := range tests {
		got, err := d.List(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		var keys []string
		for _, a := range got {
			keys = append(keys, a.Key)
			if a.Generation == 0 || a.Updated.IsZero() {
				t.Errorf("List(%q): %s has no generation or update time", tt.prefix, a.Key)
			}
		}
		if !slices.Equal(keys, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, keys, tt.want)
		}
	}
	got, _ := d.List(ctx, "b/")
	if len(got) != 1 || got[0].Size != 4 {
		t.Errorf("List(b/) = %+v, want b/4 of 4 bytes", got)
	}
}

func testCopy(t *testing.T, b testBackend, d driver, raw func() []string) {
	ctx := context.Background()
	body := payload(4, 300<<10)
	src := mustPut(t, d, "staging/x", body)
	a, err := d.Copy(ctx, "table/x", "staging/x", precondition{DoesNotExist: true})
	if err != nil {
		t.Fatalf("Copy to a new key: %v", err)
	}
	if a.Size != src.Size || a.CRC32C != src.CRC32C || a.Key != "table/x" {
		t.Errorf("Copy attrs %+v, source %+v", a, src)
	}
	if got := readObject(t, d, "table/x"); !bytes.Equal(got, body) {
		t.Error("copy differs from source")
	}
	if got := readObject(t, d, "staging/x"); !bytes.Equal(got, body) {
		t.Error("source changed by the copy")
	}

	other := mustPut(t, d, "staging/y", []byte("other"))
	_, err = d.Copy(ctx, "table/x", "staging/y", precondition{DoesNotExist: true})
	expectPrecondition(t, b, gapCopyPrecondition, err)
	if err != nil {
		if got := readObject(t, d, "table/x"); !bytes.Equal(got, body) {
			t.Error("a refused copy changed the destination")
		}
	}

	cur, err := d.Attrs(ctx, "table/x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Copy(ctx, "table/x", "staging/y", precondition{GenerationMatch: cur.Generation + 7})
	expectPrecondition(t, b, gapCopyPrecondition, err)

	cur, _ = d.Attrs(ctx, "table/x")
	a, err = d.Copy(ctx, "table/x", "staging/y", precondition{GenerationMatch: cur.Generation})
	if err != nil {
		t.Fatalf("Copy with the right generation: %v", err)
	}
	if a.CRC32C != other.CRC32C {
		t.Errorf("replacing copy has crc32c %08x, want %08x", a.CRC32C, other.CRC32C)
	}
	if got := readObject(t, d, "table/x"); string(got) != "other" {
		t.Errorf("destination holds %q after replace, want %q", got, "other")
	}
	if _, err := d.Copy(ctx, "table/z", "staging/missing", precondition{DoesNotExist: true}); !errors.Is(err, errNotExist) {
		t.Errorf("Copy from a missing source: %v, want errNotExist", err)
	}
	if got := raw(); !slices.Equal(got, []string{"staging/x", "staging/y", "table/x"}) {
		t.Errorf("store holds %q (no temporary names may remain)", got)
	}
}

func testDelete(t *testing.T, b testBackend, d driver, raw func() []string) {
	ctx := context.Background()
	a := mustPut(t, d, "dir/x", []byte("x"))
	mustPut(t, d, "dir/keep", []byte("k"))
	err := d.Delete(ctx, "dir/x", precondition{GenerationMatch: a.Generation + 1})
	expectPrecondition(t, b, gapDeletePrecondition, err)
	if err != nil {
		if err := d.Delete(ctx, "dir/x", precondition{GenerationMatch: a.Generation}); err != nil {
			t.Fatalf("Delete with the right generation: %v", err)
		}
	}
	if _, err := d.Attrs(ctx, "dir/x"); !errors.Is(err, errNotExist) {
		t.Errorf("Attrs after Delete: %v, want errNotExist", err)
	}
	if err := d.Delete(ctx, "dir/x", precondition{}); !errors.Is(err, errNotExist) {
		t.Errorf("Delete of a missing object: %v, want errNotExist", err)
	}
	if got := raw(); !slices.Equal(got, []string{"dir/keep"}) {
		t.Errorf("store holds %q, want [dir/keep]", got)
	}
	if got := fmt.Sprint(readObject(t, d, "dir/keep")); got != fmt.Sprint([]byte("k")) {
		t.Errorf("Delete touched a neighbour")
	}
}
