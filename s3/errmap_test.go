package s3

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// fakeS3 starts an HTTP server on loopback that answers every request
// with handler, and returns a Store on it with cfg's changes applied, and
// the count of requests the server received. Retries wait a millisecond
// at most.
func fakeS3(t *testing.T, handler http.HandlerFunc, change func(*Config)) (*Store, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Bucket: "b", Endpoint: srv.URL, AccessKeyID: "AKIDFAKE", SecretAccessKey: "fake-secret", MaxAttempts: 1}
	if change != nil {
		change(&cfg)
	}
	st, err := New(t.Context(), cfg)
	require.NoError(t, err)
	st.d.client = s3.New(st.d.client.Options(), func(o *s3.Options) {
		o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, time.Millisecond)
	})
	if st.d.fast != nil {
		o := st.d.client.Options()
		st.d.fast = newFastPut(st.d, o.Retryer, o.HTTPClient, o.Credentials)
	}
	t.Cleanup(func() { st.Close() })
	return st, &n
}

// errorXML writes an S3 error response.
func errorXML(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test</Message><RequestId>1</RequestId></Error>`, code)
	}
}

func TestClientDisconnected499(t *testing.T) {
	t.Parallel()
	t.Run("retried, then unavailable", func(t *testing.T) {
		t.Parallel()
		st, n := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
			errorXML(w, r, 499, "ClientDisconnected")
		}, func(c *Config) { c.MaxAttempts = 3 })
		rc, _, err := st.Get(t.Context(), "k", nil)
		require.Nil(t, rc)
		require.ErrorIs(t, err, storage.ErrUnavailable)
		require.NotErrorIs(t, err, storage.ErrNotFound)
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae, "the SDK's error is the cause")
		assert.Equal(t, "ClientDisconnected", ae.ErrorCode())
		assert.Equal(t, int32(3), n.Load(), "a 499 is retried while the caller waits")

		// A HEAD's 499 has no body, hence no code.
		_, err = st.Stat(t.Context(), "k")
		require.ErrorIs(t, err, storage.ErrUnavailable)
	})
	t.Run("caller gone", func(t *testing.T) {
		t.Parallel()
		// The server sees the caller leave and answers 499: the error is
		// the caller's cancellation, not an outage.
		ctx, cancel := context.WithCancel(t.Context())
		st, _ := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
			cancel()
			errorXML(w, r, 499, "ClientDisconnected")
		}, func(c *Config) { c.MaxAttempts = 3 })
		_, _, err := st.Get(ctx, "k", nil)
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, storage.ErrUnavailable)
	})
}

// hanging returns a handler that never answers until the request ends or
// the test does, and a channel that receives a value for each request.
func hanging(t *testing.T) (http.HandlerFunc, <-chan struct{}) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 16)
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	return func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}, arrived
}

func TestTransportTimeout(t *testing.T) {
	t.Parallel()
	clients := map[string]func() *http.Client{
		"ResponseHeaderTimeout": func() *http.Client {
			return &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}}
		},
		"Client.Timeout": func() *http.Client { return &http.Client{Timeout: 50 * time.Millisecond} },
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, _ := hanging(t)
			// fakeS3 registers the server's Close before hanging's
			// release, so release runs first.
			st, n := fakeS3(t, h, func(c *Config) { c.HTTPClient = client(); c.MaxAttempts = 2 })
			_, err := st.Stat(t.Context(), "k")
			require.ErrorIs(t, err, storage.ErrUnavailable, "a transport timeout while the caller waits is an outage")
			require.NotErrorIs(t, err, context.DeadlineExceeded, "it is not the caller's deadline")
			require.NotErrorIs(t, err, context.Canceled)
			var ne net.Error
			require.ErrorAs(t, err, &ne, "errors.As still reaches net/http's error")
			assert.True(t, ne.Timeout())
			assert.Equal(t, int32(2), n.Load(), "a timeout is retried")
			checkNoSecrets(t, err, "fake-secret")

			_, _, err = st.Get(t.Context(), "k", nil)
			require.ErrorIs(t, err, storage.ErrUnavailable)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

func TestCallerContextEndsWhileWaiting(t *testing.T) {
	t.Parallel()
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		h, arrived := hanging(t)
		st, _ := fakeS3(t, h, func(c *Config) {
			c.HTTPClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: time.Hour}}
		})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := st.Stat(ctx, "k")
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, storage.ErrUnavailable)
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		h, _ := hanging(t)
		st, _ := fakeS3(t, h, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, _, err := st.Get(ctx, "k", nil)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the caller's own deadline")
		require.NotErrorIs(t, err, storage.ErrUnavailable)
	})
}

// httpTimeout is shaped as net/http's timeout errors: a net.Error that
// matches context.DeadlineExceeded.
type httpTimeout struct{}

func (httpTimeout) Error() string        { return "net/http: timeout awaiting response headers" }
func (httpTimeout) Timeout() bool        { return true }
func (httpTimeout) Temporary() bool      { return true }
func (httpTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

func TestMapErrContext(t *testing.T) {
	t.Parallel()
	live := t.Context()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	expired, cancel2 := context.WithDeadline(live, time.Now().Add(-time.Second))
	defer cancel2()
	timeout := &smithy.OperationError{ServiceID: "S3", OperationName: "HeadObject",
		Err: &url.Error{Op: "Head", URL: "http://h/b/k", Err: httpTimeout{}}}

	err := mapErr(live, "stat", "k", timeout)
	assert.ErrorIs(t, err, storage.ErrUnavailable)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	var ue *url.Error
	assert.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "timeout awaiting response headers")

	err = mapErr(expired, "stat", "k", timeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline passed")
	assert.NotErrorIs(t, err, storage.ErrUnavailable)

	err = mapErr(cancelled, "get", "k", apiErr(499, "ClientDisconnected"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, storage.ErrUnavailable)
	var ae smithy.APIError
	assert.ErrorAs(t, err, &ae, "the cause is kept")
	assert.Contains(t, err.Error(), "ClientDisconnected")

	err = mapErr(cancelled, "get", "k", fmt.Errorf("read: %w", io.ErrUnexpectedEOF))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, storage.ErrUnavailable)

	err = mapErr(cancelled, "get", "k", apiErr(404, "NoSuchKey"))
	assert.ErrorIs(t, err, storage.ErrNotFound, "a definite answer stays what it is")
	assert.NotErrorIs(t, err, context.Canceled)

	err = mapErr(live, "get", "k", apiErr(499, ""))
	assert.ErrorIs(t, err, storage.ErrUnavailable)
}

func TestMissingCredentials(t *testing.T) {
	// Not parallel: it sets the environment.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	anon := func(c *Config) { c.AccessKeyID, c.SecretAccessKey = "", "" }
	// A profile whose credential process fails: New cannot tell, and
	// every request fails before it is sent. (With nothing configured at
	// all New fails: see TestNoCredentialsCustomEndpoint.)
	conf := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(conf, []byte("[profile broken]\ncredential_process = /bin/false\n"), 0o600))
	t.Setenv("AWS_CONFIG_FILE", conf)
	t.Setenv("AWS_PROFILE", "broken")
	st, n := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		errorXML(w, r, http.StatusForbidden, "AccessDenied")
	}, anon)
	ctx := t.Context()
	_, err := st.Stat(ctx, "k")
	checks := func(op string, err error) {
		t.Helper()
		require.ErrorIs(t, err, storage.ErrPermission, op)
		require.NotErrorIs(t, err, storage.ErrNotFound, op)
		assert.Contains(t, err.Error(), "AWS_ACCESS_KEY_ID", op)
		assert.Contains(t, err.Error(), "AWS_SECRET_ACCESS_KEY", op)
	}
	checks("stat", err)
	_, _, err = st.Get(ctx, "k", nil)
	checks("get", err)
	_, err = st.Put(ctx, "k", strings.NewReader("x"), nil)
	checks("put", err)
	for _, err := range st.List(ctx, nil) {
		checks("list", err)
	}
	assert.Zero(t, n.Load(), "nothing is sent without credentials")

	// With credentials in the environment, a refusal is the server's, and
	// the error does not tell the user to set what is set.
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value")
	st2, n2 := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		errorXML(w, r, http.StatusForbidden, "AccessDenied")
	}, anon)
	_, err = st2.Stat(ctx, "k")
	require.ErrorIs(t, err, storage.ErrPermission)
	assert.NotContains(t, err.Error(), credentialsHint)
	checkNoSecrets(t, err, "env-secret-value")
	assert.Equal(t, int32(1), n2.Load())
}

func TestConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte("K"), 32)
	cfg := Config{
		Bucket:          "media",
		Endpoint:        "http://minio.local:9000",
		AccessKeyID:     "AKIDEXAMPLE",
		SecretAccessKey: "s3cr3t-access-key-value",
		SessionToken:    "s3ssion-token-value",
		SSE:             SSE{Mode: SSEC, CustomerKey: key},
		HTTPClient:      &http.Client{},
		Logger:          slog.New(slog.DiscardHandler),
	}
	set, err := cfg.check()
	require.NoError(t, err)
	bad := cfg
	bad.Endpoint = "http://user:endpoint-password@minio.local:9000?X-Amz-Security-Token=query-token-value"
	secrets := []string{cfg.SecretAccessKey, cfg.SessionToken, string(key), base64.StdEncoding.EncodeToString(key),
		set.sseC.key, set.sseC.keyMD5, "endpoint-password", "query-token-value"}
	for _, s := range slices.Clone(secrets) {
		secrets = append(secrets, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))))
	}

	var outs []string
	for _, v := range []any{cfg, &cfg, bad, &bad, cfg.SSE, &cfg.SSE, set} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprintf("%v", []any{v}), fmt.Sprintf("%+v", struct{ C any }{v}))
		for _, h := range []func(io.Writer) slog.Handler{
			func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
			func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Info("config", "cfg", v, slog.Any("any", v), slog.Group("g", "nested", v))
			outs = append(outs, b.String())
		}
	}
	for _, out := range outs {
		for _, s := range secrets {
			require.NotContains(t, out, s)
		}
	}
	// What is not secret is shown.
	assert.Contains(t, cfg.String(), "AKIDEXAMPLE")
	assert.Contains(t, cfg.String(), "SecretAccessKey:xxxxx")
	assert.Contains(t, cfg.String(), `Endpoint:"http://minio.local:9000"`)
	assert.Contains(t, cfg.String(), "HTTPClient:set")
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "cfg", cfg)
	assert.Contains(t, b.String(), `"bucket":"media"`)
	assert.Contains(t, b.String(), `"secret_access_key":"xxxxx"`)
	assert.Contains(t, b.String(), `"access_key_id":"AKIDEXAMPLE"`)
	assert.Equal(t, cfg.String(), fmt.Sprintf("%#v", cfg))
	assert.Equal(t, `"`+cfg.SSE.String()+`"`, fmt.Sprintf("%q", cfg.SSE))
}

// failingProvider is a credential provider whose Retrieve fails with err.
type failingProvider struct{ err error }

func (f failingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, f.err
}

func TestCredentialsProvider(t *testing.T) {
	t.Parallel()
	// Off EC2, the chain's last provider times out reaching the instance
	// metadata service: that is no credentials, not the caller's deadline
	// and not an outage.
	imds := fmt.Errorf("failed to refresh cached credentials, no EC2 IMDS role found, %w",
		&smithy.OperationError{ServiceID: "ec2imds", OperationName: "GetMetadata", Err: context.DeadlineExceeded})
	p := &credentialsProvider{p: failingProvider{imds}}
	_, err := p.Retrieve(t.Context())
	var ce *credentialsError
	require.ErrorAs(t, err, &ce)
	sdkErr := &smithy.OperationError{ServiceID: "S3", OperationName: "HeadObject", Err: fmt.Errorf("get identity: get credentials: %w", err)}
	got := mapErr(t.Context(), "stat", "k", sdkErr)
	assert.ErrorIs(t, got, storage.ErrPermission)
	assert.NotErrorIs(t, got, context.DeadlineExceeded)
	assert.NotErrorIs(t, got, storage.ErrUnavailable)
	assert.Contains(t, got.Error(), "AWS_ACCESS_KEY_ID")
	var oe *smithy.OperationError
	require.ErrorAs(t, ce, &oe, "errors.As reaches the chain's errors")

	// Once the caller's context has ended, the failure is the caller's.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = p.Retrieve(ctx)
	require.NotErrorAs(t, err, &ce)
	got = mapErr(ctx, "stat", "k", &smithy.OperationError{ServiceID: "S3", OperationName: "HeadObject", Err: err})
	assert.ErrorIs(t, got, context.Canceled)
	assert.NotErrorIs(t, got, storage.ErrPermission)

	// The SDK still recognises the provider it wraps.
	assert.True(t, aws.IsCredentialsProvider(&credentialsProvider{p: aws.AnonymousCredentials{}}, aws.AnonymousCredentials{}))
	assert.False(t, aws.IsCredentialsProvider(&credentialsProvider{p: failingProvider{}}, aws.AnonymousCredentials{}))
}
