// Package testlog has a buffer that tests hand to a logger or a child
// process as its output and read back while it is still being written.
// It is for tests only.
package testlog

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use: writers (a slog
// handler, a process's stderr) and a reading test may run at once. The
// zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the non-empty lines written so far that contain every
// one of parts.
func (l *Buffer) Lines(parts ...string) []string {
	var out []string
	for ln := range strings.SplitSeq(l.String(), "\n") {
		ok := ln != ""
		for _, p := range parts {
			ok = ok && strings.Contains(ln, p)
		}
		if ok {
			out = append(out, ln)
		}
	}
	return out
}
