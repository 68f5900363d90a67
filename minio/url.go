package minio

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

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
		return &storage.Error{Op: "open", Provider: providerName, Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("URL %s: "+format, append([]any{storage.Redact(u)}, args...)...)}
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
	cfg := Config{Endpoint: u.Host, Bucket: bucket, Secure: true}
	for name, vals := range u.Query() {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "secure":
			cfg.Secure, err = strconv.ParseBool(v)
		case "region":
			cfg.Region = v
		case "storage_class":
			cfg.StorageClass = v
		case "part_size":
			cfg.PartSize, err = strconv.ParseInt(v, 10, 64)
		case "threads":
			cfg.NumThreads, err = strconv.Atoi(v)
		case "max_retries":
			cfg.MaxRetries, err = strconv.Atoi(v)
		case "skip_multipart_sha256":
			cfg.SkipMultipartSHA256, err = strconv.ParseBool(v)
		case "skip_prefix_check":
			cfg.SkipPrefixCheck, err = strconv.ParseBool(v)
		case "skip_verify_reads":
			cfg.SkipVerifyReads, err = strconv.ParseBool(v)
		default:
			return Config{}, bad("unknown parameter %q (known: secure, region, storage_class, part_size, threads, max_retries, skip_multipart_sha256, skip_prefix_check, skip_verify_reads)", name)
		}
		if err != nil {
			return Config{}, bad("parameter %s: %v", name, err)
		}
	}
	return cfg, nil
}
