package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/metrics"
)

// signingRemote is a memory store that presigns (with a made-up URL), as
// s3 and minio do without asking the server.
type signingRemote struct{ *memory.Store }

func (signingRemote) PresignGet(_ context.Context, key string, _ time.Duration) (string, error) {
	return "http://127.0.0.1:1/signed/" + key, nil
}

// A store wrapped for metrics redirects exactly when the store it wraps
// can presign: the wrapper's PresignGet passes the ability through.
func TestRedirectThroughMetricsWrapper(t *testing.T) {
	m := metrics.New(nil)
	_, err := httpserve.NewHandler(m.Wrap(memory.New(), "mem"), &httpserve.Options{Redirect: true})
	require.ErrorIs(t, err, httpserve.ErrCannotRedirect, "memory cannot presign, wrapped or not")

	p := m.Wrap(signingRemote{memory.New()}, "signing")
	defer p.Close()
	_, err = p.Put(t.Context(), "a/b", strings.NewReader("x"), nil)
	require.NoError(t, err)
	h, err := httpserve.NewHandler(p, &httpserve.Options{Prefix: "/media/", Redirect: true})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/media/a/b", nil))
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, "http://127.0.0.1:1/signed/a/b", w.Header().Get("Location"))
}
