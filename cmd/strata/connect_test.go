package main

// Tests of what a first-time user meets connecting to S3 or MinIO: no
// credentials, and an https URL for a plain-HTTP server.

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/strata-storage/strata/internal/testnet"
)

// without returns a runner whose environment lacks the variable key.
func (r *runner) without(key string) *runner {
	c := *r
	c.env = nil
	for _, kv := range r.env {
		if !strings.HasPrefix(kv, key+"=") {
			c.env = append(c.env, kv)
		}
	}
	return &c
}

// fakeInstanceMetadata listens on loopback where the SDK would find the
// EC2 instance metadata service when pointed at it, answers 404, and
// counts the connections it accepted.
func fakeInstanceMetadata(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	host, dialed := testnet.CountingServer(t, http.NotFoundHandler())
	return "http://" + host, dialed
}

// With an endpoint= that is not AWS and no credentials, strata does not
// ask the EC2 instance metadata service (AWS_EC2_METADATA_DISABLED is not
// set, and the service's address points at a listener of the test), sends
// nothing to the server, and says in one line what to set.
func TestS3NoCredentialsWithEndpoint(t *testing.T) {
	imds, dialed := fakeInstanceMetadata(t)
	s3host, conns := testnet.CountingServer(t, http.NotFoundHandler())
	r := newRunner(t).without("AWS_EC2_METADATA_DISABLED").with("AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds)
	src := t.TempDir()
	mediaStore(t, src, 1, sizes(10))
	for _, args := range [][]string{
		{"ls", "s3://bucket?endpoint=http://" + s3host},
		{"migrate", src, "s3://bucket?endpoint=http://" + s3host},
		{"mb", "s3://bucket?endpoint=http://" + s3host},
	} {
		t.Run(args[0], func(t *testing.T) {
			res := r.run(args...)
			assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
			oneLine(t, res)
			assert.Contains(t, res.stderr, "AWS_ACCESS_KEY_ID")
			assert.Contains(t, res.stderr, "AWS_SECRET_ACCESS_KEY")
			assert.Contains(t, res.stderr, "AWS_PROFILE")
			assert.NotContains(t, res.stderr, "IMDS")
			assert.NotContains(t, res.stderr, "operation error")
			assert.Less(t, len(res.stderr), 500)
			t.Log(strings.TrimSpace(res.stderr))
		})
	}
	assert.Zero(t, dialed.Load(), "the instance metadata service was asked")
	assert.Zero(t, conns.Load(), "something was sent to the server")
}

// An endpoint= without a scheme is HTTPS, and so is a minio:// URL without
// secure=false. Against a plain-HTTP server the error says at once what
// to write, with no retries (the server sees one connection per command).
func TestHTTPSURLForPlainHTTPServer(t *testing.T) {
	host, conns := testnet.CountingServer(t, http.NotFoundHandler())
	r := newRunner(t).with("AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=test-secret",
		"MINIO_ACCESS_KEY=AKIDTEST", "MINIO_SECRET_KEY=test-secret")
	for _, tc := range []struct {
		url, want string
	}{
		{"s3://bucket?endpoint=" + host, "use endpoint=http://" + host},
		{"minio://" + host + "/bucket", "add ?secure=false"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			before := conns.Load()
			res := r.run("ls", tc.url)
			assert.Equal(t, 1, res.code, "stderr: %s", res.stderr)
			oneLine(t, res)
			assert.Contains(t, res.stderr, "plain HTTP")
			assert.Contains(t, res.stderr, tc.want)
			assert.NotContains(t, res.stderr, "try again later")
			assert.Equal(t, int32(1), conns.Load()-before, "one attempt, no retries")
			t.Log(strings.TrimSpace(res.stderr))
		})
	}
}
