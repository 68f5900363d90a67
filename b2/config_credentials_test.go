package b2_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2"
	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/storage"
)

// TestOpenRefusesCredentialsInURL: a b2:// URL that carries a key ID or an
// application key is refused before any request, as s3:// and minio://
// URLs are, and the error does not repeat the application key. The keys
// are the emulator's real ones, so the Open would succeed if the URL were
// taken.
func TestOpenRefusesCredentialsInURL(t *testing.T) {
	emu := b2test.New(nil)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id, secret := emu.MasterKey()
	api := "?api_base=" + url.QueryEscape(srv.URL)
	for _, raw := range []string{
		"b2://" + id + ":" + secret + "@" + emu.DefaultBucket() + api,
		"b2://" + id + ":" + url.PathEscape(secret) + "@" + emu.DefaultBucket() + api + "&part_size=5MB",
		"b2://:" + secret + "@" + emu.DefaultBucket() + api,
		"b2://" + id + "@" + emu.DefaultBucket() + api,
		"b2://" + id + ":@" + emu.DefaultBucket() + api,
	} {
		p, err := storage.Open(context.Background(), raw)
		if err == nil {
			p.Close()
		}
		require.ErrorIs(t, err, storage.ErrInvalidArgument, "Open of a URL with credentials")
		require.NotContains(t, err.Error(), secret, "the application key leaked")
		require.NotContains(t, err.Error(), id, "the key ID leaked")
		require.Contains(t, err.Error(), b2.EnvApplicationKey, "the error says where credentials go")

		u, perr := url.Parse(raw)
		require.NoError(t, perr)
		_, err = b2.ConfigFromURL(u)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		require.NotContains(t, err.Error(), secret)
	}
	require.Zero(t, requests.Load(), "requests sent for a URL that must be refused")
}
