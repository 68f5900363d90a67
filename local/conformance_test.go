package local_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// harness makes a fresh store with opts in a new directory for each
// subtest, and reports temporary files and orphaned sidecars as leftovers.
func harness(opts local.Options) conformance.Harness {
	var roots sync.Map // *testing.T -> root directory
	return conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			dir := t.TempDir()
			o := opts
			s, err := local.New(dir, &o)
			skipWithoutXattr(t, err)
			require.NoError(t, err)
			roots.Store(t, dir)
			return s
		},
		Copy:            true,
		PrefixConflicts: true,
		Leftovers: func(t *testing.T) []string {
			dir, ok := roots.Load(t)
			require.True(t, ok, "Leftovers called with a t that New never saw")
			return leftovers(t, dir.(string))
		},
	}
}

// leftovers lists the temporary files under root, and in sidecar mode the
// sidecar files whose object is gone.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(d.Name(), `.strata-tmp\`) {
			left = append(left, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return append(left, orphanSidecars(t, root)...)
}

// TestConformance runs the suite with the defaults (extended attributes,
// fsync on), and with sidecar files (fsync off, to keep the run short; the
// write path is the same apart from the fsync calls).
func TestConformance(t *testing.T) {
	t.Run("xattr", func(t *testing.T) { conformance.Run(t, harness(local.Options{Metadata: local.MetadataXattr})) })
	t.Run("sidecar", func(t *testing.T) {
		conformance.Run(t, harness(local.Options{Metadata: local.MetadataSidecar, NoSync: true}))
	})
}
