package load

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// localDriver stores objects as files under root. An object is written to a
// hidden temporary file in its final directory, fsynced and renamed into
// place, and the directory is fsynced, so a crash leaves either the whole
// new file or none of it. Hidden files (leading ".") are never listed.
//
// Generations are file modification times in nanoseconds: every write
// creates a new file, so a replaced object gets a new one. Preconditions are
// checked by the kernel where it can (link(2) fails if the target exists,
// for DoesNotExist) and by stat-then-rename otherwise, which is not atomic
// against a second process; the commit protocol never has two writers of
// one key, so this only guards against our own mistakes.
type localDriver struct {
	root string // absolute
}

func (d *localDriver) path(key string) (string, error) {
	if key == "" || path.IsAbs(key) || path.Clean(key) != key || strings.HasPrefix(key, "../") || key == ".." {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func (d *localDriver) Location(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

func (d *localDriver) NewWriter(ctx context.Context, key string, opts writerOptions) (objectWriter, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	var f *os.File
	// Another run's Delete may prune an empty parent between MkdirAll and
	// CreateTemp; try again then.
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, localErr("create directory for", p, err)
		}
		f, err = createHidden(dir, "."+filepath.Base(p)+".tmp-")
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return nil, localErr("create", p, err)
		}
	}
	return &localWriter{ctx: ctx, f: f, final: p, key: key, opts: opts, crc: crc32.New(castagnoli)}, nil
}

type localWriter struct {
	ctx   context.Context // the write's lifetime, as in storage.Writer
	f     *os.File
	final string
	key   string
	opts  writerOptions
	crc   hash.Hash32
	n     int64
	err   error
	done  bool
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.err == nil {
		w.err = w.ctx.Err()
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.crc.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		w.err = localErr("write", w.final, err)
	}
	return n, w.err
}

func (w *localWriter) Close() (objectAttrs, error) {
	if w.done {
		return objectAttrs{}, errors.New("close: writer already closed")
	}
	w.done = true
	tmp := w.f.Name()
	fail := func(err error) (objectAttrs, error) {
		w.f.Close()
		os.Remove(tmp)
		return objectAttrs{}, err
	}
	if w.err != nil {
		return fail(w.err)
	}
	if err := w.ctx.Err(); err != nil {
		return fail(fmt.Errorf("write %s: %w", w.final, err))
	}
	if err := w.f.Sync(); err != nil {
		return fail(localErr("sync", w.final, err))
	}
	if err := w.f.Close(); err != nil {
		return fail(localErr("close", w.final, err))
	}
	// Read back what reached the file system before publishing it.
	sum, size, err := fileCRC32C(tmp)
	if err != nil {
		return fail(localErr("verify", w.final, err))
	}
	if sum != w.crc.Sum32() || size != w.n {
		return fail(fmt.Errorf("verify %s: wrote %d bytes crc32c %08x, file has %d bytes crc32c %08x", w.final, w.n, w.crc.Sum32(), size, sum))
	}
	if w.opts.Cond.DoesNotExist {
		// link(2) fails if the target exists: an atomic DoesNotExist.
		if err := os.Link(tmp, w.final); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fail(fmt.Errorf("write %s: %w", w.final, errPrecondition))
			}
			return fail(localErr("link", w.final, err))
		}
		os.Remove(tmp)
	} else {
		if err := checkGeneration(w.final, w.opts.Cond); err != nil {
			return fail(fmt.Errorf("write %s: %w", w.final, err))
		}
		if err := os.Rename(tmp, w.final); err != nil {
			return fail(localErr("rename", w.final, err))
		}
	}
	if err := syncDir(filepath.Dir(w.final)); err != nil {
		return objectAttrs{}, err
	}
	fi, err := os.Stat(w.final)
	if err != nil {
		return objectAttrs{}, localErr("stat", w.final, err)
	}
	return objectAttrs{Key: w.key, Size: fi.Size(), CRC32C: sum, Generation: fi.ModTime().UnixNano(), Updated: fi.ModTime()}, nil
}

func (d *localDriver) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, localErr("open", p, err)
	}
	return f, nil
}

func (d *localDriver) List(ctx context.Context, prefix string) ([]objectAttrs, error) {
	// Walk only the deepest directory the prefix names.
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	var out []objectAttrs
	err := walk(ctx, start, func(p string, e fs.DirEntry) error {
		if strings.HasPrefix(e.Name(), ".") && p != start {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		// CRC32C is left zero: computing it would read every file. Attrs has it.
		out = append(out, objectAttrs{Key: key, Size: fi.Size(), Generation: fi.ModTime().UnixNano(), Updated: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, localErr("list", filepath.Join(d.root, filepath.FromSlash(prefix)), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (d *localDriver) Attrs(ctx context.Context, key string) (objectAttrs, error) {
	p, err := d.path(key)
	if err != nil {
		return objectAttrs{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return objectAttrs{}, localErr("stat", p, err)
	}
	sum, size, err := fileCRC32C(p)
	if err != nil {
		return objectAttrs{}, localErr("read", p, err)
	}
	return objectAttrs{Key: key, Size: size, CRC32C: sum, Generation: fi.ModTime().UnixNano(), Updated: fi.ModTime()}, nil
}

// checkGeneration tests cond against the file at p.
func checkGeneration(p string, cond precondition) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if cond.GenerationMatch > 0 {
			return errPrecondition
		}
		return nil
	case err != nil:
		return localErr("stat", p, err)
	case cond.DoesNotExist:
		return errPrecondition
	case cond.GenerationMatch > 0 && fi.ModTime().UnixNano() != cond.GenerationMatch:
		return errPrecondition
	}
	return nil
}

// Copy hard-links src into place (falling back to copying bytes), so the
// publish of a staged file is one rename: atomic, and the staged copy stays
// until it is deleted. The temporary name lives beside src, never in the
// destination directory, so the table never holds anything but its files.
func (d *localDriver) Copy(ctx context.Context, dst, src string, cond precondition) (objectAttrs, error) {
	sp, err := d.path(src)
	if err != nil {
		return objectAttrs{}, err
	}
	dp, err := d.path(dst)
	if err != nil {
		return objectAttrs{}, err
	}
	if _, err := os.Stat(sp); err != nil {
		return objectAttrs{}, localErr("copy from", sp, err)
	}
	if err := checkGeneration(dp, cond); err != nil {
		return objectAttrs{}, fmt.Errorf("copy to %s: %w", dp, err)
	}
	if err := os.MkdirAll(filepath.Dir(dp), 0o755); err != nil {
		return objectAttrs{}, localErr("create directory for", dp, err)
	}
	if cond.DoesNotExist {
		err := os.Link(sp, dp)
		if errors.Is(err, fs.ErrNotExist) {
			// Pruned by another slot's Delete in between: once more.
			os.MkdirAll(filepath.Dir(dp), 0o755)
			err = os.Link(sp, dp)
		}
		if errors.Is(err, fs.ErrExist) {
			return objectAttrs{}, fmt.Errorf("copy to %s: %w", dp, errPrecondition)
		}
		if err == nil {
			if err := syncDir(filepath.Dir(dp)); err != nil {
				return objectAttrs{}, err
			}
			return d.Attrs(ctx, dst)
		}
		// No hard links here: fall through to copy and rename.
	}
	tmp, err := d.tempCopy(sp)
	if err != nil {
		return objectAttrs{}, err
	}
	err = os.Rename(tmp, dp)
	if errors.Is(err, fs.ErrNotExist) {
		os.MkdirAll(filepath.Dir(dp), 0o755)
		err = os.Rename(tmp, dp)
	}
	if err != nil {
		os.Remove(tmp)
		return objectAttrs{}, localErr("rename into", dp, err)
	}
	if err := syncDir(filepath.Dir(dp)); err != nil {
		return objectAttrs{}, err
	}
	return d.Attrs(ctx, dst)
}

// tempCopy makes a hidden link to (or copy of) sp beside it.
func (d *localDriver) tempCopy(sp string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(sp), ".copy-*")
	if err != nil {
		return "", localErr("create temporary copy of", sp, err)
	}
	tmp := f.Name()
	f.Close()
	os.Remove(tmp)
	if err := os.Link(sp, tmp); err == nil {
		return tmp, nil
	}
	in, err := os.Open(sp)
	if err != nil {
		return "", localErr("open", sp, err)
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return "", localErr("create", tmp, err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", localErr("copy", sp, err)
	}
	return tmp, nil
}

// Delete removes key and then any directories it leaves empty (up to the
// root), so staging folders do not pile up.
func (d *localDriver) Delete(ctx context.Context, key string, cond precondition) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err != nil {
		return localErr("delete", p, err)
	}
	if err := checkGeneration(p, cond); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil {
		return localErr("delete", p, err)
	}
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty, or gone
			break
		}
	}
	return syncDir(filepath.Dir(p))
}

// createHidden creates a new file named prefix plus a random suffix in dir,
// with mode 0666 less the umask: os.CreateTemp would make it 0600, and the
// published file (a rename or hard link of it) must be readable by the
// analysts' accounts as the umask allows (0644 under umask 022).
func createHidden(dir, prefix string) (*os.File, error) {
	for {
		f, err := os.OpenFile(filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func fileCRC32C(p string) (uint32, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	return h.Sum32(), n, err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed because it became empty
		}
		return localErr("open directory", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return localErr("sync directory", dir, err)
	}
	return nil
}

// walk calls visit for start and everything below it, as filepath.WalkDir
// does, until ctx is done. What is missing (start, or an entry removed
// while walking) is skipped: to a store, it holds no objects.
func walk(ctx context.Context, start string, visit func(p string, e fs.DirEntry) error) error {
	return filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return visit(p, e)
	})
}

// localErr maps file system errors onto the driver's: absent files to
// errNotExist, permission problems to ErrStoreAccess.
func localErr(op, p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w", op, p, errNotExist)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s: %w: %w (make the directory writable by the job's user)", op, p, ErrStoreAccess, err)
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}

// sweep removes hidden temporary files under prefix last modified before
// cutoff (writes killed before Close or rename), then the directories
// that leaves empty. A killed local write leaves such a file; a killed
// GCS upload leaves no object, so only this store needs sweeping.
func (d *localDriver) sweep(ctx context.Context, prefix string, cutoff time.Time) error {
	start := filepath.Join(d.root, filepath.FromSlash(prefix))
	var dirs []string
	err := walk(ctx, start, func(p string, e fs.DirEntry) error {
		if e.IsDir() {
			// Only old directories: a fresh one may be about to get a file.
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
				dirs = append(dirs, p)
			}
			return nil
		}
		if !strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return localErr("sweep", start, err)
	}
	// Deepest first; Remove fails harmlessly on directories that still hold files.
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] != d.root {
			os.Remove(dirs[i])
		}
	}
	return nil
}
