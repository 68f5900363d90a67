package testfd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/internal/testfd"
)

// TestCount: a file opened is one more descriptor, and closing it gives it
// back.
func TestCount(t *testing.T) {
	before := testfd.Count(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	if got := testfd.Count(t); got != before+1 {
		t.Errorf("with a file open: %d descriptors, want %d", got, before+1)
	}
	f.Close()
	if got := testfd.Count(t); got != before {
		t.Errorf("after closing it: %d descriptors, want %d", got, before)
	}
}
