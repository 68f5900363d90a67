package crossdriver_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

func TestMain(m *testing.M) {
	// Keep the AWS SDK's default chain hermetic, as the s3 package's tests
	// do: no shared config from the machine, never the EC2 metadata
	// address.
	dir, err := os.MkdirTemp("", "s3proto")
	if err != nil {
		panic(err)
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION",
		"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} {
		os.Unsetenv(k)
	}
	code := miniotest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// target says where a driver's Store points.
type target struct {
	endpoint string // host:port
	bucket   string
	access   string
	secret   string
	region   string
}

// driver opens a Store of one of the two S3 drivers on a target.
type driver struct {
	name string
	open func(t *testing.T, tg target) storage.Provider
}

// drivers are the two S3 drivers, each with one attempt per request, so
// that a server that is gone fails fast.
var drivers = []driver{
	{"s3", func(t *testing.T, tg target) storage.Provider {
		st, err := s3.New(context.Background(), s3.Config{
			Bucket: tg.bucket, Region: tg.region, Endpoint: "http://" + tg.endpoint,
			AccessKeyID: tg.access, SecretAccessKey: tg.secret, MaxAttempts: 1,
		})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"minio", func(t *testing.T, tg target) storage.Provider {
		st, err := minio.New(context.Background(), minio.Config{
			Endpoint: tg.endpoint, Bucket: tg.bucket, Region: tg.region,
			AccessKey: tg.access, SecretKey: tg.secret, MaxRetries: 1,
		})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// sentinels are the kinds an answer is compared by.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotFound", storage.ErrNotFound},
	{"ErrNoBucket", storage.ErrNoBucket},
	{"ErrExist", storage.ErrExist},
	{"ErrInvalidKey", storage.ErrInvalidKey},
	{"ErrInvalidArgument", storage.ErrInvalidArgument},
	{"ErrInvalidRange", storage.ErrInvalidRange},
	{"ErrSizeMismatch", storage.ErrSizeMismatch},
	{"ErrUnsupported", storage.ErrUnsupported},
	{"ErrPermission", storage.ErrPermission},
	{"ErrUnavailable", storage.ErrUnavailable},
	{"ErrCorrupt", storage.ErrCorrupt},
	{"ErrTooLarge", storage.ErrTooLarge},
}

// kinds names the sentinels err matches: "ok" for nil, "unclassified"
// for an error that matches none.
func kinds(err error) string {
	if err == nil {
		return "ok"
	}
	var out []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			out = append(out, s.name)
		}
	}
	if len(out) == 0 {
		return "unclassified"
	}
	return strings.Join(out, "+")
}

// question is one situation put to a Store. ask returns the error the
// Store answered with.
type question struct {
	name string
	ask  func(ctx context.Context, p storage.Provider) error
}

func get(key string, rng *storage.Range) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		var opts *storage.GetOptions
		if rng != nil {
			opts = &storage.GetOptions{Range: rng}
		}
		rc, _, err := p.Get(ctx, key, opts)
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		return err
	}
}

func stat(key string) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		_, err := p.Stat(ctx, key)
		return err
	}
}

func put(key, body string, opts *storage.PutOptions) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		_, err := p.Put(ctx, key, strings.NewReader(body), opts)
		return err
	}
}

func del(key string) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error { return p.Delete(ctx, key) }
}

func list(ctx context.Context, p storage.Provider) error {
	for _, err := range p.List(ctx, nil) {
		if err != nil {
			return err
		}
	}
	return nil
}

func cp(dst, src string) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		c, ok := p.(storage.Copier)
		if !ok {
			return storage.ErrUnsupported
		}
		_, err := c.Copy(ctx, dst, src)
		return err
	}
}

func presign(key string) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		ps, ok := p.(storage.Presigner)
		if !ok {
			return storage.ErrUnsupported
		}
		_, err := ps.PresignGet(ctx, key, time.Minute)
		return err
	}
}

// section is a group of questions put to Stores opened on one target,
// with the kinds every answer must match (want) and must not (not).
type section struct {
	name      string
	target    func(t *testing.T) target
	setup     func(t *testing.T, p storage.Provider) // run once per driver before the questions
	questions []question
	want      string // kinds() of the right answer
}

// TestSameAnswers puts the same questions to the s3 and minio drivers on
// one MinIO and checks that both answer with the same error kinds, and
// the right ones: a missing key is ErrNotFound, a missing bucket is
// ErrNoBucket (never ErrNotFound) for every operation, a conditional
// create on an existing key is ErrExist, a range past the end is
// ErrInvalidRange, a wrong Size is ErrSizeMismatch, a wrong secret is
// ErrPermission and a server that is gone is ErrUnavailable.
func TestSameAnswers(t *testing.T) {
	srv := miniotest.Start(t)
	on := func(bucket, secret, endpoint string) target {
		return target{endpoint: endpoint, bucket: bucket, access: srv.AccessKey, secret: secret, region: srv.Region}
	}
	fresh := func(t *testing.T) target { return on(srv.NewBucket(t), srv.SecretKey, srv.Endpoint) }
	const body = "0123456789"
	stored := func(t *testing.T, p storage.Provider) {
		_, err := p.Put(t.Context(), "there", strings.NewReader(body), nil)
		require.NoError(t, err)
	}

	sections := []section{
		{
			name: "missing key", target: fresh, want: "ErrNotFound",
			questions: []question{
				{"get", get("missing", nil)},
				{"ranged get", get("missing", &storage.Range{Offset: 2, Length: 3})},
				{"stat", stat("missing")},
				{"copy from", cp("dst", "missing")},
			},
		},
		{
			name: "missing bucket",
			target: func(t *testing.T) target {
				return on("strata-no-such-bucket-"+randomSuffix(), srv.SecretKey, srv.Endpoint)
			},
			want: "ErrNoBucket+ErrInvalidArgument",
			questions: []question{
				{"put", put("k", body, nil)},
				{"put if not exists", put("k", body, &storage.PutOptions{IfNotExists: true})},
				{"put sized", put("k", body, &storage.PutOptions{Size: int64(len(body))})},
				{"get", get("k", nil)},
				{"ranged get", get("k", &storage.Range{Offset: 2, Length: 3})},
				{"stat", stat("k")},
				{"delete", del("k")},
				{"list", list},
				{"copy", cp("dst", "k")},
			},
		},
		{
			name: "conditional create of an existing key", target: fresh, setup: stored, want: "ErrExist",
			questions: []question{
				{"put", put("there", "other", &storage.PutOptions{IfNotExists: true})},
				{"put sized", put("there", "other", &storage.PutOptions{IfNotExists: true, Size: 5})},
			},
		},
		{
			name: "range past the end", target: fresh, setup: stored, want: "ErrInvalidRange",
			questions: []question{
				{"offset at the end", get("there", &storage.Range{Offset: int64(len(body))})},
				{"offset past the end", get("there", &storage.Range{Offset: 100, Length: 5})},
			},
		},
		{
			name: "size mismatch", target: fresh, want: "ErrSizeMismatch",
			questions: []question{
				{"reader short", put("short", body, &storage.PutOptions{Size: int64(len(body)) + 5})},
				{"reader long", put("long", body, &storage.PutOptions{Size: int64(len(body)) - 5})},
				{"nothing stored (short)", func(ctx context.Context, p storage.Provider) error {
					if _, err := p.Stat(ctx, "short"); !errors.Is(err, storage.ErrNotFound) {
						return errors.Join(errors.New("stored after a size mismatch"), err)
					}
					return storage.ErrSizeMismatch
				}},
			},
		},
		{
			name: "wrong secret",
			target: func(t *testing.T) target {
				return on(srv.NewBucket(t), srv.SecretKey+"-wrong", srv.Endpoint)
			},
			want: "ErrPermission",
			questions: []question{
				{"put", put("k", body, nil)},
				{"get", get("k", nil)},
				{"ranged get", get("k", &storage.Range{Offset: 1, Length: 1})},
				{"stat", stat("k")},
				{"delete", del("k")},
				{"list", list},
				{"copy", cp("dst", "k")},
			},
		},
		{
			name: "server gone",
			target: func(t *testing.T) target {
				return on("bucket", srv.SecretKey, closedPort(t))
			},
			want: "ErrUnavailable",
			questions: []question{
				{"put", put("k", body, nil)},
				{"get", get("k", nil)},
				{"stat", stat("k")},
				{"delete", del("k")},
				{"list", list},
				{"copy", cp("dst", "k")},
			},
		},
		{
			// A presigned URL is made without asking the server.
			name: "presign without a request", want: "ok",
			target: func(t *testing.T) target {
				return on("strata-no-such-bucket-"+randomSuffix(), srv.SecretKey, srv.Endpoint)
			},
			questions: []question{{"presign in a missing bucket", presign("k")}},
		},
	}
	for _, sec := range sections {
		t.Run(sec.name, func(t *testing.T) {
			stores := make([]storage.Provider, len(drivers))
			for i, d := range drivers {
				stores[i] = d.open(t, sec.target(t))
				if sec.setup != nil {
					sec.setup(t, stores[i])
				}
			}
			for _, q := range sec.questions {
				t.Run(q.name, func(t *testing.T) {
					got := make([]string, len(drivers))
					for i, d := range drivers {
						ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
						err := q.ask(ctx, stores[i])
						cancel()
						got[i] = kinds(err)
						assert.Equal(t, sec.want, got[i], "%s answered %v", d.name, err)
					}
					assert.Equal(t, got[0], got[1], "the drivers disagree: %s %s, %s %s",
						drivers[0].name, got[0], drivers[1].name, got[1])
				})
			}
		})
	}
}

// closedPort returns a loopback host:port where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// randomSuffix returns random hex digits, for a bucket name nobody made.
func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestSameObjects writes with each driver and reads with the other, on one
// bucket: content type, metadata (values HTTP would trim, or that look
// like an encoded word) and the recorded SHA-256 come back as written, and
// a whole-object read is verified.
func TestSameObjects(t *testing.T) {
	srv := miniotest.Start(t)
	tg := target{endpoint: srv.Endpoint, bucket: srv.NewBucket(t), access: srv.AccessKey, secret: srv.SecretKey, region: srv.Region}
	stores := make([]storage.Provider, len(drivers))
	for i, d := range drivers {
		stores[i] = d.open(t, tg)
	}
	md := map[string]string{
		"plain":   "value",
		"padded":  "  both ends  ",
		"lead":    " lead",
		"word":    "=?UTF-8?B?aGk=?=",
		"qword":   "=?UTF-8?Q?x?=",
		"symbols": " ~!@#$%^&*()_+{}|:\"<>? ",
	}
	const body = "the same bytes"
	for w, wd := range drivers {
		key := "by-" + wd.name
		in, err := stores[w].Put(t.Context(), key, strings.NewReader(body), &storage.PutOptions{ContentType: "text/plain", Metadata: md})
		require.NoError(t, err)
		require.NotEmpty(t, in.SHA256, "%s records the SHA-256", wd.name)
		for r, rd := range drivers {
			t.Run(wd.name+" to "+rd.name, func(t *testing.T) {
				info, err := stores[r].Stat(t.Context(), key)
				require.NoError(t, err)
				assert.Equal(t, md, info.Metadata, "metadata written by %s, read by %s", wd.name, rd.name)
				assert.Equal(t, in.SHA256, info.SHA256)
				assert.Equal(t, "text/plain", info.ContentType)
				rc, ginfo, err := stores[r].Get(t.Context(), key, nil)
				require.NoError(t, err)
				b, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err)
				assert.Equal(t, body, string(b))
				assert.Equal(t, md, ginfo.Metadata)
				assert.Equal(t, in.SHA256, ginfo.SHA256)
			})
		}
	}
}
