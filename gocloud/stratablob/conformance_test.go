package stratablob_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/blob/drivertest"
	"gocloud.dev/gcerrors"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/gocloud/stratablob"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

func TestMain(m *testing.M) {
	// Keep the AWS SDK's default chain hermetic (as the s3 package's tests
	// do): no shared configuration or credentials of the machine, never
	// the EC2 metadata address.
	dir, err := os.MkdirTemp("", "stratablob")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		os.Unsetenv(k)
	}
	code := miniotest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// harness implements drivertest.Harness: each test gets a provider of its
// own from newProvider, and every driver MakeDriver returns is a bucket
// over it.
type harness struct {
	p       storage.Provider
	missing func(ctx context.Context) (storage.Provider, error)
	close   func()
}

func (h *harness) MakeDriver(context.Context) (driver.Bucket, error) {
	return stratablob.NewDriver(h.p, nil), nil
}

func (h *harness) MakeDriverForNonexistentBucket(ctx context.Context) (driver.Bucket, error) {
	if h.missing == nil {
		return nil, nil
	}
	p, err := h.missing(ctx)
	if err != nil {
		return nil, err
	}
	return stratablob.NewDriver(p, &stratablob.Options{CloseProvider: true}), nil
}

func (h *harness) HTTPClient() *http.Client         { return &http.Client{} }
func (h *harness) SupportsCopy() bool               { return true }
func (h *harness) SupportsNonSlashDelimiters() bool { return true }
func (h *harness) SkipDownloadAt() bool             { return false }
func (h *harness) Close() {
	if h.close != nil {
		h.close()
	}
}

// run runs gocloud's conformance tests on buckets over the providers
// newProvider makes, one per test.
func run(t *testing.T, provider string, newProvider func(t *testing.T) *harness) {
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		return newProvider(t), nil
	}, []drivertest.AsTest{asTest{}})
}

func memoryHarness(t *testing.T) *harness {
	p := memory.New()
	return &harness{p: p, close: func() { p.Close() }}
}

func localHarness(t *testing.T) *harness {
	// No nonexistent bucket: local.New creates its root directory.
	p, err := local.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{p: p, close: func() { p.Close() }}
}

func newCache(t *testing.T) *cache.Cache {
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cacheHarness(t *testing.T) *harness {
	p := newCache(t)
	return &harness{p: p, close: func() { p.Close() }}
}

func tieredHarness(mode tiered.Mode, newRemote func(t *testing.T) storage.Provider) func(t *testing.T) *harness {
	return tieredHarnessMissing(mode, newRemote, nil)
}

// tieredHarnessMissing is tieredHarness, with a tiered store over the
// remote missingRemote returns as the nonexistent bucket.
func tieredHarnessMissing(mode tiered.Mode, newRemote func(t *testing.T) storage.Provider,
	missingRemote func(t *testing.T) (storage.Provider, error)) func(t *testing.T) *harness {
	return func(t *testing.T) *harness {
		// One uploader, as tiered's own conformance test over MinIO has.
		opts := tiered.Options{Mode: mode, Uploaders: 1}
		s, err := tiered.New(newCache(t), newRemote(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{p: s, close: func() {
			if err := s.Flush(context.Background()); err != nil {
				t.Errorf("flush: %v", err)
			}
			s.Close()
		}}
		if missingRemote != nil {
			h.missing = func(context.Context) (storage.Provider, error) {
				r, err := missingRemote(t)
				if err != nil {
					return nil, err
				}
				return tiered.New(newCache(t), r, opts)
			}
		}
		return h
	}
}

func s3Harness(t *testing.T) *harness {
	srv := miniotest.Start(t)
	cfg := func(bucket string) s3.Config {
		return s3.Config{Bucket: bucket, Region: srv.Region, Endpoint: srv.URL,
			AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
			// MinIO cannot hold "a" and "a/b": refuse the second.
			PrefixCheck: s3.PrefixCheckOn}
	}
	p, err := s3.New(t.Context(), cfg(srv.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{p: p, close: func() { p.Close() },
		missing: func(ctx context.Context) (storage.Provider, error) {
			return s3.New(ctx, cfg("strata-no-such-bucket"))
		}}
}

func minioConfig(srv *miniotest.Server, bucket string) minio.Config {
	return minio.Config{Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Bucket: bucket}
}

func newMinIO(t *testing.T) storage.Provider {
	srv := miniotest.Start(t)
	p, err := minio.New(t.Context(), minioConfig(srv, srv.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func missingMinIO(t *testing.T) (storage.Provider, error) {
	srv := miniotest.Start(t)
	return minio.New(t.Context(), minioConfig(srv, "strata-no-such-bucket"))
}

func minioHarness(t *testing.T) *harness {
	srv := miniotest.Start(t)
	cfg := func(bucket string) minio.Config { return minioConfig(srv, bucket) }
	p, err := minio.New(t.Context(), cfg(srv.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{p: p, close: func() { p.Close() },
		missing: func(ctx context.Context) (storage.Provider, error) {
			return minio.New(ctx, cfg("strata-no-such-bucket"))
		}}
}

func TestConformance(t *testing.T) {
	memRemote := func(*testing.T) storage.Provider { return memory.New() }
	for _, c := range []struct {
		name string
		new  func(t *testing.T) *harness
	}{
		{"memory", memoryHarness},
		{"local", localHarness},
		{"cache", cacheHarness},
		{"tiered-write-through", tieredHarness(tiered.WriteThrough, memRemote)},
		{"tiered-write-behind", tieredHarness(tiered.WriteBehind, memRemote)},
		{"s3", s3Harness},
		{"minio", minioHarness},
		// A tiered store over MinIO presigns GET URLs of what it uploaded.
		{"tiered-write-through-minio", tieredHarnessMissing(tiered.WriteThrough, newMinIO, missingMinIO)},
		{"tiered-write-behind-minio", tieredHarnessMissing(tiered.WriteBehind, newMinIO, missingMinIO)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			run(t, c.name, c.new)
		})
	}
}

// asTest checks the As functions of the bucket.
type asTest struct{}

func (asTest) Name() string { return "strata" }

func (asTest) BucketCheck(b *blob.Bucket) error {
	var p storage.Provider
	if !b.As(&p) || p == nil {
		return errors.New("Bucket.As(*storage.Provider) = false")
	}
	return nil
}

func (asTest) ErrorCheck(b *blob.Bucket, err error) error {
	var se *storage.Error
	if !b.ErrorAs(err, &se) {
		return errors.New("Bucket.ErrorAs(*storage.Error) = false")
	}
	if !errors.Is(se, storage.ErrNotFound) {
		return errors.New("the *storage.Error of a missing key is not storage.ErrNotFound")
	}
	return nil
}

func (asTest) BeforeRead(as func(any) bool) error {
	var o *storage.GetOptions
	if !as(&o) || o == nil {
		return errors.New("BeforeRead's As(**storage.GetOptions) = false")
	}
	return nil
}

func (asTest) BeforeWrite(as func(any) bool) error {
	var o *storage.PutOptions
	if !as(&o) || o == nil {
		return errors.New("BeforeWrite's As(**storage.PutOptions) = false")
	}
	return nil
}

func (asTest) BeforeCopy(func(any) bool) error   { return nil }
func (asTest) BeforeDelete(func(any) bool) error { return nil }
func (asTest) BeforeSign(func(any) bool) error   { return nil }

func (asTest) BeforeList(as func(any) bool) error {
	var o *storage.ListOptions
	if !as(&o) || o == nil {
		return errors.New("BeforeList's As(**storage.ListOptions) = false")
	}
	return nil
}

func (asTest) AttributesCheck(attrs *blob.Attributes) error {
	var info storage.Info
	if !attrs.As(&info) || info.Key == "" {
		return errors.New("Attributes.As(*storage.Info) = false")
	}
	return nil
}

func (asTest) ReaderCheck(r *blob.Reader) error {
	var info storage.Info
	if !r.As(&info) || info.Key == "" {
		return errors.New("Reader.As(*storage.Info) = false")
	}
	return nil
}

func (asTest) ListObjectCheck(o *blob.ListObject) error {
	var info storage.Info
	if !o.As(&info) || info.Key == "" {
		return errors.New("ListObject.As(*storage.Info) = false")
	}
	return nil
}

// TestSignedPutURL uploads through a PUT URL of the bucket with a plain
// HTTP client and reads the object back with its signed content type; a
// provider whose uploads need headers a URL cannot carry (a storage class)
// says Unimplemented rather than hand out a URL that fails.
func TestSignedPutURL(t *testing.T) {
	ctx := t.Context()
	srv := miniotest.Start(t)
	cfg := s3.Config{Bucket: srv.NewBucket(t), Region: srv.Region, Endpoint: srv.URL,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	b := s3Bucket(t, cfg)

	u, err := b.SignedURL(ctx, "photos/cat.jpg", &blob.SignedURLOptions{Method: http.MethodPut, ContentType: "image/jpeg"})
	if err != nil {
		t.Fatalf("SignedURL PUT: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader("jpeg bytes"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT through the URL: %s", resp.Status)
	}
	attrs, err := b.Attributes(ctx, "photos/cat.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if attrs.ContentType != "image/jpeg" || attrs.Size != int64(len("jpeg bytes")) {
		t.Errorf("uploaded object: content type %q, size %d; want image/jpeg, %d", attrs.ContentType, attrs.Size, len("jpeg bytes"))
	}

	cfg.StorageClass = "REDUCED_REDUNDANCY"
	_, err = s3Bucket(t, cfg).SignedURL(ctx, "k", &blob.SignedURLOptions{Method: http.MethodPut})
	if gcerrors.Code(err) != gcerrors.Unimplemented || !strings.Contains(err.Error(), "X-Amz-Storage-Class") {
		t.Errorf("SignedURL PUT with a storage class = %v, want Unimplemented naming the header", err)
	}
	if _, err := b.SignedURL(ctx, "k", &blob.SignedURLOptions{Method: http.MethodDelete}); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("SignedURL DELETE = %v, want Unimplemented", err)
	}
}

// s3Bucket returns a bucket over an s3 store of cfg, both closed when the
// test ends.
func s3Bucket(t *testing.T, cfg s3.Config) *blob.Bucket {
	t.Helper()
	p, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := stratablob.OpenBucket(p, &stratablob.Options{CloseProvider: true})
	t.Cleanup(func() { b.Close() })
	return b
}
