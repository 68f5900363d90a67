package testlog_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/strata-storage/strata/internal/testlog"
)

// Concurrent writers lose nothing, and Lines picks the lines holding
// every part.
func TestBuffer(t *testing.T) {
	var b testlog.Buffer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(&b, "level=INFO worker=%d i=%d\n", w, i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.Lines()); n != 400 {
		t.Fatalf("%d lines, want 400", n)
	}
	got := b.Lines("worker=2", "i=7")
	want := []string{"level=INFO worker=2 i=7", "level=INFO worker=2 i=70", "level=INFO worker=2 i=71",
		"level=INFO worker=2 i=72", "level=INFO worker=2 i=73", "level=INFO worker=2 i=74", "level=INFO worker=2 i=75",
		"level=INFO worker=2 i=76", "level=INFO worker=2 i=77", "level=INFO worker=2 i=78", "level=INFO worker=2 i=79"}
	if !slices.Equal(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}
