package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
)

// health is what /healthz answers, as far as the tests look.
type health struct {
	Status         string `json:"status"`
	Remote         string `json:"remote"`
	RemoteError    string `json:"remote_error"`
	PendingUploads int    `json:"pending_uploads"`
}

func healthz(t *testing.T, base string) health {
	t.Helper()
	resp, body := get(t, base+"/healthz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "/healthz answers 200 even when degraded, so a load balancer keeps the instance: %s", body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var h health
	require.NoError(t, json.Unmarshal(body, &h), "/healthz body %q", body)
	return h
}

// waitHealth polls /healthz until its status is want (the remote's state
// is probed at most once a second) and returns it.
func waitHealth(t *testing.T, base, want string) health {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := healthz(t, base)
		if h.Status == want {
			return h
		}
		require.True(t, time.Now().Before(deadline), "/healthz still says %+v", h)
		time.Sleep(100 * time.Millisecond) // another process: no clock to inject
	}
}

// A write-behind server over MinIO takes uploads while MinIO is down,
// survives kill -9, starts again while MinIO is still down (reporting the
// remote as degraded), and once MinIO is back every acknowledged upload
// reaches it with the right SHA-256.
func TestWriteBehindOutageKillRestart(t *testing.T) {
	srv := miniotest.StartFresh(t, nil)
	bucket := srv.NewBucket(t)
	remote := fmt.Sprintf("minio://%s/%s?secure=false&region=%s", srv.Endpoint, bucket, srv.Region)
	env := []string{"MINIO_ACCESS_KEY=" + srv.AccessKey, "MINIO_SECRET_KEY=" + srv.SecretKey}
	args := []string{"-remote", remote, "-write-mode", "behind", "-max-bytes", "256MiB"}
	cacheDir := t.TempDir()

	p := start(t, cacheDir, env, args...)
	require.Equal(t, health{Status: "ok", Remote: "ok"}, healthz(t, p.url))
	srv.Stop(t)

	const n = 12
	sent := map[string][]byte{}
	for i := range n {
		data := conformance.RandomBytes(uint64(i), 1000+i*37_000)
		resp, u := upload(t, p.url, data, "application/octet-stream")
		require.Equal(t, http.StatusCreated, resp.StatusCode, "upload %d with MinIO down; stderr:\n%s", i, p.logs())
		sum := sha256.Sum256(data)
		require.Equal(t, hex.EncodeToString(sum[:]), u.SHA256)
		sent[u.Key] = data
	}
	h := waitHealth(t, p.url, "degraded")
	assert.Equal(t, "unreachable", h.Remote)
	assert.NotEmpty(t, h.RemoteError)
	assert.Equal(t, n, h.PendingUploads)

	// kill -9: nothing is flushed.
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done

	// It starts with MinIO still down, says so, and serves the uploads.
	p = start(t, cacheDir, env, args...)
	// The warning goes to stderr before "listening" goes to stdout, but
	// the two pipes are read apart: wait for it to arrive.
	assert.Eventually(t, func() bool {
		return strings.Contains(p.logs(), "level=WARN") && strings.Contains(p.logs(), "remote is unreachable")
	}, 10*time.Second, 20*time.Millisecond, "a warning about the remote at start; stderr:\n%s", p.logs())
	h = healthz(t, p.url)
	assert.Equal(t, "degraded", h.Status)
	assert.Equal(t, "unreachable", h.Remote)
	assert.Equal(t, n, h.PendingUploads)
	for key, data := range sent {
		resp, body := get(t, p.url+"/media/"+key, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.True(t, bytes.Equal(data, body), "content of %s during the outage", key)
	}

	srv.Start(t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		h = healthz(t, p.url)
		if h.PendingUploads == 0 && h.Status == "ok" {
			break
		}
		require.True(t, time.Now().Before(deadline), "uploads not drained 3 minutes after MinIO came back: %+v; stderr:\n%s", h, p.logs())
		time.Sleep(200 * time.Millisecond) // another process: no clock to inject
	}
	assert.Equal(t, "ok", h.Remote)
	for key, data := range sent {
		obj, err := srv.Client().GetObject(t.Context(), bucket, key, miniogo.GetObjectOptions{})
		require.NoError(t, err)
		got, err := io.ReadAll(obj)
		obj.Close()
		require.NoError(t, err, "%s on MinIO", key)
		want, have := sha256.Sum256(data), sha256.Sum256(got)
		require.Equal(t, hex.EncodeToString(want[:]), hex.EncodeToString(have[:]), "SHA-256 of %s on MinIO", key)
	}
	p.stop(t)
}
