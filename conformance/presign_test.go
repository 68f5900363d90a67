package conformance_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// presigning is a memory store with an HTTP server on loopback that serves
// HMAC-signed, expiring download URLs, so that the suite's Presign
// subtests run against something real.
type presigning struct {
	*memory.Store
	srv    *httptest.Server
	secret []byte
}

var _ storage.Presigner = (*presigning)(nil)

func newPresigning(t *testing.T) *presigning {
	p := &presigning{Store: memory.New(), secret: []byte("test-only secret")}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *presigning) sign(key string, exp int64) string {
	m := hmac.New(sha256.New, p.secret)
	m.Write([]byte(strconv.FormatInt(exp, 10) + "\x00" + key))
	return hex.EncodeToString(m.Sum(nil))
}

func (p *presigning) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	// Stat checks Close, the context and the key; a missing key is fine
	// (the URL then answers 404).
	if _, err := p.Stat(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	if expiry <= 0 {
		return "", &storage.Error{Op: "presign", Provider: "presigning", Key: key, Kind: storage.ErrInvalidArgument}
	}
	exp := time.Now().Add(expiry).UnixMilli()
	q := url.Values{"key": {key}, "exp": {strconv.FormatInt(exp, 10)}, "sig": {p.sign(key, exp)}}
	return p.srv.URL + "/get?" + q.Encode(), nil
}

func (p *presigning) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(p.sign(key, exp))) || time.Now().UnixMilli() > exp {
		http.Error(w, "bad or expired signature", http.StatusForbidden)
		return
	}
	rc, info, err := p.Get(r.Context(), key, nil)
	if errors.Is(err, storage.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if info.ContentType != "" {
		w.Header().Set("Content-Type", info.ContentType)
	}
	http.ServeContent(w, r, "", info.ModTime, bytes.NewReader(b))
}

// TestPresigningProvider runs the whole suite, Presign subtests included,
// against a provider that declares the ability.
func TestPresigningProvider(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		New:     func(t *testing.T) storage.Provider { return newPresigning(t) },
		Presign: true,
		Copy:    true,
	})
}

// Flush makes presigning a storage.Flusher too, so the Flush subtests run:
// a memory store has nothing to flush.
func (p *presigning) Flush(ctx context.Context) error {
	if _, err := p.Stat(ctx, "flush-probe"); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}
