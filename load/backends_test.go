package load

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

const testBucket = "etl-test"

// testBackend is one store the shared suites run against.
type testBackend struct {
	name string
	// open returns an empty Table and a raw listing of everything the store
	// holds, hidden temporary files included, as keys under the root.
	open func(t *testing.T) (*Table, func() []string)
	// gaps names behaviours the backend is known not to provide, and why.
	// A test that meets one logs it instead of asserting; if the backend
	// does provide it after all, the assertion runs as usual.
	gaps map[string]string
}

const (
	gapCopyPrecondition   = "copy-precondition"
	gapDeletePrecondition = "delete-precondition"
)

func testBackends() []testBackend {
	return []testBackend{
		{name: "local", open: openLocal},
		{name: "gcs", open: openFakeGCS, gaps: map[string]string{
			// fakestorage/object.go rewriteObject creates the destination with
			// backend.NoConditions{}: ifGenerationMatch on a copy is ignored.
			// Real GCS answers 412.
			gapCopyPrecondition: "fake-gcs-server v1.56.1 ignores ifGenerationMatch on rewrite/copy",
			// fakestorage/object.go deleteObject reads only ?generation=,
			// never ifGenerationMatch. Real GCS answers 412.
			gapDeletePrecondition: "fake-gcs-server v1.56.1 ignores ifGenerationMatch on delete",
		}},
	}
}

func openLocal(t *testing.T) (*Table, func() []string) {
	root := t.TempDir()
	tbl, err := Open(context.Background(), root, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tbl, func() []string {
		var keys []string
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(root, p)
				keys = append(keys, filepath.ToSlash(rel))
			}
			return nil
		})
		sort.Strings(keys)
		return keys
	}
}

func newFakeGCS(t *testing.T) *fakestorage.Server {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	return srv
}

// fastRetries keep tests quick; the policy is the production one.
var fastRetries = OpenOptions{ChunkSize: 256 << 10, RetryInitialBackoff: time.Millisecond, RetryMaxBackoff: 20 * time.Millisecond}

func openFakeGCS(t *testing.T) (*Table, func() []string) {
	srv := newFakeGCS(t)
	opts := fastRetries
	opts.StorageClient = srv.Client()
	tbl, err := Open(context.Background(), "gs://"+testBucket+"/exports/videosdk", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tbl.Close() })
	return tbl, func() []string {
		list, err := srv.ListObjectsWithOptionsPaginated(testBucket, fakestorage.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		objs := list.Objects
		var keys []string
		for _, o := range objs {
			keys = append(keys, strings.TrimPrefix(o.Name, "exports/videosdk/"))
		}
		sort.Strings(keys)
		return keys
	}
}

// forEachBackend runs f as a subtest per backend, the backends side by
// side: each has its own table.
func forEachBackend(t *testing.T, f func(t *testing.T, b testBackend)) {
	for _, b := range testBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// storeTest is one behaviour of a store, run on an empty Table of it; raw
// lists what the store holds (see testBackend.open).
type storeTest struct {
	name string
	f    func(t *testing.T, b testBackend, tbl *Table, raw func() []string)
}

// runStoreTests runs each test as a subtest per backend, each on a table of
// its own.
func runStoreTests(t *testing.T, tests []storeTest) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tbl, raw := b.open(t)
				tt.f(t, b, tbl, raw)
			})
		}
	})
}

// expectPrecondition asserts that err is errPrecondition, unless the
// backend is known not to enforce this precondition and indeed did not.
func expectPrecondition(t *testing.T, b testBackend, gap string, err error) {
	t.Helper()
	if errors.Is(err, errPrecondition) {
		return
	}
	if why := b.gaps[gap]; why != "" && err == nil {
		t.Logf("not asserted on %s: %s", b.name, why)
		return
	}
	t.Errorf("got %v, want errPrecondition", err)
}
