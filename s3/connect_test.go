package s3

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/testnet"
	"github.com/strata-storage/strata/storage"
)

// fakeIMDS starts a listener on loopback that stands for the EC2 instance
// metadata service, points AWS_EC2_METADATA_SERVICE_ENDPOINT at it and
// unsets AWS_EC2_METADATA_DISABLED (TestMain sets it), so that the SDK's
// default chain would ask it. It answers 403 to the IMDSv2 token request
// (which makes the SDK fall back to IMDSv1, with a warning) and 404 to
// everything else, and returns the number of connections it accepted.
func fakeIMDS(t *testing.T) *atomic.Int32 {
	t.Helper()
	host, dialed := testnet.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+host)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	os.Unsetenv("AWS_EC2_METADATA_DISABLED")
	return dialed
}

// noCredentials clears every variable the SDK's default chain takes
// credentials from (TestMain points the shared files at nothing).
func noCredentials(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// captureStderr returns what the process writes to os.Stderr while do
// runs: the SDK's default logger writes there.
func captureStderr(t *testing.T, do func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	func() {
		defer func() { os.Stderr = old }()
		do()
	}()
	w.Close()
	return <-out
}

// oneShortLine checks that an error message is one line, names the
// variables to set and does not carry the SDK's chain of operations.
func oneShortLine(t *testing.T, msg string) {
	t.Helper()
	assert.NotContains(t, msg, "\n")
	assert.Contains(t, msg, "AWS_ACCESS_KEY_ID")
	assert.Contains(t, msg, "AWS_SECRET_ACCESS_KEY")
	assert.Contains(t, msg, "AWS_PROFILE")
	assert.NotContains(t, msg, "operation error")
	assert.Less(t, len(msg), 400, "%s", msg)
}

// With an endpoint that is not AWS, the instance metadata service (an
// AWS thing) is never asked, and no credentials at all is an error of New
// that says what to set, before anything is sent.
func TestNoCredentialsCustomEndpoint(t *testing.T) {
	// Not parallel: it sets the environment.
	noCredentials(t)
	imds := fakeIMDS(t)
	var n atomic.Int32
	srv := newLoopbackServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		errorXML(w, r, http.StatusForbidden, "AccessDenied")
	})

	var err error
	stderr := captureStderr(t, func() {
		var st *Store
		st, err = New(t.Context(), Config{Bucket: "b", Endpoint: srv})
		if err == nil {
			_, err = st.Stat(t.Context(), "k")
			st.Close()
		}
	})
	require.ErrorIs(t, err, storage.ErrPermission)
	assert.NotErrorIs(t, err, storage.ErrUnavailable)
	oneShortLine(t, err.Error())
	assert.Empty(t, stderr, "the SDK prints nothing")
	assert.Zero(t, imds.Load(), "the instance metadata service is not asked for a non-AWS endpoint")
	assert.Zero(t, n.Load(), "nothing is sent without credentials")

	// The same through storage.Open, as strata's command line does.
	_, err = storage.Open(t.Context(), "s3://b?endpoint="+srv)
	require.ErrorIs(t, err, storage.ErrPermission)
	oneShortLine(t, err.Error())
	assert.Zero(t, imds.Load())

	// With credentials in the environment, New succeeds and the server is
	// asked.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value")
	st, err := New(t.Context(), Config{Bucket: "b", Endpoint: srv, MaxAttempts: 1})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Stat(t.Context(), "k")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), credentialsHint)
	assert.Equal(t, int32(1), n.Load())
	assert.Zero(t, imds.Load())
}

// On AWS an instance role is a source of credentials, so the chain asks
// the instance metadata service; when it has none, the error is still one
// short line that says what to set, and the SDK prints no warning.
func TestNoCredentialsOnAWS(t *testing.T) {
	// Not parallel: it sets the environment.
	noCredentials(t)
	imds := fakeIMDS(t)
	var err error
	stderr := captureStderr(t, func() {
		var st *Store
		st, err = New(t.Context(), Config{Bucket: "b", Region: "eu-west-1", MaxAttempts: 1, HTTPClient: loopbackOnlyClient()})
		require.NoError(t, err)
		defer st.Close()
		_, err = st.Stat(t.Context(), "k")
	})
	require.ErrorIs(t, err, storage.ErrPermission)
	oneShortLine(t, err.Error())
	assert.Contains(t, err.Error(), "role", "an instance role is named as a source")
	assert.Empty(t, stderr, "the SDK prints nothing (no IMDSv1 warning)")
	assert.NotZero(t, imds.Load(), "on AWS the instance metadata service is asked")
}

// newLoopbackServer starts an HTTP server on loopback and returns its URL.
func newLoopbackServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// loopbackOnlyClient is an HTTP client that refuses to dial anything but
// loopback, so that a test of the AWS configuration never leaves the
// machine.
func loopbackOnlyClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, errors.New("test: refusing to dial " + addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// An endpoint given without a scheme is HTTPS; when the server speaks
// plain HTTP, the error says at once (no retries: it cannot get better)
// how to write the endpoint.
func TestPlainHTTPEndpointWithoutScheme(t *testing.T) {
	t.Parallel()
	host, conns := testnet.CountingServer(t, http.NotFoundHandler())
	u, err := url.Parse("s3://b?endpoint=" + host + "&max_attempts=5")
	require.NoError(t, err)
	cfg, err := ConfigFromURL(u)
	require.NoError(t, err)
	cfg.AccessKeyID, cfg.SecretAccessKey = "AKIDFAKE", "fake-secret"
	p, err := New(t.Context(), cfg)
	require.NoError(t, err)
	defer p.Close()
	for _, err := range p.List(t.Context(), nil) {
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		assert.NotErrorIs(t, err, storage.ErrUnavailable)
		assert.Contains(t, err.Error(), "plain HTTP")
		assert.Contains(t, err.Error(), "endpoint=http://"+host)
		assert.NotContains(t, err.Error(), "\n")
	}
	_, err = p.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "endpoint=http://"+host)
	assert.Equal(t, int32(2), conns.Load(), "one attempt per call, not max_attempts")
}
