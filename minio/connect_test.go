package minio

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/testnet"
	"github.com/strata-storage/strata/storage"
)

// A minio:// URL is HTTPS unless it says secure=false; when the server
// speaks plain HTTP the error says so at once, with what to add to the
// URL, and nothing is retried.
func TestPlainHTTPServerWithSecureURL(t *testing.T) {
	t.Parallel()
	host, conns := testnet.CountingServer(t, http.NotFoundHandler())
	p, err := New(t.Context(), Config{Endpoint: host, Bucket: "media", Secure: true, AccessKey: "AKIDFAKE", SecretKey: "fake-secret", MaxRetries: 5})
	require.NoError(t, err)
	defer p.Close()
	// MaxRetries 5 would make a retried call dial 5 times or more.
	calls := map[string]func() error{
		"list": func() error {
			for _, err := range p.List(t.Context(), nil) {
				return err
			}
			return nil
		},
		"stat": func() error { _, err := p.Stat(t.Context(), "k"); return err },
		"get":  func() error { _, _, err := p.Get(t.Context(), "k", nil); return err },
		"put":  func() error { _, err := p.Put(t.Context(), "k", strings.NewReader("data"), nil); return err },
	}
	for name, call := range calls {
		before := conns.Load()
		err := call()
		require.ErrorIs(t, err, storage.ErrInvalidArgument, name)
		assert.NotErrorIs(t, err, storage.ErrUnavailable, name)
		assert.Contains(t, err.Error(), "plain HTTP", name)
		assert.Contains(t, err.Error(), host+" speaks plain HTTP", name)
		assert.Contains(t, err.Error(), "secure=false", name)
		assert.NotContains(t, err.Error(), "\n", name)
		assert.LessOrEqual(t, conns.Load()-before, int32(2), "%s: no retries", name)
	}
}
