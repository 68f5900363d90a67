package s3

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// Over plain HTTP a PutObject is signed with its payload's SHA-256, which
// strata hands the SDK from the hash it computed while reading the object
// (the SDK would otherwise read the body a second time to compute it). The
// server checks the signed hash against the bytes it got, as S3 and MinIO
// do: a wrong hash would be refused.
func TestPutSignsPayloadHash(t *testing.T) {
	var (
		mu      sync.Mutex
		signed  []string
		correct []bool
	)
	st, _ := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			errorXML(w, r, http.StatusNotImplemented, "NotImplemented")
			return
		}
		body, _ := io.ReadAll(r.Body)
		s := sha256.Sum256(body)
		h := r.Header.Get("X-Amz-Content-Sha256")
		mu.Lock()
		signed = append(signed, h)
		correct = append(correct, h == hex.EncodeToString(s[:]))
		mu.Unlock()
		w.Header().Set("ETag", `"0123"`)
	}, func(c *Config) { c.PrefixCheck = PrefixCheckOff })
	for _, data := range [][]byte{[]byte("a small object"), bytes.Repeat([]byte("x"), 3<<20), {}} {
		for _, o := range []*storage.PutOptions{nil, {Size: int64(len(data))}} {
			info, err := st.Put(t.Context(), "k", onlyReader{bytes.NewReader(data)}, o)
			require.NoError(t, err)
			want := sha256.Sum256(data)
			assert.Equal(t, hex.EncodeToString(want[:]), info.SHA256)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, signed, 6)
	for i := range signed {
		assert.True(t, correct[i], "request %d signed with %q, not its payload's SHA-256", i, signed[i])
	}
}
