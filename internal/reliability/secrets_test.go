package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2"
	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// scan collects every log line and error string of a run and checks that
// no secret appears in any of them, in any of the encodings a secret could
// leak in.
type scan struct {
	mu      sync.Mutex
	logs    bytes.Buffer
	errs    []string
	secrets map[string][]byte
}

func newScan() *scan { return &scan{secrets: map[string][]byte{}} }

// Write implements io.Writer for the log handler.
func (s *scan) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

// logger logs everything, debug included, to the scan.
func (s *scan) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (s *scan) secret(name string, v []byte) { s.secrets[name] = v }

// err records err's string (and its %+v and %#v forms), if any.
func (s *scan) err(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
}

// value records the printed and logged forms of a value, such as a Config.
func (s *scan) value(v any) {
	s.logger().Info("config", "config", v)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v))
}

func forms(v []byte) []string {
	out := []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v),
		base64.RawStdEncoding.EncodeToString(v), base64.URLEncoding.EncodeToString(v), url.QueryEscape(string(v))}
	return out
}

func (s *scan) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	text := s.logs.String() + "\n" + strings.Join(s.errs, "\n")
	require.NotEmpty(t, s.errs, "the run produced errors to scan")
	for name, v := range s.secrets {
		for _, f := range forms(v) {
			if len(f) >= 8 && strings.Contains(text, f) {
				i := strings.Index(text, f)
				t.Errorf("the %s appears in a log line or error: ...%s...", name, text[max(0, i-120):min(len(text), i+len(f)+40)])
			}
		}
	}
	t.Logf("scanned %d bytes of logs and %d error strings for %d secrets", s.logs.Len(), len(s.errs), len(s.secrets))
}

// exercise runs every operation of p, good and bad, recording errors.
func exercise(ctx context.Context, s *scan, p storage.Provider) {
	data := Content("k", 70<<10)
	_, err := p.Put(ctx, "dir/k", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)), Metadata: map[string]string{"a": "b"}})
	s.err(err)
	_, err = p.Put(ctx, "dir/k", bytes.NewReader(data), &storage.PutOptions{IfNotExists: true})
	s.err(err)
	_, err = p.Put(ctx, "dir/short", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)) + 1})
	s.err(err)
	_, err = p.Put(ctx, "../bad", bytes.NewReader(data), nil)
	s.err(err)
	rc, _, err := p.Get(ctx, "dir/k", &storage.GetOptions{Range: &storage.Range{Offset: 10, Length: 10}})
	if err == nil {
		io.Copy(io.Discard, rc)
		rc.Close()
	}
	s.err(err)
	_, _, err = p.Get(ctx, "dir/k", &storage.GetOptions{Range: &storage.Range{Offset: 1 << 30}})
	s.err(err)
	_, _, err = p.Get(ctx, "missing", nil)
	s.err(err)
	_, err = p.Stat(ctx, "missing")
	s.err(err)
	for _, err := range p.List(ctx, &storage.ListOptions{Prefix: "dir/"}) {
		s.err(err)
	}
	if ps, ok := p.(storage.Presigner); ok {
		u, err := ps.PresignGet(ctx, "dir/k", time.Minute)
		s.err(err)
		_ = u // a presigned URL carries a signature by design, not the secret
	}
	if cp, ok := p.(storage.Copier); ok {
		_, err := cp.Copy(ctx, "dir/k2", "dir/k")
		s.err(err)
		_, err = cp.Copy(ctx, "dir/k3", "missing")
		s.err(err)
	}
	s.err(p.Delete(ctx, "dir/k"))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.Put(cctx, "dir/cancelled", bytes.NewReader(data), nil)
	s.err(err)
	s.err(p.Close())
	_, err = p.Stat(ctx, "dir/k")
	s.err(err)
}

var ssecKey = []byte("sse-c-key-0123456789abcdefghijkl") // 32 bytes

// TestNoSecretsInLogsOrErrors runs every operation of the s3 and minio
// providers against MinIO, and of b2 against its emulator, with good and bad
// credentials, session tokens and SSE-C keys, capturing every log line
// (through each provider's Logger) and every error string, and fails if a
// secret appears in any.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("s3", func(t *testing.T) {
		srv := miniotest.Start(t)
		bucket := srv.NewBucket(t)
		s := newScan()
		s.secret("secret key", []byte(srv.SecretKey))
		wrong, token := "wrong-secret-key-0123456789", "session-token-0123456789abcdef"
		s.secret("wrong secret key", []byte(wrong))
		s.secret("session token", []byte(token))
		s.secret("SSE-C key", ssecKey)
		for _, cfg := range []s3.Config{
			{SecretAccessKey: srv.SecretKey},
			{SecretAccessKey: wrong},
			{SecretAccessKey: srv.SecretKey, SessionToken: token},
			{SecretAccessKey: srv.SecretKey, SSE: s3.SSE{Mode: s3.SSEC, CustomerKey: ssecKey}},
			{SecretAccessKey: srv.SecretKey, SSE: s3.SSE{Mode: s3.SSEC, CustomerKey: ssecKey[:31]}},
		} {
			cfg.Bucket, cfg.Endpoint, cfg.Region, cfg.AccessKeyID = bucket, srv.URL, srv.Region, srv.AccessKey
			cfg.Logger, cfg.MaxAttempts = s.logger(), 2
			p, err := s3.New(ctx, cfg)
			s.err(err)
			if err == nil {
				exercise(ctx, s, p)
			}
		}
		s.check(t)
	})
	t.Run("minio", func(t *testing.T) {
		srv := miniotest.Start(t)
		bucket := srv.NewBucket(t)
		s := newScan()
		s.secret("secret key", []byte(srv.SecretKey))
		wrong, token := "wrong-secret-key-0123456789", "session-token-0123456789abcdef"
		s.secret("wrong secret key", []byte(wrong))
		s.secret("session token", []byte(token))
		s.secret("SSE-C key", ssecKey)
		for _, cfg := range []minio.Config{
			{SecretKey: srv.SecretKey},
			{SecretKey: wrong},
			{SecretKey: srv.SecretKey, SessionToken: token},
			{SecretKey: srv.SecretKey, SSECustomerKey: ssecKey},
			{SecretKey: srv.SecretKey, SSECustomerKey: ssecKey[:31]},
		} {
			cfg.Bucket, cfg.Endpoint, cfg.Region, cfg.AccessKey = bucket, srv.Endpoint, srv.Region, srv.AccessKey
			cfg.Logger, cfg.MaxAttempts = s.logger(), 2
			p, err := minio.New(ctx, cfg)
			s.err(err)
			if err == nil {
				exercise(ctx, s, p)
			}
		}
		s.check(t)
	})
	t.Run("b2", func(t *testing.T) {
		srv := b2test.NewServer(t, nil)
		keyID, key := srv.MasterKey()
		s := newScan()
		s.secret("application key", []byte(key))
		s.secret("wrong application key", []byte("wrong-application-key-0123456789"))
		for _, appKey := range []string{key, "wrong-application-key-0123456789"} {
			cfg := b2.Config{KeyID: keyID, ApplicationKey: appKey, Bucket: srv.DefaultBucket(), APIBase: srv.URL,
				Logger: s.logger(), MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
			p, err := b2.New(ctx, cfg)
			s.err(err)
			if err == nil {
				// Expired tokens and 503s make the provider
				// re-authorize and retry, and log it.
				srv.ExpireTokens()
				srv.FailNext("b2_get_upload_url", 1, 503)
				exercise(ctx, s, p)
			}
		}
		for _, raw := range []string{"b2://" + keyID + ":" + key + "@" + srv.DefaultBucket() + "?api_base=" + url.QueryEscape(srv.URL),
			"b2://" + keyID + ":" + key + "@bad/path"} {
			p, err := storage.Open(ctx, raw)
			s.err(err)
			if err == nil {
				p.Close()
			}
		}
		s.check(t)
	})
}

// TestConfigHidesSecrets checks that a Config that carries credentials can
// be printed and logged without them.
func TestConfigHidesSecrets(t *testing.T) {
	s := newScan()
	secret, token := "config-secret-key-0123456789", "config-session-token-0123456789"
	s.secret("secret key", []byte(secret))
	s.secret("session token", []byte(token))
	s.secret("SSE-C key", ssecKey)
	s.value(s3.Config{Bucket: "b", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: secret, SessionToken: token,
		SSE: s3.SSE{Mode: s3.SSEC, CustomerKey: ssecKey}})
	s.value(&s3.Config{Bucket: "b", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: secret, SessionToken: token})
	s.check(t)
}
