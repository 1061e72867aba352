package load

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"time"
)

// driver is what the commit protocol needs from a store, and no more. Keys
// are slash-separated and relative to the store's root (the output
// location). Two implementations: localDriver and gcsDriver; both pass
// the conformance suite in driver_test.go.
//
// Every mutation that could overwrite something carries a precondition, so
// a retried request never clobbers an object it did not mean to.
type driver interface {
	// NewWriter starts writing key. The object exists only once Close
	// returns nil; cancelling ctx aborts the write and leaves nothing.
	NewWriter(ctx context.Context, key string, opts writerOptions) (objectWriter, error)
	// NewReader opens key for reading; errNotExist if it is absent.
	NewReader(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]objectAttrs, error)
	// Copy copies src to dst if cond holds for dst (errPrecondition if not).
	Copy(ctx context.Context, dst, src string, cond precondition) (objectAttrs, error)
	// Delete removes key if cond holds; errNotExist if it is absent.
	Delete(ctx context.Context, key string, cond precondition) error
	// Attrs describes key; errNotExist if it is absent.
	Attrs(ctx context.Context, key string) (objectAttrs, error)
	// Location is how a reader outside this program names key
	// (gs://bucket/object or an absolute path).
	Location(key string) string
}

// objectWriter is an object being written. Write errors are sticky.
type objectWriter interface {
	io.Writer
	// Close commits the object, checking its CRC32C against the bytes
	// written, and describes it. Any non-nil error means no object.
	Close() (objectAttrs, error)
}

type writerOptions struct {
	// Cond is checked against key when the write commits
	// (errPrecondition if it does not hold).
	Cond        precondition
	ContentType string
}

// precondition on the destination of a mutation. The zero value means none.
type precondition struct {
	DoesNotExist    bool
	GenerationMatch int64 // > 0: the object's current generation must be this
}

type objectAttrs struct {
	Key        string
	Size       int64
	CRC32C     uint32
	Generation int64 // changes whenever the object is replaced
	Updated    time.Time
}

var (
	errNotExist     = errors.New("object does not exist")
	errPrecondition = errors.New("precondition failed")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
