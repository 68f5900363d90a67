package local_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/local"
)

// A Put whose directories a concurrent Delete removes (they were empty for
// a moment) makes them again instead of failing: deletes remove the empty
// directories they leave, and puts of siblings create them, in the data
// tree and in the sidecar tree alike.
func TestPutRacesDeleteOfEmptyDirs(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *local.Options
	}{
		{"xattr", nil},
		{"sidecar", &local.Options{Metadata: local.MetadataSidecar}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := local.New(t.TempDir(), tc.opts)
			require.NoError(t, err)
			defer s.Close()
			ctx := t.Context()
			const workers, rounds = 8, 300
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range rounds {
						key := fmt.Sprintf("a/b/c/d/w%d-%d", w, i%3)
						if _, err := s.Put(ctx, key, bytes.NewReader([]byte("x")), nil); err != nil {
							errs <- fmt.Errorf("round %d: %w", i, err)
							return
						}
						if err := s.Delete(ctx, key); err != nil {
							errs <- fmt.Errorf("round %d: %w", i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
