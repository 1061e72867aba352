package tabletest

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/participants-etl/participants-etl/schemas"
	"github.com/participants-etl/participants-etl/transform"
)

// ReadTable reads every row of the table in the store folder root: every
// Parquet file under root/participant_timelogs, in path order. Anything
// else there (a folder that is not a dt= partition, a file that is not
// Parquet) fails tb, as does a file it cannot read; a table not yet written
// has no rows.
func ReadTable(tb testing.TB, root string) []transform.Row {
	tb.Helper()
	dir := filepath.Join(root, schemas.TableName)
	var rows []transform.Row
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil && path == dir && errors.Is(err, fs.ErrNotExist):
			return filepath.SkipDir
		case err != nil:
			return err
		case d.IsDir():
			if path != dir && !strings.HasPrefix(d.Name(), "dt=") {
				tb.Errorf("folder %s in the table is not a dt= partition", path)
			}
			return nil
		case !strings.HasSuffix(path, ".parquet"):
			tb.Errorf("non-Parquet file %s in the table", path)
			return nil
		}
		r, err := ReadFile(path)
		rows = append(rows, r...)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}
