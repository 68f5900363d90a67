package tieredminio_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// newTiered returns a tiered store over remote with a fresh cache.
func newTiered(t *testing.T, remote storage.Provider, opts tiered.Options) *tiered.Store {
	t.Helper()
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 30, Now: opts.Now})
	require.NoError(t, err)
	s, err := tiered.New(c, remote, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// Over MinIO, in both modes: a browser's upload through the request
// replaces the cached object, and reads back verified against the
// SHA-256 it was signed with.
func TestPresignPutMinIO(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	for _, mode := range []tiered.Mode{tiered.WriteThrough, tiered.WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s := newTiered(t, newMinIO(t, srv), tiered.Options{Mode: mode})
			put(t, s, "media/a.png", "old")
			require.NoError(t, storage.Flush(ctxT(t), s))
			require.Equal(t, "old", get(t, s, "media/a.png"))

			body := []byte("the new picture")
			sum := sha256.Sum256(body)
			opts := &storage.PresignPutOptions{ContentType: "image/png", Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
			pr, err := storage.PresignPut(ctxT(t), s, "media/a.png", time.Minute, opts)
			require.NoError(t, err)
			req, err := http.NewRequestWithContext(ctxT(t), pr.Method, pr.URL, bytes.NewReader(body))
			require.NoError(t, err)
			for k, vs := range pr.Header {
				if http.CanonicalHeaderKey(k) != "Content-Length" {
					req.Header[k] = vs
				}
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", msg)

			b, info, err := storage.ReadAll(ctxT(t), s, "media/a.png")
			require.NoError(t, err)
			require.Equal(t, string(body), string(b))
			require.Equal(t, opts.SHA256, info.SHA256)
			require.Equal(t, "image/png", info.ContentType)
		})
	}
}
