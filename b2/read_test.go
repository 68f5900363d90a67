package b2

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/storage"
)

// damage says what damagingTransport does to the next download bodies.
type damage int32

const (
	intact damage = iota
	flipByte
	resetMidway
)

// damagingTransport changes the bodies of downloads (GET /file/...) as
// mode says: the bytes B2 stored are fine, what arrives is not.
type damagingTransport struct {
	next http.RoundTripper
	mode atomic.Int32
}

func (t *damagingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/file/") {
		return resp, err
	}
	switch damage(t.mode.Load()) {
	case flipByte:
		resp.Body = &flippingBody{ReadCloser: resp.Body}
	case resetMidway:
		resp.Body = &resettingBody{ReadCloser: resp.Body}
	}
	return resp, nil
}

// flippingBody inverts the first byte it returns.
type flippingBody struct {
	io.ReadCloser
	done bool
}

func (b *flippingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && !b.done {
		p[0] ^= 0xff
		b.done = true
	}
	return n, err
}

// resettingBody returns one byte, then fails as a dropped connection does.
type resettingBody struct {
	io.ReadCloser
	n int
}

func (b *resettingBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		return 0, errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer")
	}
	b.n++
	return b.ReadCloser.Read(p[:1])
}

// A whole-object Get checks what arrives against the SHA-256 strata
// stored, or, for an object without one (written by another tool), against
// the SHA1 B2 stored; a connection that breaks mid-body is
// storage.ErrUnavailable, not a short object.
func TestGetChecksWhatArrives(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	tr := &damagingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	st := e.open(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: tr}; c.MaxRetries = 1 })
	ctx := deadlineCtx(t, faultDeadline)

	_, err := st.Put(ctx, "strata", reader("written by strata"), nil)
	require.NoError(t, err)
	_, err = st.c.uploadSmall(ctx, "foreign", []byte("written by another tool"), "text/plain", nil)
	require.NoError(t, err)
	info, err := st.Stat(ctx, "foreign")
	require.NoError(t, err)
	require.Empty(t, info.SHA256, "no strata-sha256: only B2's SHA1 can check it")

	read := func(key string, rng *storage.Range) (string, error) {
		rc, _, err := st.Get(ctx, key, &storage.GetOptions{Range: rng})
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	for _, key := range []string{"strata", "foreign"} {
		tr.mode.Store(int32(intact))
		_, err := read(key, nil)
		require.NoError(t, err, key)

		tr.mode.Store(int32(flipByte))
		_, err = read(key, nil)
		require.ErrorIs(t, err, storage.ErrCorrupt, key)
		// A range cannot be checked against the whole object's hash.
		got, err := read(key, &storage.Range{Offset: 1})
		require.NoError(t, err, key)
		require.NotEmpty(t, got)

		tr.mode.Store(int32(resetMidway))
		_, err = read(key, nil)
		require.ErrorIs(t, err, storage.ErrUnavailable, key)
		require.NotErrorIs(t, err, storage.ErrCorrupt, key)
		require.Contains(t, err.Error(), "connection reset", key)
	}
}
