package s3

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestCreateBucketAnswers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex // the handler runs on the server's goroutines
	var body string
	status, code := http.StatusOK, ""
	answer := func(s int, c string) {
		mu.Lock()
		defer mu.Unlock()
		status, code = s, c
	}
	st, n := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		body = string(b)
		if code != "" {
			errorXML(w, r, status, code)
		}
	}, func(c *Config) { c.Region = "eu-west-1" })
	require.NoError(t, st.CreateBucket(t.Context()))
	mu.Lock()
	assert.Contains(t, body, "<LocationConstraint>eu-west-1</LocationConstraint>")
	mu.Unlock()

	answer(http.StatusConflict, "BucketAlreadyOwnedByYou")
	err := st.CreateBucket(t.Context())
	require.ErrorIs(t, err, storage.ErrExist)

	answer(http.StatusConflict, "BucketAlreadyExists")
	err = st.CreateBucket(t.Context())
	require.ErrorIs(t, err, storage.ErrPermission)
	assert.Contains(t, err.Error(), "another account's")

	answer(http.StatusNotFound, "NoSuchBucket")
	for _, err := range st.List(t.Context(), nil) {
		require.ErrorIs(t, err, storage.ErrNoBucket)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		require.NotErrorIs(t, err, storage.ErrNotFound)
	}
	assert.Equal(t, int32(4), n.Load())
}
