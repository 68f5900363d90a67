package crossdriver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	small    bool // the smallest part size
	// streamLarge makes an object of more than two parts stream (one
	// part in flight) and have its SHA-256 recorded after its upload,
	// with a copy of the object onto itself.
	streamLarge bool
}

// driver opens a Store of one of the two S3 drivers on a target.
type driver struct {
	name string
	open func(t *testing.T, tg target) storage.Provider
}

// drivers are the two S3 drivers, each with one attempt per request, so
// that a server that is gone fails fast, and otherwise their defaults;
// with tg.small, with the smallest part size S3 allows, so that objects
// of a few MiB go up in parts.
var drivers = []driver{
	{"s3", func(t *testing.T, tg target) storage.Provider {
		var partSize int64
		if tg.small {
			partSize = s3.MinPartSize
		}
		st, err := s3.New(context.Background(), s3.Config{
			Bucket: tg.bucket, Region: tg.region, Endpoint: "http://" + tg.endpoint,
			AccessKeyID: tg.access, SecretAccessKey: tg.secret, MaxAttempts: 1, PartSize: partSize,
			Concurrency: concurrency(tg), RecordLargeSHA256: tg.streamLarge,
		})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"minio", func(t *testing.T, tg target) storage.Provider {
		var partSize int64
		if tg.small {
			partSize = minio.MinPartSize
		}
		st, err := minio.New(context.Background(), minio.Config{
			Endpoint: tg.endpoint, Bucket: tg.bucket, Region: tg.region,
			AccessKey: tg.access, SecretKey: tg.secret, MaxAttempts: 1, PartSize: partSize,
			Concurrency: concurrency(tg), RecordLargeSHA256: tg.streamLarge,
		})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// concurrency is the Concurrency of a Store on tg: 1 with streamLarge
// (Put then holds two parts before it starts an upload), else the default.
func concurrency(tg target) int {
	if tg.streamLarge {
		return 1
	}
	return 0
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

// large is the body of the questions about objects sent in parts: more
// than two parts of the smallest size.
var large = string(make([]byte, 2*s3.MinPartSize+12345))

// putStream puts body through a reader that is only an io.Reader, so that
// both drivers read it as a stream.
func putStream(key, body string, opts *storage.PutOptions) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		_, err := p.Put(ctx, key, struct{ io.Reader }{strings.NewReader(body)}, opts)
		return err
	}
}

// sized returns PutOptions promising n bytes, with IfNotExists when
// ifNotExists.
func sized(n int, ifNotExists bool) *storage.PutOptions {
	return &storage.PutOptions{Size: int64(n), IfNotExists: ifNotExists}
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

func presignPut(key string) func(context.Context, storage.Provider) error {
	return func(ctx context.Context, p storage.Provider) error {
		_, err := storage.PresignPut(ctx, p, key, time.Minute, &storage.PresignPutOptions{ContentType: "text/plain", Size: 3})
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

	small := func(f func(t *testing.T) target) func(t *testing.T) target {
		return func(t *testing.T) target {
			tg := f(t)
			tg.small = true
			return tg
		}
	}
	missingBucket := func(t *testing.T) target {
		return on("strata-no-such-bucket-"+randomSuffix(), srv.SecretKey, srv.Endpoint)
	}
	nothingStored := func(key string) func(ctx context.Context, p storage.Provider) error {
		return func(ctx context.Context, p storage.Provider) error {
			if _, err := p.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
				return errors.Join(errors.New("stored after a size mismatch"), err)
			}
			return storage.ErrSizeMismatch
		}
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
			name:   "missing bucket",
			target: missingBucket,
			want:   "ErrNoBucket+ErrInvalidArgument",
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
				{"copy under a parent", cp("dst/x", "k")},
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
				{"nothing stored (short)", nothingStored("short")},
				{"nothing stored (long)", nothingStored("long")},
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
			// Each driver's default, PrefixCheckAuto, finds MinIO and
			// checks (before the shared layer, only minio checked by
			// default, and s3 stored "a/b" beside "a", which MinIO then
			// lists without one of them).
			name: "prefix conflict", target: fresh, want: "ErrExist",
			setup: func(t *testing.T, p storage.Provider) {
				for _, k := range []string{"a", "d/e"} {
					_, err := p.Put(t.Context(), k, strings.NewReader(body), nil)
					require.NoError(t, err)
				}
			},
			questions: []question{
				{"put under an object", put("a/b", body, nil)},
				{"put over a prefix", put("d", body, nil)},
				{"copy under an object", cp("a/b/c", "a")},
				{"copy over a prefix", cp("d", "a")},
			},
		},
		{
			name: "missing bucket, objects in parts", target: small(missingBucket), want: "ErrNoBucket+ErrInvalidArgument",
			questions: []question{
				{"put a stream", putStream("k", large, nil)},
				{"put a sized stream", putStream("k", large, sized(len(large), false))},
				{"put a sized io.ReaderAt", put("k", large, sized(len(large), false))},
			},
		},
		{
			name: "conditional create of an existing key, objects in parts", target: small(fresh), setup: stored, want: "ErrExist",
			questions: []question{
				{"put a stream", putStream("there", large, &storage.PutOptions{IfNotExists: true})},
				{"put a sized stream", putStream("there", large, sized(len(large), true))},
				{"put a sized io.ReaderAt", put("there", large, sized(len(large), true))},
			},
		},
		{
			name: "size mismatch, objects in parts", target: small(fresh), want: "ErrSizeMismatch",
			questions: []question{
				{"stream short", putStream("short", large, sized(len(large)+1, false))},
				{"stream long", putStream("long", large, sized(len(large)-1, false))},
				{"io.ReaderAt short", put("short", large, sized(len(large)+1, false))},
				{"io.ReaderAt long", put("long", large, sized(len(large)-1, false))},
				{"nothing stored (short)", nothingStored("short")},
				{"nothing stored (long)", nothingStored("long")},
			},
		},
		{
			// A presigned URL is made without asking the server.
			name: "presign without a request", want: "ok",
			target: func(t *testing.T) target {
				return on("strata-no-such-bucket-"+randomSuffix(), srv.SecretKey, srv.Endpoint)
			},
			questions: []question{
				{"presign in a missing bucket", presign("k")},
				{"presign an upload in a missing bucket", presignPut("k")},
			},
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

// attrs are the HTTP attributes TestSameAttributes stores: a
// Content-Encoding of gzip on bytes that are not gzip, so that a client
// that decompresses transparently fails the read.
var attrs = storage.PutOptions{
	ContentType:        "text/plain; charset=utf-8",
	CacheControl:       "public, max-age=3600, immutable",
	ContentDisposition: `attachment; filename="a b.txt"; filename*=UTF-8''a%20b%C3%A9.txt`,
	ContentEncoding:    "gzip",
	ContentLanguage:    "en-GB, fr",
	Metadata:           map[string]string{"owner": "bob"},
}

// requireAttrs checks that info carries the HTTP attributes, content type
// and metadata of attrs.
func requireAttrs(t *testing.T, info storage.Info, what string) {
	t.Helper()
	assert.Equal(t, attrs.ContentType, info.ContentType, "ContentType %s", what)
	assert.Equal(t, attrs.CacheControl, info.CacheControl, "CacheControl %s", what)
	assert.Equal(t, attrs.ContentDisposition, info.ContentDisposition, "ContentDisposition %s", what)
	assert.Equal(t, attrs.ContentEncoding, info.ContentEncoding, "ContentEncoding %s", what)
	assert.Equal(t, attrs.ContentLanguage, info.ContentLanguage, "ContentLanguage %s", what)
	assert.Equal(t, attrs.Metadata, info.Metadata, "Metadata %s", what)
}

// TestSameAttributes stores the HTTP attributes with each driver, in one
// request, in a multipart upload, in a multipart upload whose SHA-256 is
// recorded afterwards (a copy of the object onto itself), in parts read
// from an io.ReaderAt, and with Copy,
// and reads them back with both: Put's Info, Stat and Get agree, and the
// headers are the object's own (a plain HTTP GET of a presigned URL
// returns them).
func TestSameAttributes(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	tg := target{endpoint: srv.Endpoint, bucket: bucket, access: srv.AccessKey, secret: srv.SecretKey, region: srv.Region}
	streaming := tg
	streaming.small, streaming.streamLarge = true, true
	stores := make([]storage.Provider, len(drivers))
	streamers := make([]storage.Provider, len(drivers))
	for i, d := range drivers {
		stores[i] = d.open(t, tg)
		streamers[i] = d.open(t, streaming)
	}
	type object struct {
		key, body string
	}
	var objects []object
	for w, wd := range drivers {
		ctx := t.Context()
		opts := attrs
		small := object{"by-" + wd.name + "/single", "not really gzip"}
		in, err := stores[w].Put(ctx, small.key, strings.NewReader(small.body), &opts)
		require.NoError(t, err)
		requireAttrs(t, in, "from "+wd.name+"'s Put")

		parts := object{"by-" + wd.name + "/parts", large}
		in, err = streamers[w].Put(ctx, parts.key, struct{ io.Reader }{strings.NewReader(large)}, &opts)
		require.NoError(t, err)
		requireAttrs(t, in, "from "+wd.name+"'s multipart Put")
		info, err := streamers[w].Stat(ctx, parts.key)
		require.NoError(t, err)
		require.NotEmpty(t, info.SHA256, "%s recorded the SHA-256 after the upload", wd.name)

		// A sized io.ReaderAt: minio reads its parts at their offsets.
		sized := object{"by-" + wd.name + "/sized", large}
		sopts := attrs
		sopts.Size = int64(len(large))
		in, err = streamers[w].Put(ctx, sized.key, strings.NewReader(large), &sopts)
		require.NoError(t, err)
		requireAttrs(t, in, "from "+wd.name+"'s sized multipart Put")

		copied := object{"by-" + wd.name + "/copy", small.body}
		in, err = storage.Copy(ctx, stores[w], copied.key, small.key)
		require.NoError(t, err)
		requireAttrs(t, in, "from "+wd.name+"'s Copy")
		objects = append(objects, small, parts, sized, copied)
	}
	for _, o := range objects {
		for r, rd := range drivers {
			t.Run(o.key+" read by "+rd.name, func(t *testing.T) {
				info, err := stores[r].Stat(t.Context(), o.key)
				require.NoError(t, err)
				requireAttrs(t, info, "from Stat")
				b, ginfo, err := storage.ReadAll(t.Context(), stores[r], o.key)
				require.NoError(t, err)
				assert.Equal(t, o.body == large, len(b) == len(large))
				assert.True(t, o.body == string(b), "body read back as stored")
				requireAttrs(t, ginfo, "from Get")
				assert.Equal(t, info.SHA256, ginfo.SHA256)
				rc, rinfo, err := stores[r].Get(t.Context(), o.key, &storage.GetOptions{Range: &storage.Range{Offset: 1, Length: 3}})
				require.NoError(t, err)
				rc.Close()
				requireAttrs(t, rinfo, "from a ranged Get")
			})
		}
		t.Run(o.key+" served as stored", func(t *testing.T) {
			u, err := storage.PresignGet(t.Context(), stores[0], o.key, time.Minute)
			require.NoError(t, err)
			// A client that asks for no compression, so that it shows
			// the Content-Encoding as the server sent it.
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			resp, err := client.Get(u)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			for name, want := range map[string]string{
				"Cache-Control": attrs.CacheControl, "Content-Disposition": attrs.ContentDisposition,
				"Content-Encoding": attrs.ContentEncoding, "Content-Language": attrs.ContentLanguage,
			} {
				assert.Equal(t, want, resp.Header.Get(name), "the object's %s header", name)
			}
		})
	}
}

// upload sends body with the presigned request pr through a plain HTTP
// client, as a browser would: the headers pr lists, as they are, except
// Content-Length, which the client sets from the body. It returns the
// status and the response body.
func upload(t *testing.T, pr *storage.PresignedRequest, body []byte, change func(http.Header)) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), pr.Method, pr.URL, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range pr.Header {
		if http.CanonicalHeaderKey(k) == "Content-Length" {
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if change != nil {
		change(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPresignPut uploads through the presigned PUT requests of each
// driver with a plain HTTP client and reads the objects with both: what
// PresignPutOptions gives is signed (a body of another size or digest, or
// another content type, is refused by MinIO), a given SHA-256 is recorded
// as strata's, and an expired request is refused.
func TestPresignPut(t *testing.T) {
	srv := miniotest.Start(t)
	tg := target{endpoint: srv.Endpoint, bucket: srv.NewBucket(t), access: srv.AccessKey, secret: srv.SecretKey, region: srv.Region}
	stores := make([]storage.Provider, len(drivers))
	for i, d := range drivers {
		stores[i] = d.open(t, tg)
	}
	body := []byte("uploaded by a browser")
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	full := &storage.PresignPutOptions{ContentType: "image/png", Size: int64(len(body)), SHA256: hexSum}
	for w, wd := range drivers {
		t.Run(wd.name, func(t *testing.T) {
			presign := func(t *testing.T, key string, expiry time.Duration, opts *storage.PresignPutOptions) *storage.PresignedRequest {
				t.Helper()
				pr, err := storage.PresignPut(t.Context(), stores[w], key, expiry, opts)
				require.NoError(t, err)
				require.Equal(t, http.MethodPut, pr.Method)
				return pr
			}
			readBack := func(t *testing.T, key string) []storage.Info {
				t.Helper()
				var infos []storage.Info
				for r, rd := range drivers {
					b, info, err := storage.ReadAll(t.Context(), stores[r], key)
					require.NoError(t, err, "%s reads what was uploaded", rd.name)
					assert.Equal(t, string(body), string(b), "read by %s", rd.name)
					infos = append(infos, info)
				}
				return infos
			}
			t.Run("plain", func(t *testing.T) {
				pr := presign(t, "plain/k", time.Minute, nil)
				assert.Empty(t, pr.Header, "nothing to send but the body")
				status, msg := upload(t, pr, body, nil)
				require.Equal(t, http.StatusOK, status, msg)
				for _, info := range readBack(t, "plain/k") {
					assert.Empty(t, info.SHA256, "no SHA-256 was given")
				}
			})
			t.Run("signed", func(t *testing.T) {
				pr := presign(t, "signed/k", time.Minute, full)
				want := http.Header{
					"Content-Type":             {"image/png"},
					"Content-Length":           {strconv.Itoa(len(body))},
					"X-Amz-Checksum-Sha256":    {base64.StdEncoding.EncodeToString(sum[:])},
					"X-Amz-Meta-Strata-Sha256": {hexSum},
				}
				got := http.Header{}
				for k, vs := range pr.Header {
					got[http.CanonicalHeaderKey(k)] = vs
				}
				assert.Equal(t, want, got, "the headers the client must send")
				assert.Contains(t, pr.URL, "X-Amz-Signature=")
				status, msg := upload(t, pr, body, nil)
				require.Equal(t, http.StatusOK, status, msg)
				for _, info := range readBack(t, "signed/k") {
					assert.Equal(t, hexSum, info.SHA256, "the SHA-256 is recorded as strata's")
					assert.Equal(t, "image/png", info.ContentType)
					assert.Empty(t, info.Metadata, "strata's entry stays hidden")
				}
			})
			refused := []struct {
				name   string
				body   []byte
				change func(http.Header)
			}{
				{"wrong bytes, same size", []byte(strings.ToUpper(string(body))), nil},
				{"one byte more", append(slices.Clone(body), '!'), nil},
				{"one byte less", body[:len(body)-1], nil},
				{"another content type", body, func(h http.Header) { h.Set("Content-Type", "text/html") }},
			}
			for _, tc := range refused {
				t.Run("refused/"+tc.name, func(t *testing.T) {
					key := "refused/" + strings.ReplaceAll(tc.name, " ", "-")
					pr := presign(t, key, time.Minute, full)
					status, msg := upload(t, pr, tc.body, tc.change)
					assert.True(t, status >= 400 && status < 500, "MinIO answered %d: %s", status, msg)
					for _, st := range stores {
						_, err := st.Stat(t.Context(), key)
						assert.ErrorIs(t, err, storage.ErrNotFound, "nothing stored")
					}
				})
			}
			t.Run("refused/only the checksum signed", func(t *testing.T) {
				// Without a Size, MinIO still checks the digest.
				pr := presign(t, "refused/sum-only", time.Minute, &storage.PresignPutOptions{SHA256: hexSum})
				status, msg := upload(t, pr, append(slices.Clone(body), '!'), nil)
				assert.True(t, status >= 400 && status < 500, "MinIO answered %d: %s", status, msg)
			})
			t.Run("refused/only the content type signed", func(t *testing.T) {
				// (aws-sdk-go-v2 has a middleware that drops Content-Type
				// from a presigned PutObject without a ContentLength.)
				pr := presign(t, "refused/type-only", time.Minute, &storage.PresignPutOptions{ContentType: "image/png"})
				assert.Equal(t, "image/png", pr.Header.Get("Content-Type"))
				status, msg := upload(t, pr, body, func(h http.Header) { h.Set("Content-Type", "text/html") })
				assert.True(t, status >= 400 && status < 500, "MinIO answered %d: %s", status, msg)
				status, msg = upload(t, pr, body, nil)
				require.Equal(t, http.StatusOK, status, msg)
				for _, info := range readBack(t, "refused/type-only") {
					assert.Equal(t, "image/png", info.ContentType)
				}
			})
			t.Run("expired", func(t *testing.T) {
				pr := presign(t, "expired/k", time.Second, nil)
				deadline := time.Now().Add(30 * time.Second)
				for {
					status, msg := upload(t, pr, body, nil)
					if status != http.StatusOK {
						assert.Equal(t, http.StatusForbidden, status, msg)
						break
					}
					require.True(t, time.Now().Before(deadline), "a 1 s presigned PUT still works after 30 s")
					time.Sleep(250 * time.Millisecond)
				}
			})
			t.Run("bad arguments", func(t *testing.T) {
				for _, d := range []time.Duration{0, time.Second / 2, 7*24*time.Hour + time.Second} {
					_, err := storage.PresignPut(t.Context(), stores[w], "k", d, nil)
					assert.ErrorIs(t, err, storage.ErrInvalidArgument, "expiry %v", d)
				}
				for _, s := range []string{"abc", strings.ToUpper(hexSum), hexSum + "00"} {
					_, err := storage.PresignPut(t.Context(), stores[w], "k", time.Minute, &storage.PresignPutOptions{SHA256: s})
					assert.ErrorIs(t, err, storage.ErrInvalidArgument, "SHA256 %q", s)
				}
				_, err := storage.PresignPut(t.Context(), stores[w], "k", time.Minute, &storage.PresignPutOptions{Size: -1})
				assert.ErrorIs(t, err, storage.ErrInvalidArgument, "negative size")
				_, err = storage.PresignPut(t.Context(), stores[w], "../k", time.Minute, nil)
				assert.ErrorIs(t, err, storage.ErrInvalidKey)
			})
		})
	}
}
