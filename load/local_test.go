package load

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBeginSweepsLocalTemporaryFiles: a local write killed before its
// rename leaves a hidden temporary file, which List never shows; Begin
// removes it (any age in its own slot, when stale elsewhere).
func TestBeginSweepsLocalTemporaryFiles(t *testing.T) {
	tbl, raw := openLocal(t)
	root := tbl.drv.(*localDriver).root
	a := Slot{LogicalTime: lt1, ShardIndex: 0, ShardCount: 2}
	other := Slot{LogicalTime: lt1, ShardIndex: 1, ShardCount: 2}
	aName, _ := a.name()
	otherName, _ := other.name()
	old := time.Now().Add(-3 * DefaultStaleStaging)
	temps := map[string]bool{ // key: survives Begin of a
		"_staging/" + aName + "/dead/.part-00000.parquet.tmp-1":     false,
		"_staging/" + otherName + "/live/.part-00000.parquet.tmp-2": true,
		"_staging/" + otherName + "/dead/.part-00000.parquet.tmp-3": false, // old
		"_runs/dt=2026-11-26/.x.json.tmp-4":                         false, // old
		"_runs/dt=2026-11-26/.y.json.tmp-5":                         true,
	}
	for k := range temps {
		p := filepath.Join(root, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("partial"), 0o644)
		if strings.HasSuffix(k, "-3") || strings.HasSuffix(k, "-4") {
			os.Chtimes(p, old, old)
			os.Chtimes(filepath.Dir(p), old, old)
		}
	}
	r := writeRun(t, tbl, a, "next", nil, WriteOptions{})
	defer r.Abort(context.Background())
	left := raw()
	for k, survives := range temps {
		if slices.Contains(left, k) != survives {
			t.Errorf("%s: survives %v, want %v", k, !survives, survives)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "_staging", aName)); err == nil {
		t.Errorf("the slot's emptied staging folder was left")
	}
}

// TestLocalFilesFollowTheUmask: what a run publishes locally is readable by
// others as the umask allows, like any file a program creates.
func TestLocalFilesFollowTheUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	root := t.TempDir()
	tbl, err := Open(context.Background(), root, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slot := Slot{LogicalTime: lt1, ShardCount: 1}
	publishRun(t, tbl, slot, "r1", []int{5}, WriteOptions{})
	if _, err := tbl.WriteReport(context.Background(), slot, "r1", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = fs.ModeDir | 0o755
		} else {
			files++
		}
		if p != root && fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v under umask 022", p, fi.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Errorf("only %d files: want the table file, the manifest and the report", files)
	}
}
