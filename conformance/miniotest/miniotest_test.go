package miniotest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"

	"github.com/strata-storage/strata/conformance/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }

func put(t *testing.T, c *minio.Client, bucket, key, body string) {
	t.Helper()
	_, err := c.PutObject(context.Background(), bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
	require.NoError(t, err)
}

func get(t *testing.T, c *minio.Client, bucket, key string) (string, error) {
	t.Helper()
	o, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	return string(b), err
}

func TestStartRoundTrip(t *testing.T) {
	srv := miniotest.Start(t)
	host, _, err := net.SplitHostPort(srv.Endpoint)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.Equal(t, "http://"+srv.Endpoint, srv.URL)
	assert.Equal(t, "us-east-1", srv.Region)
	assert.NotEmpty(t, srv.AccessKey)
	assert.GreaterOrEqual(t, len(srv.SecretKey), 8)
	require.NotNil(t, srv.Container)

	bucket := srv.NewBucket(t)
	put(t, srv.Client(), bucket, "a/b.txt", "hello")
	got, err := get(t, srv.Client(), bucket, "a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "hello", got)

	// A client of the test's own, from the exported fields only.
	resp, err := http.Get(srv.URL + "/minio/health/live")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// dataTmpfs returns the tmpfs options of ctr's /data, or "" when /data is
// on the container's disk.
func dataTmpfs(t *testing.T, ctr testcontainers.Container) string {
	t.Helper()
	info, err := ctr.Inspect(context.Background())
	require.NoError(t, err)
	require.NotNil(t, info.HostConfig)
	return info.HostConfig.Tmpfs["/data"]
}

// tmpfsOff reports whether the environment turns tmpfs off.
func tmpfsOff() bool {
	switch strings.ToLower(os.Getenv(miniotest.EnvTmpfs)) {
	case "0", "false", "off", "no":
		return true
	}
	return false
}

// TestStartTmpfs checks that the shared server keeps its data on a tmpfs
// of the configured size, unless the environment turns that off.
func TestStartTmpfs(t *testing.T) {
	srv := miniotest.Start(t)
	got := dataTmpfs(t, srv.Container)
	if tmpfsOff() {
		assert.Empty(t, got, "%s=%s: /data on disk", miniotest.EnvTmpfs, os.Getenv(miniotest.EnvTmpfs))
		return
	}
	size := miniotest.DefaultTmpfsSize
	if v := strings.ToLower(os.Getenv(miniotest.EnvTmpfs)); v != "" && v != "1" && v != "true" && v != "on" && v != "yes" {
		size = v
	}
	assert.Contains(t, got, "size="+size, "/data is a tmpfs")
}

func TestStartShared(t *testing.T) {
	a := miniotest.Start(t)
	b := miniotest.Start(t)
	assert.Same(t, a, b, "tests of one binary share one server when TestMain calls Run")
}

func TestBucketIsolation(t *testing.T) {
	srv := miniotest.Start(t)
	c := srv.Client()
	b1, b2 := srv.NewBucket(t), srv.NewBucket(t)
	require.NotEqual(t, b1, b2)
	put(t, c, b1, "k", "one")

	_, err := get(t, c, b2, "k")
	require.Error(t, err)
	assert.Equal(t, "NoSuchKey", minio.ToErrorResponse(err).Code)

	var names []string
	for o := range c.ListObjects(context.Background(), b2, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, o.Err)
		names = append(names, o.Key)
	}
	assert.Empty(t, names, "a new bucket is empty")
}

func TestBucketRemovedAfterTest(t *testing.T) {
	srv := miniotest.Start(t)
	c := srv.Client()
	core := minio.Core{Client: c}
	var bucket string
	t.Run("inner", func(t *testing.T) {
		bucket = srv.NewBucket(t)
		put(t, c, bucket, "x/y", "data")
		// An incomplete multipart upload must not keep the bucket alive.
		id, err := core.NewMultipartUpload(context.Background(), bucket, "big", minio.PutObjectOptions{})
		require.NoError(t, err)
		_, err = core.PutObjectPart(context.Background(), bucket, "big", id, 1, bytes.NewReader(make([]byte, 1024)), 1024, minio.PutObjectPartOptions{})
		require.NoError(t, err)
	})
	ok, err := c.BucketExists(context.Background(), bucket)
	require.NoError(t, err)
	assert.False(t, ok, "bucket %s should be removed when its test ends", bucket)
}

func TestStartFreshStopStart(t *testing.T) {
	srv := miniotest.StartFresh(t, &miniotest.Options{AccessKey: "fresh-user", SecretKey: "fresh-secret-key"})
	shared := miniotest.Start(t)
	require.NotEqual(t, shared.Endpoint, srv.Endpoint, "StartFresh gives a server of the test's own")
	assert.Equal(t, "fresh-user", srv.AccessKey)

	assert.Empty(t, dataTmpfs(t, srv.Container), "a StartFresh server keeps /data on disk by default")

	bucket := srv.NewBucket(t)
	put(t, srv.Client(), bucket, "k", "survives a restart")

	srv.Stop(t)
	hc := &http.Client{Timeout: 2 * time.Second}
	_, err := hc.Get(srv.URL + "/minio/health/live")
	require.Error(t, err, "a stopped server does not answer")

	srv.Start(t)
	got, err := get(t, srv.Client(), bucket, "k")
	require.NoError(t, err, "same endpoint after restart")
	assert.Equal(t, "survives a restart", got)
}

// TestStartFreshPause pauses a server with its data on a tmpfs: pausing,
// unlike stopping, keeps it.
func TestStartFreshPause(t *testing.T) {
	srv := miniotest.StartFresh(t, &miniotest.Options{Tmpfs: true})
	if !tmpfsOff() {
		assert.Contains(t, dataTmpfs(t, srv.Container), "size=", "Options.Tmpfs puts /data on a tmpfs")
	}
	bucket := srv.NewBucket(t)
	put(t, srv.Client(), bucket, "k", "survives a pause")
	srv.Pause(t)
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	_, err := hc.Get(srv.URL + "/minio/health/live")
	require.Error(t, err, "a paused server does not answer")
	srv.Unpause(t)
	resp, err := hc.Get(srv.URL + "/minio/health/live")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	got, err := get(t, srv.Client(), bucket, "k")
	require.NoError(t, err)
	assert.Equal(t, "survives a pause", got)
}

// BenchmarkDataDir writes objects to a server with /data on the
// container's disk and to one with /data on a tmpfs (the default of
// Start), so one run shows what the tmpfs saves. Each server is the
// benchmark's own.
func BenchmarkDataDir(b *testing.B) {
	if tmpfsOff() {
		b.Skipf("%s turns tmpfs off", miniotest.EnvTmpfs)
	}
	for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
		data := bytes.Repeat([]byte{'x'}, size)
		for _, c := range []struct {
			name string
			opts *miniotest.Options
		}{
			{"disk", nil},
			{"tmpfs", &miniotest.Options{Tmpfs: true}},
		} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, c.name), func(b *testing.B) {
				srv := miniotest.StartFresh(b, c.opts)
				bucket := srv.NewBucket(b)
				b.SetBytes(int64(size))
				i := 0
				for b.Loop() {
					i++
					_, err := srv.Client().PutObject(context.Background(), bucket, fmt.Sprint("k", i%50), bytes.NewReader(data), int64(size), minio.PutObjectOptions{})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
