package s3driver_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

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
		}
		keys = append(keys, info.Key)
	}
	return keys
}

// foldedStore returns a Store on bucket that leaves delimiter listings to
// the shared layer (s3proto.Knobs.FoldDelimiter), as the driver did before
// it listed by delimiter on the server.
func foldedStore(t testing.TB, srv *miniotest.Server, bucket string, change func(*s3.Config)) *s3.Store {
	t.Helper()
	cfg := testConfig(srv, bucket)
	if change != nil {
		change(&cfg)
	}
	st, err := s3.New(s3proto.WithKnobs(t.Context(), s3proto.Knobs{FoldDelimiter: true}), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// One level of 20 directories of 50 files each is one ListObjectsV2
// request: the server rolls the directories up. Folding in the layer (the
// driver without Options.Delimiter) lists the first key of each directory
// and starts a new listing after it: 21 requests.
func TestListDelimiterOneRequest(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, srv := newTestStore(t, func(c *s3.Config) { c.HTTPClient = hc })
	var keys, want []string
	for d := range 20 {
		want = append(want, fmt.Sprintf("dir%02d/", d))
		for f := range 50 {
			keys = append(keys, fmt.Sprintf("dir%02d/file%02d", d, f))
		}
	}
	putKeys(t, st, keys)
	opts := &storage.ListOptions{Delimiter: "/"}

	rec.reset()
	assert.Equal(t, want, listed(t, st, opts))
	assert.Equal(t, 1, len(rec.requests("ListObjectsV2")), "native delimiter listing")

	fold := foldedStore(t, srv, st.Bucket(), func(c *s3.Config) { c.HTTPClient = hc })
	rec.reset()
	assert.Equal(t, want, listed(t, fold, opts))
	assert.Equal(t, 21, len(rec.requests("ListObjectsV2")), "delimiter folded by the layer")
}

// Pages of three entries mix objects and common prefixes, which S3 sends in
// two lists: List merges them in key order. A listing that resumes in or
// at a common prefix asks the server to start after the prefix.
func TestListDelimiterPages(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newKnobStore(t, s3proto.Knobs{ListPage: 3}, func(c *s3.Config) { c.HTTPClient = hc })
	keys := []string{"a", "b/1", "b/2", "b/c/3", "c", "d/1", "e", "f", "g/1", "g/2", "h", "i/1", "j", "p/a", "p/b/1", "p/c"}
	putKeys(t, st, keys)
	all := []string{"a", "b/", "c", "d/", "e", "f", "g/", "h", "i/", "j", "p/"}
	rec.reset()
	assert.Equal(t, all, listed(t, st, &storage.ListOptions{Delimiter: "/"}))
	assert.Equal(t, 4, len(rec.requests("ListObjectsV2")), "eleven entries in pages of three")
	assert.Equal(t, []string{"p/a", "p/b/", "p/c"}, listed(t, st, &storage.ListOptions{Prefix: "p/", Delimiter: "/"}))
	assert.Equal(t, []string{"b/1", "b/2", "b/c/"}, listed(t, st, &storage.ListOptions{Prefix: "b/", Delimiter: "/"}))

	for _, after := range []string{"g/", "g/1", "g/zzz"} {
		rec.reset()
		assert.Equal(t, all[7:], listed(t, st, &storage.ListOptions{StartAfter: after, Delimiter: "/"}), "StartAfter %q", after)
		reqs := rec.requests("ListObjectsV2")
		require.NotEmpty(t, reqs)
		q, err := url.ParseQuery(reqs[0].query)
		require.NoError(t, err)
		assert.Equal(t, "g/", q.Get("start-after"), "StartAfter %q: the listing starts after the common prefix", after)
	}
	assert.Equal(t, []string{"p/c"}, listed(t, st, &storage.ListOptions{Prefix: "p/", StartAfter: "p/b/0", Delimiter: "/"}))
	assert.Equal(t, all[1:], listed(t, st, &storage.ListOptions{StartAfter: "a", Delimiter: "/"}))
	assert.Equal(t, []string{"p/"}, listed(t, st, &storage.ListOptions{StartAfter: "j", Delimiter: "/"}))
}

// A directory whose objects are all deleted is no longer listed.
func TestListDelimiterDeleted(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, nil)
	putKeys(t, st, []string{"a/1", "a/b/2", "c", "d/1"})
	for _, k := range []string{"a/1", "a/b/2"} {
		require.NoError(t, st.Delete(t.Context(), k))
	}
	assert.Equal(t, []string{"c", "d/"}, listed(t, st, &storage.ListOptions{Delimiter: "/"}))
	assert.Empty(t, listed(t, st, &storage.ListOptions{Prefix: "a/", Delimiter: "/"}))
}

// BenchmarkListDelimiter lists one level of 100 directories of 100 files
// each with the Delimiter "/": natively (one request) and folded by the
// layer, as before the driver listed by delimiter (one request per
// directory, each reading a page under it).
func BenchmarkListDelimiter(b *testing.B) {
	st, srv := newTestStore(b, nil)
	var keys []string
	for d := range 100 {
		for f := range 100 {
			keys = append(keys, fmt.Sprintf("dir%03d/file%03d", d, f))
		}
	}
	putKeys(b, st, keys)
	opts := &storage.ListOptions{Delimiter: "/"}
	for _, bc := range []struct {
		name string
		p    storage.Provider
	}{
		{"fold", foldedStore(b, srv, st.Bucket(), nil)},
		{"native", st},
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
	st, _ := newTestStore(t, nil)
	_, err := st.Client().PutBucketVersioning(t.Context(), &awss3.PutBucketVersioningInput{
		Bucket:                  aws.String(st.Bucket()),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	require.NoError(t, err)
	putKeys(t, st, []string{"a/1", "a/b/2", "c", "d/1"})
	for _, k := range []string{"a/1", "a/b/2"} {
		require.NoError(t, st.Delete(t.Context(), k))
	}
	assert.Equal(t, []string{"c", "d/"}, listed(t, st, &storage.ListOptions{Delimiter: "/"}))
	assert.Empty(t, listed(t, st, &storage.ListOptions{Prefix: "a/", Delimiter: "/"}))
	assert.Equal(t, []string{"c", "d/"}, listed(t, st, &storage.ListOptions{StartAfter: "a/1", Delimiter: "/"}))
}
