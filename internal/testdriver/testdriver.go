//go:build strata_testdriver

// Package testdriver registers the URL scheme "test" with storage.Open: a
// wrapper around another location that logs, slows down and fails
// operations, so that tests of the strata command can count what the binary
// sends and make its destination fail. It is compiled only with the build
// tag strata_testdriver, which the command's tests use; no released binary
// contains it.
//
// # URLs
//
//		test://?inner=<URL-escaped location>&log=/tmp/puts.log&delay=5ms&fail_puts_after=100&fail_get=substring
//
//	  - inner (required): the location wrapped.
//	  - log: a file that gets a line "put KEY" after each Put that succeeded,
//	    and "start KEY" before each Put begins.
//	  - delay: a pause before each Put (and Get), honouring the context.
//	  - fail_puts_after: Puts after the first N fail as unavailable.
//	  - fail_get: Gets, Stats and Deletes of keys containing this substring
//	    fail as unavailable.
package testdriver

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
)

func init() { storage.Register("test", open) }

// Store wraps a Provider; see the package documentation.
type Store struct {
	inner     storage.Provider
	delay     time.Duration
	failAfter int64 // -1: never
	failGet   string
	puts      atomic.Int64

	mu  sync.Mutex
	log *os.File
}

var _ storage.Provider = (*Store)(nil)

func open(ctx context.Context, u *url.URL) (storage.Provider, error) {
	bad := func(format string, args ...any) error {
		return &storage.Error{Op: "open", Provider: "test", Kind: storage.ErrInvalidArgument, Err: fmt.Errorf(format, args...)}
	}
	q := u.Query()
	innerURL := q.Get("inner")
	if innerURL == "" {
		return nil, bad("test:// needs inner=<URL>")
	}
	s := &Store{failAfter: -1, failGet: q.Get("fail_get")}
	if d := q.Get("delay"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil {
			return nil, bad("delay: %v", err)
		}
		s.delay = v
	}
	if n := q.Get("fail_puts_after"); n != "" {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, bad("fail_puts_after: %v", err)
		}
		s.failAfter = v
	}
	if path := q.Get("log"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, bad("log: %v", err)
		}
		s.log = f
	}
	inner, err := storage.Open(ctx, innerURL)
	if err != nil {
		if s.log != nil {
			s.log.Close()
		}
		return nil, err
	}
	s.inner = inner
	return s, nil
}

func (s *Store) logLine(verb, key string) {
	if s.log == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.log.WriteString(verb + " " + key + "\n")
}

func (s *Store) wait(ctx context.Context) error {
	if s.delay <= 0 {
		return nil
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func unavailable(op, key string) error {
	return &storage.Error{Op: op, Provider: "test", Key: key, Kind: storage.ErrUnavailable, Err: fmt.Errorf("injected failure")}
}

// Put implements storage.Provider.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	s.logLine("start", key)
	if err := s.wait(ctx); err != nil {
		return storage.Info{}, err
	}
	if n := s.puts.Add(1); s.failAfter >= 0 && n > s.failAfter {
		return storage.Info{}, unavailable("put", key)
	}
	info, err := s.inner.Put(ctx, key, r, opts)
	if err == nil {
		s.logLine("put", key)
	}
	return info, err
}

func (s *Store) failing(key string) bool { return s.failGet != "" && strings.Contains(key, s.failGet) }

// Get implements storage.Provider.
func (s *Store) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	if s.failing(key) {
		return nil, storage.Info{}, unavailable("get", key)
	}
	if err := s.wait(ctx); err != nil {
		return nil, storage.Info{}, err
	}
	return s.inner.Get(ctx, key, opts)
}

// Stat implements storage.Provider.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if s.failing(key) {
		return storage.Info{}, unavailable("stat", key)
	}
	return s.inner.Stat(ctx, key)
}

// Delete implements storage.Provider.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.failing(key) {
		return unavailable("delete", key)
	}
	return s.inner.Delete(ctx, key)
}

// List implements storage.Provider. Listings carry no SHA-256, as S3's do.
func (s *Store) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return s.inner.List(ctx, opts)
}

// Close implements storage.Provider.
func (s *Store) Close() error {
	var err error
	if s.log != nil {
		err = s.log.Close()
	}
	if e := s.inner.Close(); err == nil {
		err = e
	}
	return err
}
