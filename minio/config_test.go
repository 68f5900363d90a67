package minio

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/strata-storage/strata/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigHidesSecrets formats a Config that holds every kind of secret
// in every way a program might print or log it, and checks that no secret
// shows, in any common encoding, while the fields that help debugging do.
func TestConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	const (
		secretKey = "config-secret-key-0123456789"
		token     = "config-session-token-0123456789"
		credKey   = "credentials-secret-0123456789"
		userInfo  = "endpoint-password-0123456789"
	)
	sseKey := []byte("0123456789abcdef0123456789abcdef")
	tlsKey := []byte("tls-private-key-0123456789")
	cfg := Config{
		Endpoint:       "127.0.0.1:9000",
		Region:         "us-east-1",
		AccessKey:      "AKIAEXAMPLE",
		SecretKey:      secretKey,
		SessionToken:   token,
		Credentials:    credentials.NewStaticV4("AKIACREDS", credKey, ""),
		Bucket:         "media",
		SSECustomerKey: sseKey,
		PartSize:       MinPartSize,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{{PrivateKey: tlsKey}},
		}},
		SkipVerifyReads: true,
		Logger:          slog.New(slog.DiscardHandler),
	}
	secrets := map[string][]byte{
		"secret key":    []byte(secretKey),
		"session token": []byte(token),
		"credentials":   []byte(credKey),
		"SSE-C key":     sseKey,
		"TLS key":       tlsKey,
		"endpoint user": []byte(userInfo),
	}
	bad := cfg
	bad.Endpoint = "user:" + userInfo + "@127.0.0.1:9000" // New refuses it, but it may be printed first

	var out []string
	for _, c := range []Config{cfg, bad} {
		for _, v := range []any{c, &c} {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v", "%10.3v"} {
				out = append(out, fmt.Sprintf(verb, v))
			}
			out = append(out, fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprintf("%v", struct{ C any }{v}),
				fmt.Sprintf("%+v", []any{v}), fmt.Sprintf("%#v", map[string]any{"cfg": v}))
			var buf bytes.Buffer
			for _, h := range []slog.Handler{
				slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
				slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
			} {
				l := slog.New(h)
				l.Info("config", "config", v)
				l.Info("config", slog.Any("config", v))
				l.With("config", v).Debug("with")
				l.Info("group", slog.Group("g", "config", v))
			}
			out = append(out, buf.String())
		}
		out = append(out, c.String(), c.GoString())
	}
	text := strings.Join(out, "\n")
	for name, v := range secrets {
		for _, form := range []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v),
			base64.RawStdEncoding.EncodeToString(v), fmt.Sprint(v), fmt.Sprintf("%#v", v)} {
			if i := strings.Index(text, form); i >= 0 {
				t.Errorf("the %s shows: ...%s...", name, text[max(0, i-80):min(len(text), i+len(form)+20)])
			}
		}
	}

	// What is not secret is there to help.
	s := cfg.String()
	for _, want := range []string{`Endpoint:"127.0.0.1:9000"`, `Region:"us-east-1"`, `AccessKey:"AKIAEXAMPLE"`,
		`SecretKey:xxxxx`, `SessionToken:xxxxx`, `Credentials:set`, `Bucket:"media"`, `SSECustomerKey:xxxxx`,
		`Transport:set`, `SkipVerifyReads:true`} {
		assert.Contains(t, s, want)
	}
	assert.Contains(t, bad.String(), `Endpoint:"xxxxx@127.0.0.1:9000"`)
	assert.Contains(t, Config{}.String(), `SecretKey:"" SessionToken:""`, "an unset secret shows as unset")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("open", "config", cfg)
	assert.Contains(t, buf.String(), `"config":{"endpoint":"127.0.0.1:9000"`)
	assert.Contains(t, buf.String(), `"secret_key":"xxxxx"`)
	assert.Contains(t, buf.String(), `"bucket":"media"`)
}

// TestStoreHidesSecrets checks that a Store, which holds the SSE-C key and
// the credentials, prints as its URL only.
func TestStoreHidesSecrets(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	s, err := New(t.Context(), Config{Endpoint: "127.0.0.1:9000", Bucket: "media", AccessKey: "AKIAEXAMPLE",
		SecretKey: "store-secret-key-0123456789", SSECustomerKey: key})
	require.NoError(t, err)
	defer s.Close()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		out := fmt.Sprintf(verb, s)
		assert.NotContains(t, out, "store-secret-key", verb)
		assert.NotContains(t, out, string(key), verb)
		assert.NotContains(t, out, fmt.Sprint(key), verb)
	}
	assert.Equal(t, "minio://127.0.0.1:9000/media", fmt.Sprint(s))
	assert.Equal(t, `"minio://127.0.0.1:9000/media"`, fmt.Sprintf("%q", s))
}

// TestDeprecatedNames checks that the Config fields and URL parameters of
// older releases still work, as the names both S3 drivers now share.
func TestDeprecatedNames(t *testing.T) {
	t.Parallel()
	open := func(cfg Config) *Store {
		cfg.Endpoint, cfg.Bucket = "127.0.0.1:9000", "media"
		s, err := New(t.Context(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open(Config{NumThreads: 3, MaxRetries: 2, SkipPrefixCheck: true})
	assert.Equal(t, 3, s.d.set.Concurrency)
	assert.Equal(t, 2, s.d.tries)
	assert.Equal(t, PrefixCheckOff, s.d.set.PrefixCheck)
	s = open(Config{Concurrency: 5, NumThreads: 3, MaxAttempts: 4, MaxRetries: 2, PrefixCheck: PrefixCheckOn, SkipPrefixCheck: true})
	assert.Equal(t, 5, s.d.set.Concurrency, "the new name wins")
	assert.Equal(t, 4, s.d.tries)
	assert.Equal(t, PrefixCheckOn, s.d.set.PrefixCheck)
	s = open(Config{})
	assert.Equal(t, DefaultConcurrency, s.d.set.Concurrency)
	assert.Equal(t, PrefixCheckAuto, s.d.set.PrefixCheck)
	assert.False(t, s.d.set.RecordLargeSHA256, "the same default as the s3 package")
	assert.Equal(t, storage.Parts{Size: DefaultPartSize, ReaderAt: true}, s.Parts())

	for raw, want := range map[string]Config{
		"minio://h:9000/b?threads=3&max_retries=2&skip_prefix_check=true&skip_multipart_sha256=false": {
			Concurrency: 3, MaxAttempts: 2, PrefixCheck: PrefixCheckOff, RecordLargeSHA256: true},
		"minio://h:9000/b?concurrency=3&max_attempts=2&prefix_check=auto&record_large_sha256=true&part_size=64MiB": {
			Concurrency: 3, MaxAttempts: 2, RecordLargeSHA256: true, PartSize: 64 << 20},
		"minio://h:9000/b?prefix_conflicts=true": {PrefixCheck: PrefixCheckOn},
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		got, err := configFromURL(u)
		require.NoError(t, err, raw)
		want.Endpoint, want.Bucket, want.Secure = "h:9000", "b", true
		assert.Equal(t, want, got, raw)
	}
	for _, raw := range []string{"minio://h:9000/b?threads=3&concurrency=3", "minio://h:9000/b?prefix_check=on"} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		_, err = configFromURL(u)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, raw)
	}
}

// TestServerDetected checks that a Store learns from its first response
// that its server is MinIO, which turns PrefixCheckAuto on, and that
// another server leaves it off. (MinIO itself answers Server: MinIO; the
// tests against it are in internal/integration.)
func TestServerDetected(t *testing.T) {
	t.Parallel()
	for server, isMinIO := range map[string]bool{"MinIO": true, "AmazonS3": false} {
		s := newFakeServer(t, func(_ *fakeServer, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", server)
			if r.URL.Path == "/bucket/missing" {
				w.WriteHeader(http.StatusNotFound)
			} // and 200 to the HEAD of the bucket
		}).store(t, func(c *Config) { c.SkipPrefixCheck = false })
		_, known := s.d.server.MinIO()
		require.False(t, known, "no request yet")
		_, err := s.Stat(t.Context(), "missing")
		require.ErrorIs(t, err, storage.ErrNotFound)
		minio, known := s.d.server.MinIO()
		assert.True(t, known, "%s: an error response's Server header tells", server)
		assert.Equal(t, isMinIO, minio, server)
		assert.Equal(t, isMinIO, s.d.set.PrefixCheck.On(&s.d.server), server)
	}
}
