// Package testfd counts the open file descriptors of the test process, for
// tests that check that what they opened was closed. It is for tests only.
package testfd

import (
	"os"
	"testing"
)

// Count returns how many file descriptors the process has open, from
// /proc/self/fd. Where that cannot be read (not Linux, no /proc mounted)
// it skips the test: there is nothing to count with.
func Count(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(entries)
}
