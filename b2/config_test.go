package b2

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/storage"
)

func TestConfigFromURL(t *testing.T) {
	u, err := url.Parse("b2://media?part_size=32MiB&concurrency=8&max_retries=-1&retry_timeout=30s&min_backoff=10ms&max_backoff=1s&delete=hide&api_base=http%3A%2F%2F127.0.0.1%3A1")
	require.NoError(t, err)
	cfg, err := ConfigFromURL(u)
	require.NoError(t, err)
	require.Equal(t, Config{
		Bucket: "media", PartSize: 32 << 20, Concurrency: 8, MaxRetries: -1, RetryTimeout: 30 * time.Second,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: time.Second, DeleteMode: DeleteHide, APIBase: "http://127.0.0.1:1",
	}, cfg)

	u, _ = url.Parse("b2://media?part_size=5MB")
	cfg, err = ConfigFromURL(u)
	require.NoError(t, err)
	require.EqualValues(t, 5_000_000, cfg.PartSize)

	for _, raw := range []string{
		"b2://keyid:s3cr3tkey@media?part_size=5MB", // credentials come from the environment only
		"b2://keyid:s3cr3tkey@media?nope=1",
		"b2://keyid:s3cr3tkey@media?part_size=lots",
		"b2://keyid:s3cr3tkey@media?delete=sometimes",
		"b2://keyid:s3cr3tkey@media/path",
		"b2://keyid:s3cr3tkey@",
		"b2://keyid@media",
		"s3://keyid:s3cr3tkey@media",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		_, err = ConfigFromURL(u)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, raw)
		require.NotContains(t, err.Error(), "s3cr3tkey", raw)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	t.Setenv(EnvKeyID, "env-id")
	t.Setenv(EnvApplicationKey, "env-key")
	cfg, err := Config{Bucket: "b"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, "env-id", cfg.KeyID)
	require.Equal(t, "env-key", cfg.ApplicationKey)
	require.EqualValues(t, DefaultPartSize, cfg.PartSize)
	require.Equal(t, DefaultConcurrency, cfg.Concurrency)
	require.Equal(t, DefaultMaxRetries, cfg.MaxRetries)
	require.Equal(t, DefaultRetryTimeout, cfg.RetryTimeout)
	require.Equal(t, DeleteAllVersions, cfg.DeleteMode)

	cfg, err = Config{Bucket: "b", MaxRetries: -1}.withDefaults()
	require.NoError(t, err)
	require.Zero(t, cfg.MaxRetries, "negative means no retry")

	t.Setenv(EnvKeyID, "")
	t.Setenv(EnvApplicationKey, "")
	for _, cfg := range []Config{
		{KeyID: "id", ApplicationKey: "topsecret"},
		{Bucket: "b"},
		{Bucket: "b", KeyID: "id"},
		{Bucket: "b", KeyID: "id", ApplicationKey: "topsecret", PartSize: 1 << 20},
		{Bucket: "b", KeyID: "id", ApplicationKey: "topsecret", DeleteMode: 7},
	} {
		_, err := New(context.Background(), cfg)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, "%+v", cfg)
		require.NotContains(t, err.Error(), "topsecret")
	}
}

func TestOpenURL(t *testing.T) {
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	t.Setenv(EnvKeyID, e.keyID)
	t.Setenv(EnvApplicationKey, e.key)
	ctx := deadlineCtx(t, faultDeadline)
	p, err := storage.Open(ctx, "b2://"+e.bucket+"?delete=hide&max_retries=1&api_base="+url.QueryEscape(srv.URL))
	require.NoError(t, err)
	defer p.Close()
	st := p.(*Store)
	require.Equal(t, DeleteHide, st.c.cfg.DeleteMode)
	require.Equal(t, 1, st.c.cfg.MaxRetries)
	_, err = p.Put(ctx, "k", reader("v"), nil)
	require.NoError(t, err)

	// Credentials in the URL are refused, even beside good ones in the
	// environment, and stay out of errors.
	_, err = storage.Open(ctx, "b2://"+e.keyID+":wrongkey@"+e.bucket+"?api_base="+url.QueryEscape(srv.URL))
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
	require.NotContains(t, err.Error(), "wrongkey")
}

func TestReadUpTo(t *testing.T) {
	const limit = 200_000
	for _, size := range []int{0, 1, 65_535, 65_536, limit - 1, limit, limit + 1, 3 * limit} {
		for _, hint := range []int64{0, int64(size), limit * 2} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i)
			}
			buf, err := readUpTo(onlyReader{bytes.NewReader(data)}, limit, hint)
			require.LessOrEqual(t, cap(buf), limit, "size %d hint %d: no more than one part of memory", size, hint)
			if size < limit {
				require.ErrorIs(t, err, io.EOF, "size %d hint %d", size, hint)
				require.Equal(t, data, buf)
				continue
			}
			require.NoError(t, err, "size %d hint %d", size, hint)
			require.Equal(t, data[:limit], buf)
		}
	}
}
