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

	"github.com/strata-storage/strata/storage"
)

// SSECKeyEnv is the environment variable an s3:// URL with sse=sse-c reads
// the customer key from, as 32 bytes in standard base64. Keys are never
// taken from the URL itself.
const SSECKeyEnv = "STRATA_S3_SSE_C_KEY"

func init() {
	storage.Register("s3", OpenURL)
}

// urlParams are the query parameters an s3:// URL may carry.
var urlParams = []string{"region", "endpoint", "path_style", "addressing", "storage_class", "sse", "sse_kms_key_id", "part_size", "concurrency", "max_attempts", "prefix_conflicts", "record_large_sha256", "skip_verify_reads"}

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
		return Config{}, newErr("open", "", storage.ErrInvalidArgument,
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
	for name, vals := range q {
		if !slices.Contains(urlParams, name) {
			return bad("unknown parameter %q (known: %s)", name, strings.Join(urlParams, ", "))
		}
		if len(vals) != 1 {
			return bad("parameter %q is given %d times", name, len(vals))
		}
	}
	cfg := Config{
		Bucket:       u.Host,
		Region:       q.Get("region"),
		StorageClass: q.Get("storage_class"),
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
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"prefix_conflicts", &cfg.PrefixConflicts}, {"record_large_sha256", &cfg.RecordLargeSHA256}, {"skip_verify_reads", &cfg.SkipVerifyReads}} {
		if v := q.Get(p.name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("%s must be true or false", p.name)
			}
			*p.dst = b
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
	for _, p := range []struct {
		name string
		dst  *int
	}{{"concurrency", &cfg.Concurrency}, {"max_attempts", &cfg.MaxAttempts}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return bad("%s must be a positive integer", p.name)
			}
			*p.dst = n
		}
	}
	if v := q.Get("part_size"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			return bad("part_size: %v", err)
		}
		cfg.PartSize = n
	}
	if _, err := cfg.check(); err != nil {
		return bad("%v", err)
	}
	return cfg, nil
}

// parseSize parses a byte count with an optional binary suffix: 16777216,
// 16MiB, 16M, 1GiB.
func parseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, suf.s) {
			s, mult = strings.TrimSuffix(s, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 16MiB", v)
	}
	return n * mult, nil
}
