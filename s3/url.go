package s3

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// SSECKeyEnv is the environment variable an s3:// URL with sse=sse-c reads
// the customer key from, as 32 bytes in standard base64. Keys are never
// taken from the URL itself.
const SSECKeyEnv = "STRATA_S3_SSE_C_KEY"

func init() {
	storage.Register("s3", OpenURL)
}

// urlParams are the query parameters of an s3:// URL besides the ones
// shared with minio:// URLs (s3proto.URLParams).
var urlParams = []string{"region", "endpoint", "path_style", "addressing", "storage_class", "sse", "sse_kms_key_id"}

// OpenURL opens a Store from an s3:// URL; storage.Open calls it for the
// "s3" scheme. See the package documentation for the parameters.
// Credentials come from the environment (the SDK's default chain), never
// from the URL: a URL with user information is refused.
func OpenURL(ctx context.Context, u *url.URL) (storage.Provider, error) {
	cfg, err := ConfigFromURL(u)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg)
}

// ConfigFromURL returns the Config an s3:// URL describes, so a caller can
// adjust it (add an HTTPClient or a Logger) before calling New.
func ConfigFromURL(u *url.URL) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, openErr(storage.ErrInvalidArgument,
			fmt.Errorf("URL %s: %s", storage.Redact(u), fmt.Sprintf(format, args...)))
	}
	if !strings.EqualFold(u.Scheme, "s3") {
		return bad("scheme must be s3")
	}
	if u.User != nil {
		return bad("credentials are not taken from the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile) instead")
	}
	if u.Host == "" {
		return bad("no bucket: want s3://bucket?region=...")
	}
	if u.Path != "" && u.Path != "/" {
		return bad("a path is not supported; the bucket is the host: s3://bucket")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("malformed query")
	}
	t, err := s3proto.TuningFromURL(q)
	if err != nil {
		return bad("%v", err)
	}
	for name, vals := range q {
		if !slices.Contains(urlParams, name) {
			return bad("unknown parameter %q (known: %s)", name, s3proto.KnownURLParams(urlParams...))
		}
		if len(vals) != 1 {
			return bad("parameter %q is given %d times", name, len(vals))
		}
	}
	cfg := Config{
		Bucket:            u.Host,
		Region:            q.Get("region"),
		StorageClass:      q.Get("storage_class"),
		PartSize:          t.PartSize,
		Concurrency:       t.Concurrency,
		MaxAttempts:       t.MaxAttempts,
		RecordLargeSHA256: t.RecordLargeSHA256,
		PrefixCheck:       t.PrefixCheck,
		SkipVerifyReads:   t.SkipVerifyReads,
	}
	if ep := q.Get("endpoint"); ep != "" {
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		cfg.Endpoint = ep
	}
	if v := q.Get("path_style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return bad("path_style must be true or false")
		}
		cfg.Addressing = AddressingVirtualHost
		if b {
			cfg.Addressing = AddressingPath
		}
	}
	if v := q.Get("addressing"); v != "" {
		if q.Has("path_style") {
			return bad("give path_style or addressing, not both")
		}
		switch v {
		case "auto":
			cfg.Addressing = AddressingAuto
		case "path":
			cfg.Addressing = AddressingPath
		case "virtual-host", "virtual":
			cfg.Addressing = AddressingVirtualHost
		default:
			return bad("addressing must be auto, path or virtual-host")
		}
	}
	switch strings.ToLower(q.Get("sse")) {
	case "", "none":
	case "sse-s3", "aes256":
		cfg.SSE.Mode = SSES3
	case "sse-kms", "aws:kms", "kms":
		cfg.SSE.Mode = SSEKMS
		cfg.SSE.KMSKeyID = q.Get("sse_kms_key_id")
	case "sse-c":
		cfg.SSE.Mode = SSEC
		raw := os.Getenv(SSECKeyEnv)
		if raw == "" {
			return bad("sse=sse-c needs the key, 32 bytes in base64, in the environment variable %s", SSECKeyEnv)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
		if err != nil || len(key) != 32 {
			return bad("%s must hold 32 bytes in standard base64", SSECKeyEnv)
		}
		cfg.SSE.CustomerKey = key
	default:
		return bad("sse must be none, sse-s3, sse-kms or sse-c")
	}
	if q.Has("sse_kms_key_id") && cfg.SSE.Mode != SSEKMS {
		return bad("sse_kms_key_id needs sse=sse-kms")
	}
	if _, err := cfg.check(); err != nil {
		return bad("%v", err)
	}
	return cfg, nil
}
