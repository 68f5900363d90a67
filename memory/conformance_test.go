package memory_test

import (
	"testing"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		New:  func(t *testing.T) storage.Provider { return memory.New() },
		Copy: true,
	})
}
