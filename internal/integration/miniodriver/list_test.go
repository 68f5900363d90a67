package miniodriver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

// listCounter is an http.RoundTripper that records the ListObjectsV2
// requests it sends, by their query.
type listCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	list []string
}

func (c *listCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
		c.mu.Lock()
		c.list = append(c.list, r.URL.RawQuery)
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

// lists returns the ListObjectsV2 queries sent since the last call.
func (c *listCounter) lists() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.list
	c.list = nil
	return out
}

func newCountingEnv(t *testing.T, knobs s3proto.Knobs) (*env, *listCounter) {
	t.Helper()
	tr, err := miniogo.DefaultTransport(false)
	require.NoError(t, err)
	t.Cleanup(tr.CloseIdleConnections)
	c := &listCounter{next: tr}
	return newKnobEnv(t, knobs, func(cfg *minio.Config) { cfg.Transport = c }), c
}

// folded returns a Store like e's, on its bucket, that leaves delimiter
// listings to the shared layer (s3proto.Knobs.FoldDelimiter), as the
// driver did before it listed by delimiter on the server.
func (e *env) folded(t testing.TB) *minio.Store {
	t.Helper()
	s, err := minio.New(s3proto.WithKnobs(t.Context(), s3proto.Knobs{FoldDelimiter: true}), e.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// putKeys stores each key with its name as its content, 16 at a time.
func putKeys(t testing.TB, p storage.Provider, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(keys))
	for _, k := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := p.Put(t.Context(), k, strings.NewReader(k), nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func listed(t *testing.T, p storage.Provider, opts *storage.ListOptions) []string {
	t.Helper()
	var keys []string
	for info, err := range p.List(t.Context(), opts) {
		require.NoError(t, err)
		if info.IsPrefix {
			require.True(t, strings.HasSuffix(info.Key, "/"), "prefix %q", info.Key)
		} else {
			require.NotEmpty(t, info.ETag, "object %q", info.Key)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

// One level of 20 directories of 50 files each is one ListObjectsV2
// request: the server rolls the directories up. Folding in the layer (the
// driver without Options.Delimiter) lists the first key of each directory
// and starts a new listing after it: 21 requests.
func TestListDelimiterOneRequest(t *testing.T) {
	t.Parallel()
	e, c := newCountingEnv(t, s3proto.Knobs{})
	var keys, want []string
	for d := range 20 {
		want = append(want, fmt.Sprintf("dir%02d/", d))
		for f := range 50 {
			keys = append(keys, fmt.Sprintf("dir%02d/file%02d", d, f))
		}
	}
	putKeys(t, e.store, keys)
	opts := &storage.ListOptions{Delimiter: "/"}

	c.lists()
	assert.Equal(t, want, listed(t, e.store, opts))
	assert.Equal(t, 1, len(c.lists()), "native delimiter listing")

	fold := e.folded(t)
	assert.Equal(t, want, listed(t, fold, opts))
	assert.Equal(t, 21, len(c.lists()), "delimiter folded by the layer")
}

// Pages of three entries mix objects and common prefixes, which minio-go
// hands out objects first: List merges each page in key order. A listing
// that resumes in or at a common prefix asks the server to start after
// the prefix.
func TestListDelimiterPages(t *testing.T) {
	t.Parallel()
	e, c := newCountingEnv(t, s3proto.Knobs{ListPage: 3})
	keys := []string{"a", "b/1", "b/2", "b/c/3", "c", "d/1", "e", "f", "g/1", "g/2", "h", "i/1", "j", "p/a", "p/b/1", "p/c"}
	putKeys(t, e.store, keys)
	all := []string{"a", "b/", "c", "d/", "e", "f", "g/", "h", "i/", "j", "p/"}
	c.lists()
	assert.Equal(t, all, listed(t, e.store, &storage.ListOptions{Delimiter: "/"}))
	assert.Equal(t, 4, len(c.lists()), "eleven entries in pages of three")
	assert.Equal(t, []string{"p/a", "p/b/", "p/c"}, listed(t, e.store, &storage.ListOptions{Prefix: "p/", Delimiter: "/"}))
	assert.Equal(t, []string{"b/1", "b/2", "b/c/"}, listed(t, e.store, &storage.ListOptions{Prefix: "b/", Delimiter: "/"}))
	assert.Equal(t, keys, listed(t, e.store, nil), "a listing without delimiter")

	for _, after := range []string{"g/", "g/1", "g/zzz"} {
		c.lists()
		assert.Equal(t, all[7:], listed(t, e.store, &storage.ListOptions{StartAfter: after, Delimiter: "/"}), "StartAfter %q", after)
		reqs := c.lists()
		require.NotEmpty(t, reqs)
		q, err := url.ParseQuery(reqs[0])
		require.NoError(t, err)
		assert.Equal(t, "g/", q.Get("start-after"), "StartAfter %q: the listing starts after the common prefix", after)
	}
	assert.Equal(t, []string{"p/c"}, listed(t, e.store, &storage.ListOptions{Prefix: "p/", StartAfter: "p/b/0", Delimiter: "/"}))
	assert.Equal(t, all[1:], listed(t, e.store, &storage.ListOptions{StartAfter: "a", Delimiter: "/"}))
	assert.Equal(t, []string{"p/"}, listed(t, e.store, &storage.ListOptions{StartAfter: "j", Delimiter: "/"}))
}

// A directory whose objects are all deleted is no longer listed.
func TestListDelimiterDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	putKeys(t, e.store, []string{"a/1", "a/b/2", "c", "d/1"})
	for _, k := range []string{"a/1", "a/b/2"} {
		require.NoError(t, e.store.Delete(t.Context(), k))
	}
	assert.Equal(t, []string{"c", "d/"}, listed(t, e.store, &storage.ListOptions{Delimiter: "/"}))
	assert.Empty(t, listed(t, e.store, &storage.ListOptions{Prefix: "a/", Delimiter: "/"}))
}

// BenchmarkListDelimiter lists one level of 100 directories of 100 files
// each with the Delimiter "/": natively (one request) and folded by the
// layer, as before the driver listed by delimiter (one request per
// directory, each reading a page under it).
func BenchmarkListDelimiter(b *testing.B) {
	e := newEnv(b, nil)
	var keys []string
	for d := range 100 {
		for f := range 100 {
			keys = append(keys, fmt.Sprintf("dir%03d/file%03d", d, f))
		}
	}
	putKeys(b, e.store, keys)
	opts := &storage.ListOptions{Delimiter: "/"}
	for _, bc := range []struct {
		name string
		p    storage.Provider
	}{
		{"fold", e.folded(b)},
		{"native", e.store},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				for _, err := range bc.p.List(b.Context(), opts) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 100 {
					b.Fatalf("listed %d entries, want 100", n)
				}
			}
		})
	}
}

// MinIO rolls up a directory of a versioned bucket whose objects are all
// deleted (delete markers only) into a common prefix: List drops it, as a
// listing without delimiter shows nothing under it.
func TestListDelimiterVersioned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	require.NoError(t, e.srv.Client().SetBucketVersioning(t.Context(), e.bucket,
		miniogo.BucketVersioningConfiguration{Status: "Enabled"}))
	putKeys(t, e.store, []string{"a/1", "a/b/2", "c", "d/1"})
	for _, k := range []string{"a/1", "a/b/2"} {
		require.NoError(t, e.store.Delete(t.Context(), k))
	}
	assert.Equal(t, []string{"c", "d/"}, listed(t, e.store, &storage.ListOptions{Delimiter: "/"}))
	assert.Empty(t, listed(t, e.store, &storage.ListOptions{Prefix: "a/", Delimiter: "/"}))
	assert.Equal(t, []string{"c", "d/"}, listed(t, e.store, &storage.ListOptions{StartAfter: "a/1", Delimiter: "/"}))
}
