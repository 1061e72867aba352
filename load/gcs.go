package load

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// DefaultChunkSize is the resumable upload chunk: the most an upload holds
// in memory, and the unit a retry resends.
const DefaultChunkSize = 8 << 20

// gcsDriver stores objects in a bucket under a prefix. Uploads are
// resumable with a bounded chunk, so no file is ever held whole in memory.
//
// Every request is retried on 429, 5xx and network errors with exponential
// backoff (storage.RetryAlways). That is safe only because every mutation
// the commit protocol makes carries a precondition (DoesNotExist or
// GenerationMatch) or writes a run-unique key: a retried request cannot
// overwrite anything but what it was meant to.
type gcsDriver struct {
	bucket    string
	prefix    string // "" or ending in "/"
	bkt       *storage.BucketHandle
	chunkSize int
}

func newGCSDriver(client *storage.Client, bucket, prefix string, opts OpenOptions) *gcsDriver {
	opts = opts.withDefaults()
	bkt := client.Bucket(bucket).Retryer(
		storage.WithPolicy(storage.RetryAlways),
		storage.WithBackoff(gax.Backoff{Initial: opts.RetryInitialBackoff, Max: opts.RetryMaxBackoff, Multiplier: 2}),
		storage.WithMaxAttempts(opts.MaxAttempts),
	)
	return &gcsDriver{bucket: bucket, prefix: prefix, bkt: bkt, chunkSize: opts.ChunkSize}
}

func (d *gcsDriver) Location(key string) string {
	return "gs://" + d.bucket + "/" + d.prefix + key
}

func (d *gcsDriver) obj(key string) *storage.ObjectHandle { return d.bkt.Object(d.prefix + key) }

func conditions(c precondition) (storage.Conditions, bool) {
	switch {
	case c.DoesNotExist:
		return storage.Conditions{DoesNotExist: true}, true
	case c.GenerationMatch > 0:
		return storage.Conditions{GenerationMatch: c.GenerationMatch}, true
	}
	return storage.Conditions{}, false
}

func (d *gcsDriver) NewWriter(ctx context.Context, key string, opts writerOptions) (objectWriter, error) {
	o := d.obj(key)
	if c, ok := conditions(opts.Cond); ok {
		o = o.If(c)
	}
	w := o.NewWriter(ctx)
	w.ChunkSize = d.chunkSize
	w.ContentType = opts.ContentType
	return &gcsWriter{d: d, key: key, w: w, crc: crc32.New(castagnoli)}, nil
}

type gcsWriter struct {
	d   *gcsDriver
	key string
	w   *storage.Writer
	crc hash.Hash32
	n   int64
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.crc.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, w.d.mapErr("write", w.key, err)
	}
	return n, nil
}

// Close finishes the upload and compares the CRC32C GCS computed with the
// one of the bytes we sent; on a mismatch the object is deleted.
func (w *gcsWriter) Close() (objectAttrs, error) {
	if err := w.w.Close(); err != nil {
		return objectAttrs{}, w.d.mapErr("write", w.key, err)
	}
	a := w.w.Attrs()
	if a.CRC32C != w.crc.Sum32() || a.Size != w.n {
		// Best effort: the object is wrong either way; only its generation may go.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		derr := w.d.obj(w.key).If(storage.Conditions{GenerationMatch: a.Generation}).Delete(dctx)
		return objectAttrs{}, fmt.Errorf("verify %s: sent %d bytes crc32c %08x, GCS has %d bytes crc32c %08x (object deleted: %v)",
			w.d.Location(w.key), w.n, w.crc.Sum32(), a.Size, a.CRC32C, derr == nil)
	}
	return w.d.attrs(a), nil
}

func (d *gcsDriver) attrs(a *storage.ObjectAttrs) objectAttrs {
	return objectAttrs{Key: a.Name[len(d.prefix):], Size: a.Size, CRC32C: a.CRC32C, Generation: a.Generation, Updated: a.Updated}
}

func (d *gcsDriver) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := d.obj(key).NewReader(ctx)
	if err != nil {
		return nil, d.mapErr("read", key, err)
	}
	return r, nil
}

func (d *gcsDriver) List(ctx context.Context, prefix string) ([]objectAttrs, error) {
	it := d.bkt.Objects(ctx, &storage.Query{Prefix: d.prefix + prefix})
	var out []objectAttrs
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, d.mapErr("list", prefix, err)
		}
		out = append(out, d.attrs(a))
	}
}

func (d *gcsDriver) Copy(ctx context.Context, dst, src string, cond precondition) (objectAttrs, error) {
	o := d.obj(dst)
	if c, ok := conditions(cond); ok {
		o = o.If(c)
	}
	a, err := o.CopierFrom(d.obj(src)).Run(ctx)
	if err != nil {
		return objectAttrs{}, d.mapErr("copy "+d.Location(src)+" to", dst, err)
	}
	return d.attrs(a), nil
}

func (d *gcsDriver) Delete(ctx context.Context, key string, cond precondition) error {
	o := d.obj(key)
	if c, ok := conditions(cond); ok {
		o = o.If(c)
	}
	if err := o.Delete(ctx); err != nil {
		return d.mapErr("delete", key, err)
	}
	return nil
}

func (d *gcsDriver) Attrs(ctx context.Context, key string) (objectAttrs, error) {
	a, err := d.obj(key).Attrs(ctx)
	if err != nil {
		return objectAttrs{}, d.mapErr("stat", key, err)
	}
	return d.attrs(a), nil
}

// mapErr names the object and maps GCS errors onto the driver's:
// absent objects to errNotExist, 412 to errPrecondition, and 401/403 or a
// missing bucket to ErrStoreAccess with what to do about it.
func (d *gcsDriver) mapErr(op, key string, err error) error {
	loc := d.Location(key)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%s %s: %w", op, loc, errNotExist)
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("%s %s: %w: bucket %q does not exist (check the gs:// location)", op, loc, ErrStoreAccess, d.bucket)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%s %s: %w", op, loc, errPrecondition)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s %s: %w: permission denied on bucket %q: grant the job's service account roles/storage.objectUser on it (%v)", op, loc, ErrStoreAccess, d.bucket, gerr.Message)
		case http.StatusNotFound:
			// Object operations report a missing object as ErrObjectNotExist;
			// a bare 404 means the bucket is missing.
			return fmt.Errorf("%s %s: %w: bucket %q not found (check the gs:// location)", op, loc, ErrStoreAccess, d.bucket)
		}
	}
	return fmt.Errorf("%s %s: %w", op, loc, err)
}
