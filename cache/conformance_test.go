package cache_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/storage"
)

func TestConformance(t *testing.T) {
	var dirs sync.Map // *testing.T -> cache directory
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			dir := t.TempDir()
			c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			dirs.Store(t, dir)
			return c
		},
		Copy: true,
		Leftovers: func(t *testing.T) []string {
			dir, ok := dirs.Load(t)
			if !ok {
				return []string{"unknown subtest"}
			}
			return tmpFiles(t, dir.(string))
		},
	})
}

// tmpFiles lists the files in the cache's tmp directory.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
