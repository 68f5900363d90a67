package tiered_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// cacheTmp lists the files of writes in progress in a cache directory.
func cacheTmp(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// harness runs the suite on tiered stores in mode over the remotes
// newRemote makes, checking that no cache write is left half done.
func harness(opts tiered.Options, newRemote func(t *testing.T) storage.Provider) conformance.Harness {
	var dirs sync.Map // *testing.T -> cache directory
	return conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			dir := t.TempDir()
			c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
			require.NoError(t, err)
			s, err := tiered.New(c, newRemote(t), opts)
			require.NoError(t, err)
			dirs.Store(t, dir)
			t.Cleanup(func() { dirs.Delete(t) })
			return s
		},
		Leftovers: func(t *testing.T) []string {
			dir, ok := dirs.Load(t)
			require.True(t, ok, "no store was made for this subtest")
			return cacheTmp(t, dir.(string))
		},
	}
}

func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	for _, mode := range []tiered.Mode{tiered.WriteThrough, tiered.WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			// memory copies but cannot presign: the store does the same.
			h := harness(tiered.Options{Mode: mode}, func(*testing.T) storage.Provider { return memory.New() })
			h.Copy = true
			conformance.Run(t, h)
		})
	}
}
