package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// OpenOptions configures access to a store. Zero values take the defaults.
type OpenOptions struct {
	// StorageClient is used for gs:// locations when set (tests inject one
	// talking to fake-gcs-server). Otherwise Open creates one with
	// storage.NewClient and Application Default Credentials, which sends
	// every request to STORAGE_EMULATOR_HOST when that is set.
	StorageClient *storage.Client
	// ChunkSize of resumable uploads (DefaultChunkSize).
	ChunkSize int
	// Retries of GCS requests on 429, 5xx and network errors.
	RetryInitialBackoff time.Duration // 250ms
	RetryMaxBackoff     time.Duration // 16s
	MaxAttempts         int           // 8
}

func (o OpenOptions) withDefaults() OpenOptions {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.RetryInitialBackoff <= 0 {
		o.RetryInitialBackoff = 250 * time.Millisecond
	}
	if o.RetryMaxBackoff <= 0 {
		o.RetryMaxBackoff = 16 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	return o
}

// Table is the output location: the participant_timelogs table plus the
// staging, report and manifest folders beside it. It is safe for
// concurrent use by several Runs of different slots.
type Table struct {
	drv         driver
	closeClient func() error

	// now is the clock for staging age; tests move it.
	now func() time.Time
}

// Open opens output, a local directory (created if missing) or
// gs://bucket[/prefix]. It checks that the location can be listed, so a
// missing bucket or a missing permission is reported now, wrapped in
// ErrStoreAccess, rather than after the export.
func Open(ctx context.Context, output string, opts OpenOptions) (*Table, error) {
	t := &Table{now: time.Now}
	if bucket, prefix, ok := parseGS(output); ok {
		if bucket == "" {
			return nil, fmt.Errorf("output %q: %w: no bucket name (want gs://bucket/prefix)", output, ErrStoreAccess)
		}
		client, closeClient, err := storageClient(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", output, err)
		}
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		d := newGCSDriver(client, bucket, prefix, opts)
		if _, err := firstObject(ctx, d, ""); err != nil {
			closeClient()
			return nil, fmt.Errorf("open output %s: %w", output, err)
		}
		t.drv, t.closeClient = d, closeClient
		return t, nil
	}
	root, err := filepath.Abs(output)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w: %w", output, ErrStoreAccess, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory %s: %w: %w (pick a writable --output)", root, ErrStoreAccess, err)
	}
	probe, err := os.CreateTemp(root, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("output directory %s is not writable: %w: %w", root, ErrStoreAccess, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	t.drv = &localDriver{root: root}
	return t, nil
}

// firstObject lists at most a page to prove the location is reachable.
func firstObject(ctx context.Context, d *gcsDriver, prefix string) (bool, error) {
	q := &storage.Query{Prefix: d.prefix + prefix}
	it := d.bkt.Objects(ctx, q)
	it.PageInfo().MaxSize = 1
	_, err := it.Next()
	if err == nil {
		return true, nil
	}
	if errors.Is(err, iterator.Done) {
		return false, nil
	}
	return false, d.mapErr("list", prefix, err)
}

func storageClient(ctx context.Context, opts OpenOptions) (*storage.Client, func() error, error) {
	if opts.StorageClient != nil {
		return opts.StorageClient, func() error { return nil }, nil
	}
	// storage.NewClient reads STORAGE_EMULATOR_HOST itself (storage.go,
	// NewClient): set, it points every request there without auth.
	// Reads go through the JSON API, as every other request does: one
	// protocol to reason about, and fake-gcs-server on loopback (the
	// emulator of the crash and consumer tests) serves XML reads of listed
	// objects only when started with a public host.
	c, err := storage.NewClient(ctx, option.WithUserAgent("participants-etl"), storage.WithJSONReads())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: create GCS client (Application Default Credentials: Workload Identity on GKE, or gcloud auth application-default login): %w", ErrStoreAccess, err)
	}
	return c, c.Close, nil
}

func parseGS(s string) (bucket, rest string, ok bool) {
	after, ok := strings.CutPrefix(s, "gs://")
	if !ok {
		return "", "", false
	}
	bucket, rest, _ = strings.Cut(after, "/")
	return bucket, rest, true
}

// Close releases the GCS client if Open created it.
func (t *Table) Close() error {
	if t.closeClient != nil {
		return t.closeClient()
	}
	return nil
}
