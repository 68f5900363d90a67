package miniodriver_test

import (
	"sync"
	"testing"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/storage"
)

// TestConformance runs the whole contract suite against a real MinIO, one
// fresh bucket per subtest, with the smallest part size so that the
// suite's large objects go up in several parts.
func TestConformance(t *testing.T) {
	t.Parallel()
	miniotest.Start(t) // skips (or fails under CI) here, once, when MinIO is unavailable
	var envs sync.Map  // *testing.T -> *env
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			e := newEnv(t, nil)
			envs.Store(t, e)
			t.Cleanup(func() { envs.Delete(t) })
			return e.store
		},
		Presign:    true,
		PresignPut: true,
		Copy:       true,
		// MinIO cannot hold both "a" and "a/b"; the Store refuses the
		// second Put with ErrExist (Config.SkipPrefixCheck is false).
		PrefixConflicts: true,
		Leftovers: func(t *testing.T) []string {
			v, ok := envs.Load(t)
			if !ok {
				t.Fatal("Leftovers: no Store was made for this subtest")
			}
			e := v.(*env)
			return incomplete(t, e.srv.Client(), e.bucket)
		},
	})
}
