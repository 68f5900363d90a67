package s3proto

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestDelimitedStart(t *testing.T) {
	for _, tc := range []struct{ prefix, after, want string }{
		{"", "", ""},
		{"", "a", "a"},
		{"", "a/", "a/"},
		{"", "a/b", "a/"},
		{"", "a/b/c", "a/"},
		{"a/", "a/b/c", "a/b/"},
		{"a/", "a/b", "a/b"},
		{"a/", "a", "a"},
		{"a/", "b/c", "b/c"},
		{"a", "a/b", "a/"},
	} {
		assert.Equal(t, tc.want, DelimitedStart(tc.prefix, tc.after), "prefix %q, after %q", tc.prefix, tc.after)
	}
}

func TestPrefixListable(t *testing.T) {
	assert.True(t, PrefixListable("a/"))
	assert.True(t, PrefixListable("a/b/"))
	for _, cp := range []string{"/", "a//", "./", "a/../", "a\\/"} {
		assert.False(t, PrefixListable(cp), "%q", cp)
	}
}

func TestMergePage(t *testing.T) {
	infos := func(prefix bool, keys ...string) []storage.Info {
		var out []storage.Info
		for _, k := range keys {
			out = append(out, storage.Info{Key: k, IsPrefix: prefix})
		}
		return out
	}
	var got []string
	ok := MergePage(infos(false, "a", "c", "e"), infos(true, "b/", "d/", "f/", "g/"), func(i storage.Info) bool {
		got = append(got, i.Key)
		return true
	})
	assert.True(t, ok)
	assert.Equal(t, []string{"a", "b/", "c", "d/", "e", "f/", "g/"}, got)

	got = nil
	ok = MergePage(infos(false, "a", "c"), infos(true, "b/"), func(i storage.Info) bool {
		got = append(got, i.Key)
		return len(got) < 2
	})
	assert.False(t, ok, "yield stopped")
	assert.Equal(t, []string{"a", "b/"}, got)
	assert.True(t, MergePage(nil, nil, func(storage.Info) bool { t.Fatal("yielded"); return false }))
}

func TestCountRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	var s Server
	c := &http.Client{Transport: s.Transport(nil)}
	ctx, n := CountRequests(t.Context())
	for _, tc := range []struct {
		req  func() (*http.Request, error)
		want int64
	}{
		{func() (*http.Request, error) { return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil) }, 1},
		{func() (*http.Request, error) {
			return http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		}, 1},
		{func() (*http.Request, error) { return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil) }, 2},
	} {
		req, err := tc.req()
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, tc.want, n.Load())
	}
}

func TestVersioningConfirm(t *testing.T) {
	ctx := t.Context()
	minio, other := &Server{}, &Server{}
	minio.Observe(http.Header{"Server": {"MinIO"}})
	other.Observe(http.Header{"Server": {"AmazonS3"}})
	calls := 0
	answer := func(on bool, err error) func(context.Context) (bool, error) {
		return func(context.Context) (bool, error) { calls++; return on, err }
	}

	var v Versioning
	got, err := v.Confirm(ctx, other, answer(true, nil))
	require.NoError(t, err)
	assert.False(t, got, "AWS S3 lists no prefix of deleted objects")
	assert.Zero(t, calls, "no GetBucketVersioning off MinIO")

	got, err = v.Confirm(ctx, minio, answer(false, errors.New("AccessDenied")))
	require.NoError(t, err)
	assert.True(t, got, "an unknown versioning confirms")
	got, err = v.Confirm(ctx, minio, answer(false, nil))
	require.NoError(t, err)
	assert.False(t, got)
	got, err = v.Confirm(ctx, minio, answer(true, nil))
	require.NoError(t, err)
	assert.False(t, got, "no versions, remembered for a while")
	assert.Equal(t, 2, calls, "the error is not remembered, the answer is")

	var w Versioning
	got, err = w.Confirm(ctx, minio, answer(true, nil))
	require.NoError(t, err)
	assert.True(t, got)
	got, err = w.Confirm(ctx, minio, answer(false, nil))
	require.NoError(t, err)
	assert.True(t, got, "versions, remembered")
	assert.Equal(t, 3, calls)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = new(Versioning).Confirm(cctx, minio, answer(false, context.Canceled))
	require.ErrorIs(t, err, context.Canceled)
}
