package minio

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// Scheme is the URL scheme this package registers with storage.Open.
const Scheme = "minio"

func init() {
	storage.Register(Scheme, openURL)
}

// openURL opens a Store from minio://host:port/bucket?query; see the package
// documentation for the parameters.
func openURL(ctx context.Context, u *url.URL) (storage.Provider, error) {
	cfg, err := configFromURL(u)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg)
}

// configFromURL parses a minio:// URL into a Config. Credentials never come
// from the URL: a URL is too easily logged.
func configFromURL(u *url.URL) (Config, error) {
	bad := func(format string, args ...any) error {
		return openErr(fmt.Errorf("URL %s: "+format, append([]any{storage.Redact(u)}, args...)...))
	}
	if u.User != nil {
		return Config{}, bad("credentials do not go in the URL; set MINIO_ACCESS_KEY and MINIO_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	if u.Host == "" {
		return Config{}, bad("no host (want minio://host:port/bucket)")
	}
	bucket := strings.Trim(u.Path, "/")
	if bucket == "" || strings.Contains(bucket, "/") {
		return Config{}, bad("want exactly one path segment, the bucket (minio://host:port/bucket)")
	}
	q := u.Query()
	t, err := s3proto.TuningFromURL(q)
	if err != nil {
		return Config{}, bad("%v", err)
	}
	cfg := Config{
		Endpoint: u.Host, Bucket: bucket, Secure: true,
		PartSize: t.PartSize, Concurrency: t.Concurrency, MaxAttempts: t.MaxAttempts,
		RecordLargeSHA256: t.RecordLargeSHA256, PrefixCheck: t.PrefixCheck, SkipVerifyReads: t.SkipVerifyReads,
	}
	for name, vals := range q {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "secure":
			cfg.Secure, err = strconv.ParseBool(v)
		case "region":
			cfg.Region = v
		case "storage_class":
			cfg.StorageClass = v
		default:
			return Config{}, bad("unknown parameter %q (known: %s)", name, s3proto.KnownURLParams("secure", "region", "storage_class"))
		}
		if err != nil {
			return Config{}, bad("parameter %s: %v", name, err)
		}
	}
	return cfg, nil
}
