package conformance

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// cancelledCalls are the methods the suite calls with a context that is
// already cancelled. Each gets a provider holding "old" under "k".
var cancelledCalls = []struct {
	name    string
	ability string // "" or "copy": run only when the ability is declared
	call    func(ctx context.Context, p storage.Provider) error
	after   func(t *testing.T, p storage.Provider) // checks nothing changed
}{
	{name: "Put", call: func(c context.Context, p storage.Provider) error {
		_, err := p.Put(c, "new", strings.NewReader("data"), nil)
		return err
	}, after: func(t *testing.T, p storage.Provider) { requireMissing(t, p, "new") }},
	{name: "PutOverwrite", call: func(c context.Context, p storage.Provider) error {
		_, err := p.Put(c, "k", strings.NewReader("new"), nil)
		return err
	}},
	{name: "PutIfNotExists", call: func(c context.Context, p storage.Provider) error {
		_, err := p.Put(c, "new", strings.NewReader("data"), &storage.PutOptions{IfNotExists: true})
		return err
	}, after: func(t *testing.T, p storage.Provider) { requireMissing(t, p, "new") }},
	{name: "Get", call: func(c context.Context, p storage.Provider) error {
		rc, _, err := p.Get(c, "k", nil)
		if rc != nil {
			rc.Close()
		}
		return err
	}},
	{name: "GetRange", call: func(c context.Context, p storage.Provider) error {
		rc, _, err := p.Get(c, "k", &storage.GetOptions{Range: &storage.Range{Offset: 1, Length: 1}})
		if rc != nil {
			rc.Close()
		}
		return err
	}},
	{name: "Stat", call: func(c context.Context, p storage.Provider) error {
		_, err := p.Stat(c, "k")
		return err
	}},
	{name: "Delete", call: func(c context.Context, p storage.Provider) error {
		return p.Delete(c, "k")
	}},
	{name: "List", call: listErr},
	{name: "Copy", ability: "copy", call: func(c context.Context, p storage.Provider) error {
		_, err := p.(storage.Copier).Copy(c, "dst", "k")
		return err
	}, after: func(t *testing.T, p storage.Provider) { requireMissing(t, p, "dst") }},
}

// listErr runs a listing and returns the error it yields. It checks that
// an error is yielded once, with a zero Info, and ends the sequence.
func listErr(c context.Context, p storage.Provider) error {
	var first error
	n := 0
	for info, err := range p.List(c, nil) {
		n++
		if err != nil && first == nil {
			first = err
			if info.Key != "" {
				return errorf("List yielded an error with a non-zero Info (key %q)", info.Key)
			}
			continue
		}
		if first != nil {
			return errorf("List went on yielding after an error: %v", first)
		}
	}
	if first == nil {
		return nil
	}
	return first
}

type suiteError string

func (e suiteError) Error() string { return string(e) }

func errorf(format string, args ...any) error {
	return suiteError(fmt.Sprintf(format, args...))
}

// blockingReader yields head, then blocks until ctx ends and returns
// final (or ctx.Err() when final is nil). It closes reached when it first
// blocks.
type blockingReader struct {
	head    []byte
	ctx     context.Context
	final   error
	reached chan struct{}
	once    sync.Once
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	b.once.Do(func() { close(b.reached) })
	<-b.ctx.Done()
	if b.final != nil {
		return 0, b.final
	}
	return 0, b.ctx.Err()
}

func (s *suite) testContext(t *testing.T) {
	for _, tc := range cancelledCalls {
		t.Run("Cancelled/"+tc.name, func(t *testing.T) {
			if tc.ability == "copy" && !s.h.Copy {
				t.Skip("Harness.Copy is not set")
			}
			t.Parallel()
			p := s.provider(t)
			put(t, p, "k", []byte("old"), &storage.PutOptions{ContentType: "text/plain"})
			c, cancel := context.WithCancel(ctx(t))
			cancel()
			err := tc.call(c, p)
			requireErrorIs(t, err, context.Canceled, "%s with a cancelled context", tc.name)
			requireContent(t, p, "k", []byte("old"))
			if tc.after != nil {
				tc.after(t, p)
			}
		})
	}
	t.Run("DeadlineExceeded", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "v")
		c, cancel := context.WithDeadline(ctx(t), time.Now().Add(-time.Second))
		defer cancel()
		_, err := p.Stat(c, "k")
		requireErrorIs(t, err, context.DeadlineExceeded, "Stat with a context past its deadline")
		_, err = p.Put(c, "k2", strings.NewReader("v"), nil)
		requireErrorIs(t, err, context.DeadlineExceeded, "Put with a context past its deadline")
		requireMissing(t, p, "k2")
	})
	for _, tc := range []struct {
		name     string
		final    error
		existing bool
	}{
		{"CancelDuringPut/ReaderEOF", io.EOF, false},
		{"CancelDuringPut/ReaderError", nil, false},
		{"CancelDuringPut/KeepsOld", io.EOF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			if tc.existing {
				putString(t, p, "k", "old")
			}
			s.cancelDuringPut(t, p, tc.final)
			if tc.existing {
				requireContent(t, p, "k", []byte("old"))
			} else {
				requireMissing(t, p, "k")
				require.Empty(t, listKeys(t, p, nil))
			}
		})
	}
	t.Run("CancelDuringGet", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		const size = 4 << 20
		_, err := p.Put(ctx(t), "k", RandomReader(20, size), nil)
		require.NoError(t, err)
		c, cancel := context.WithCancel(ctx(t))
		defer cancel()
		rc, _, err := p.Get(c, "k", nil)
		require.NoError(t, err)
		defer rc.Close()
		buf := make([]byte, 1024)
		_, err = io.ReadFull(rc, buf)
		require.NoError(t, err)
		cancel()
		var n int64
		within(t, "reading after cancel", func() { n, err = io.Copy(io.Discard, rc) })
		require.Less(t, n, int64(size-1024), "the whole object was read after its context was cancelled")
		requireErrorIs(t, err, context.Canceled, "reading a Get body after its context was cancelled")
	})
}

// cancelDuringPut starts a Put of "k" whose reader blocks after 256 KiB
// until the context is cancelled, cancels it there, and checks that Put
// fails with context.Canceled.
func (s *suite) cancelDuringPut(t *testing.T, p storage.Provider, final error) {
	t.Helper()
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	r := &blockingReader{head: RandomBytes(21, 256<<10), ctx: c, final: final, reached: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := p.Put(c, "k", r, nil)
		done <- err
	}()
	select {
	case <-r.reached:
	case err := <-done:
		t.Fatalf("Put returned before reading its whole reader: %v", err)
	case <-time.After(waitTimeout):
		t.Fatalf("Put did not read 256 KiB within %v", waitTimeout)
	}
	cancel()
	select {
	case err := <-done:
		requireErrorIs(t, err, context.Canceled, "Put whose context was cancelled while it read")
	case <-time.After(waitTimeout):
		t.Fatalf("Put did not return within %v of its context being cancelled", waitTimeout)
	}
}
