package local_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

const metaDir = `.strata\meta`

// skipWithoutXattr skips the test, saying why, when err from local.New says
// the file system under TMPDIR takes no user extended attributes (tmpfs
// before Linux 6.6): the sidecar variant of the same test still runs.
func skipWithoutXattr(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, storage.ErrUnsupported) {
		t.Skipf("no user extended attributes under %s: %v", os.TempDir(), err)
	}
}

// orphanSidecars lists the sidecar files under root whose data file is
// missing or has another inode.
func orphanSidecars(t *testing.T, root string) []string {
	t.Helper()
	top := filepath.Join(root, metaDir)
	var left []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), `\`) {
			return nil
		}
		ino, err := strconv.ParseUint(d.Name()[1:], 10, 64)
		require.NoError(t, err, "sidecar name %s", p)
		rel, _ := filepath.Rel(top, filepath.Dir(p))
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil || fi.Sys().(*syscall.Stat_t).Ino != ino {
			left = append(left, filepath.Join(metaDir, rel, d.Name()))
		}
		return nil
	})
	require.NoError(t, err)
	return left
}
