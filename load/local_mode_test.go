package load

import (
	"context"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

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
