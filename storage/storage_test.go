package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestValidKey(t *testing.T) {
	good := []string{
		"a", "a/b", "a/b/c.jpg", ".hidden", "a/.b", "a..b", "...", "with space", "ünï/cödé",
		"local_content/ab/cd/efghijkl", "%41+?#&=", strings.Repeat(strings.Repeat("k", 249)+"/", 4) + strings.Repeat("k", 24),
		strings.Repeat("s", storage.MaxSegmentLen),
	}
	for _, k := range good {
		assert.NoError(t, storage.ValidKey(k), "key %q", k)
	}
	bad := map[string]string{
		"":              "empty",
		"/a":            "leading slash",
		"a/":            "trailing slash",
		"a//b":          "empty segment",
		".":             "dot",
		"..":            "dotdot",
		"a/../b":        "dotdot segment",
		"a/./b":         "dot segment",
		"../etc/passwd": "escape",
		"a\x00b":        "NUL",
		"a\nb":          "newline",
		"a\x7fb":        "DEL",
		"a\u0085b":      "C1 control",
		"a\\b":          "backslash",
		"\xff\xfe":      "bad UTF-8",
		strings.Repeat("k/", storage.MaxKeyLen/2) + "k": "too long",
		strings.Repeat("s", storage.MaxSegmentLen+1):    "segment too long",
	}
	for k, why := range bad {
		err := storage.ValidKey(k)
		require.Error(t, err, "%s: %q", why, k)
		assert.ErrorIs(t, err, storage.ErrInvalidKey, why)
		assert.ErrorIs(t, err, fs.ErrInvalid, why)
	}
}

func TestValidMetadata(t *testing.T) {
	assert.NoError(t, storage.ValidMetadata(nil))
	assert.NoError(t, storage.ValidMetadata(map[string]string{"uploader": "@alice:example.org", "x-1": ""}))
	bad := []map[string]string{
		{"Upper": "v"},
		{"1abc": "v"},
		{"under_score": "v"},
		{"strata-sha256": "v"},
		{"k": "new\nline"},
		{"k": "ünicode"},
		{"k": strings.Repeat("v", storage.MaxMetadataValueLen+1)},
		{strings.Repeat("k", storage.MaxMetadataKeyLen+1): "v"},
		{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9"},
		{"a": strings.Repeat("v", 1000), "b": strings.Repeat("v", 1000), "c": strings.Repeat("v", 100)},
	}
	for _, md := range bad {
		assert.ErrorIs(t, storage.ValidMetadata(md), storage.ErrInvalidArgument, "%v", md)
	}
}

func TestCheckRange(t *testing.T) {
	cases := []struct {
		r       *storage.Range
		size    int64
		off, n  int64
		wantErr bool
	}{
		{nil, 10, 0, 10, false},
		{&storage.Range{}, 10, 0, 10, false},
		{&storage.Range{Offset: 3}, 10, 3, 7, false},
		{&storage.Range{Offset: 3, Length: 2}, 10, 3, 2, false},
		{&storage.Range{Offset: 8, Length: 5}, 10, 8, 2, false},
		{&storage.Range{Offset: 9, Length: 1}, 10, 9, 1, false},
		{&storage.Range{Offset: 10}, 10, 0, 0, true},
		{&storage.Range{Offset: -1}, 10, 0, 0, true},
		{&storage.Range{}, 0, 0, 0, false},
		{&storage.Range{Offset: 1}, 0, 0, 0, true},
	}
	for _, c := range cases {
		off, n, err := storage.CheckRange(c.r, c.size)
		if c.wantErr {
			assert.ErrorIs(t, err, storage.ErrInvalidRange, "%+v size %d", c.r, c.size)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, c.off, off)
		assert.Equal(t, c.n, n)
	}
}

func TestErrorUnwrapsToKindAndCause(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	err := storage.NewError("get", "local", "a/b", storage.ErrNotFound, cause)
	assert.ErrorIs(t, err, storage.ErrNotFound)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/x", pe.Path)
	var se *storage.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "a/b", se.Key)
	assert.Contains(t, err.Error(), `local get "a/b": object not found`)
	assert.NoError(t, storage.NewError("get", "x", "k", nil, nil))

	ctxErr := storage.NewError("put", "s3", "k", storage.ErrUnavailable, context.Canceled)
	assert.True(t, storage.IsContextError(ctxErr))
	assert.ErrorIs(t, storage.ErrUnsupported, errors.ErrUnsupported)
	assert.ErrorIs(t, storage.ErrClosed, fs.ErrClosed)
	assert.ErrorIs(t, storage.ErrExist, fs.ErrExist)
	assert.ErrorIs(t, storage.ErrPermission, fs.ErrPermission)
}

func TestCheckSize(t *testing.T) {
	assert.NoError(t, storage.CheckSize(nil, 5))
	assert.NoError(t, storage.CheckSize(&storage.PutOptions{}, 5))
	assert.NoError(t, storage.CheckSize(&storage.PutOptions{Size: 5}, 5))
	err := storage.CheckSize(&storage.PutOptions{Size: 6}, 5)
	assert.ErrorIs(t, err, storage.ErrSizeMismatch)
	assert.Contains(t, err.Error(), "yielded 5 bytes")
}

func TestHashingReader(t *testing.T) {
	h := storage.NewHashingReader(strings.NewReader("hello"))
	buf := make([]byte, 16)
	n, _ := h.Read(buf)
	assert.Equal(t, 5, n)
	assert.EqualValues(t, 5, h.N())
	assert.Equal(t, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", h.SHA256())
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := storage.Open(ctx, "nosuchscheme://bucket")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `unknown URL scheme "nosuchscheme"`)

	_, err = storage.Open(ctx, "just-a-path")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "no scheme")

	_, err = storage.Open(ctx, "nosuch://AKIAEXAMPLE:s3cr3tPassw0rd@bucket?secret_key=topsecret&region=eu")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3tPassw0rd")
	assert.NotContains(t, err.Error(), "topsecret")
	assert.Contains(t, err.Error(), "region=eu")

	_, err = storage.Open(ctx, "s3://user:pa ss%zz@bucket")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "pa ss")
}

func TestRegisterAndOpen(t *testing.T) {
	var got *url.URL
	storage.Register("teststub", func(_ context.Context, u *url.URL) (storage.Provider, error) {
		got = u
		return nil, storage.NewError("open", "teststub", "", storage.ErrUnsupported, nil)
	})
	_, err := storage.Open(context.Background(), "TESTSTUB://host/path?x=1")
	assert.ErrorIs(t, err, storage.ErrUnsupported)
	require.NotNil(t, got)
	assert.Equal(t, "host", got.Host)
	assert.Contains(t, storage.Schemes(), "teststub")
	assert.Panics(t, func() {
		storage.Register("teststub", func(context.Context, *url.URL) (storage.Provider, error) { return nil, nil })
	})
}

func TestRedact(t *testing.T) {
	u, err := url.Parse("s3://AKIA:secretvalue@bucket/p?region=us-east-1&access_key=AKIA2&session_token=Ztok9&endpoint=http://x")
	require.NoError(t, err)
	s := storage.Redact(u)
	for _, secret := range []string{"secretvalue", "AKIA2", "Ztok9", "AKIA:"} {
		assert.NotContains(t, s, secret)
	}
	assert.Contains(t, s, "region=us-east-1")
	assert.Contains(t, s, "bucket")
	assert.Equal(t, "", storage.Redact(nil))
}
