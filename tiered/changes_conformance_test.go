package tiered_test

import (
	"testing"
	"time"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// TestConformanceStaleness runs the suite with the change log on: its
// entries, written to the remote by every overwrite and delete, never
// show through the store (listed, counted or read).
func TestConformanceStaleness(t *testing.T) {
	t.Parallel()
	for _, mode := range []tiered.Mode{tiered.WriteThrough, tiered.WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			h := harness(tiered.Options{Mode: mode, Staleness: time.Second}, func(*testing.T) storage.Provider { return memory.New() })
			h.Copy = true
			conformance.Run(t, h)
		})
	}
}
