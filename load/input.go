package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// ReadObject opens a whole object for reading: gs://bucket/object or a
// local path ("-" for stdin is the caller's business). Missing objects and
// missing permissions wrap ErrStoreAccess.
func ReadObject(ctx context.Context, location string, opts OpenOptions) (io.ReadCloser, error) {
	bucket, name, ok := parseGS(location)
	if !ok {
		f, err := os.Open(location)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil, fmt.Errorf("open %s: %w: %w", location, ErrStoreAccess, err)
			}
			return nil, fmt.Errorf("open %s: %w", location, err)
		}
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("read %s: %w: it is a directory; give the file that lists the session IDs", location, ErrStoreAccess)
		}
		return f, nil
	}
	if bucket == "" || name == "" || strings.HasSuffix(name, "/") {
		return nil, fmt.Errorf("read %q: %w: want gs://bucket/object", location, ErrStoreAccess)
	}
	client, closeClient, err := storageClient(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", location, err)
	}
	d := newGCSDriver(client, bucket, "", opts)
	r, err := d.NewReader(ctx, name)
	if err != nil {
		closeClient()
		if errors.Is(err, errNotExist) {
			return nil, fmt.Errorf("%w: %w: check the object name and that the job may read it (roles/storage.objectViewer)", err, ErrStoreAccess)
		}
		return nil, err
	}
	return &readCloser{ReadCloser: r, after: closeClient}, nil
}

type readCloser struct {
	io.ReadCloser
	after func() error
}

func (r *readCloser) Close() error {
	err := r.ReadCloser.Close()
	if aerr := r.after(); err == nil {
		err = aerr
	}
	return err
}
