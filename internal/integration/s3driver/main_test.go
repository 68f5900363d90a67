package s3driver_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
)

func TestMain(m *testing.M) {
	// Keep the SDK's default chain hermetic: no shared config from the
	// machine, and never the EC2 metadata address (tests talk to loopback
	// only).
	dir, err := os.MkdirTemp("", "s3test")
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
	if os.Getenv("STRATA_S3_BENCH_URL") != "" {
		// Benchmarks against a bucket of the caller's (see benchStore) use
		// the caller's credentials.
		os.Exit(m.Run())
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION", s3.SSECKeyEnv} {
		os.Unsetenv(k)
	}
	code := miniotest.Run(m)
	stopTLSMinIO()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testConfig returns a Config for bucket on srv.
func testConfig(srv *miniotest.Server, bucket string) s3.Config {
	return s3.Config{
		Bucket:          bucket,
		Region:          srv.Region,
		Endpoint:        srv.URL,
		AccessKeyID:     srv.AccessKey,
		SecretAccessKey: srv.SecretKey,
	}
}

// newTestStore returns a Store on a fresh bucket of the shared MinIO, with
// cfg's changes applied, and closes it when the test ends.
func newTestStore(t testing.TB, change func(*s3.Config)) (*s3.Store, *miniotest.Server) {
	t.Helper()
	return newKnobStore(t, s3proto.Knobs{}, change)
}

// newKnobStore is newTestStore with limits no Config offers lowered (a
// smaller listing page or copy threshold; see s3proto.Knobs).
func newKnobStore(t testing.TB, knobs s3proto.Knobs, change func(*s3.Config)) (*s3.Store, *miniotest.Server) {
	t.Helper()
	srv := miniotest.Start(t)
	cfg := testConfig(srv, srv.NewBucket(t))
	if change != nil {
		change(&cfg)
	}
	st, err := s3.New(s3proto.WithKnobs(context.Background(), knobs), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st, srv
}

// incompleteUploads lists the multipart uploads in progress in st's
// bucket, as "key (upload id)".
func incompleteUploads(t testing.TB, st *s3.Store) []string {
	t.Helper()
	var out []string
	in := &awss3.ListMultipartUploadsInput{Bucket: aws.String(st.Bucket())}
	for {
		res, err := st.Client().ListMultipartUploads(context.Background(), in)
		require.NoError(t, err, "ListMultipartUploads")
		for _, u := range res.Uploads {
			out = append(out, aws.ToString(u.Key)+" (upload "+aws.ToString(u.UploadId)+")")
		}
		if !aws.ToBool(res.IsTruncated) {
			return out
		}
		in.KeyMarker, in.UploadIdMarker = res.NextKeyMarker, res.NextUploadIdMarker
	}
}

// recorder is an http.RoundTripper that records the requests it sends.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, query string
	header              http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone()})
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// op names the S3 operation of a recorded request. The SDK tags most
// requests with x-id=<operation> in the query.
func (q recorded) op() string {
	v, _ := url.ParseQuery(q.query)
	switch {
	case v.Get("x-id") != "":
		return v.Get("x-id")
	case q.method == http.MethodHead:
		return "HeadObject"
	case q.method == http.MethodPost && v.Has("uploads"):
		return "CreateMultipartUpload"
	case q.method == http.MethodPost && v.Has("uploadId"):
		return "CompleteMultipartUpload"
	case q.method == http.MethodGet && v.Get("list-type") == "2":
		return "ListObjectsV2"
	case q.method == http.MethodGet && v.Has("uploads"):
		return "ListMultipartUploads"
	}
	return q.method + " " + q.path + "?" + q.query
}

// requests returns the recorded requests of operation op, or all for op "".
func (r *recorder) requests(op string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op == "" {
		return slices.Clone(r.reqs)
	}
	var out []recorded
	for _, q := range r.reqs {
		if q.op() == op {
			out = append(out, q)
		}
	}
	return out
}

// ops returns the operations recorded, in order.
func (r *recorder) ops() []string {
	var out []string
	for _, q := range r.requests("") {
		out = append(out, q.op())
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// recordingClient returns an HTTP client that records its requests.
func recordingClient() (*http.Client, *recorder) {
	rec := &recorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	return &http.Client{Transport: rec}, rec
}
