package s3driver_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newTestStore(t, func(c *s3.Config) { smallParts(c); c.HTTPClient = hc; c.PrefixCheck = s3.PrefixCheckOff })
	ctx := t.Context()
	data := conformance.RandomBytes(1, 2*s3.MinPartSize+7)
	md := map[string]string{"owner": "alice", "padded": " x "}

	info, err := st.Put(ctx, "big", onlyReader{bytes.NewReader(data)}, &storage.PutOptions{ContentType: "video/mp4", Metadata: md})
	require.NoError(t, err)
	assert.Equal(t, sha(data), info.SHA256)
	assert.Equal(t, int64(len(data)), info.Size)
	assert.Len(t, rec.requests("UploadPart"), 3, "three parts of PartSize or less")
	assert.Empty(t, rec.requests("PutObject"))
	for _, q := range rec.requests("UploadPart") {
		assert.LessOrEqual(t, q.header.Get("Content-Length"), fmt.Sprint(s3.MinPartSize))
	}
	assert.Empty(t, rec.requests("CopyObject"), "an object of at most Concurrency+1 parts is hashed before it is sent")
	creates := rec.requests("CreateMultipartUpload")
	require.Len(t, creates, 1)
	assert.Equal(t, sha(data), creates[0].header.Get("X-Amz-Meta-Strata-Sha256"), "the SHA-256 is in the upload's metadata")

	st2, err := st.Stat(ctx, "big")
	require.NoError(t, err)
	assert.Equal(t, sha(data), st2.SHA256, "SHA-256 stored in metadata")
	assert.Equal(t, md, st2.Metadata, "strata's own metadata is hidden")
	assert.Equal(t, "video/mp4", st2.ContentType)
	assert.Equal(t, info.ETag, st2.ETag, "Put reports the final object")
	assert.True(t, info.ModTime.Equal(st2.ModTime), "Put reports the server's modification time: %v, %v", info.ModTime, st2.ModTime)

	rc, gi, err := st.Get(ctx, "big", nil)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.True(t, bytes.Equal(data, got), "content")
	assert.Equal(t, sha(data), gi.SHA256)
	assert.Empty(t, incompleteUploads(t, st))
}

func TestLargeSHA256(t *testing.T) {
	t.Parallel()
	// More than (Concurrency+1) parts: the SHA-256 is known only after the
	// upload.
	data := conformance.RandomBytes(5, 3*s3.MinPartSize+1)
	for _, record := range []bool{false, true} {
		t.Run(fmt.Sprint("record=", record), func(t *testing.T) {
			hc, rec := recordingClient()
			st, _ := newTestStore(t, func(c *s3.Config) {
				c.PartSize, c.Concurrency, c.HTTPClient, c.RecordLargeSHA256 = s3.MinPartSize, 1, hc, record
			})
			ctx := t.Context()
			md := map[string]string{"k": "v"}
			info, err := st.Put(ctx, "big", onlyReader{bytes.NewReader(data)}, &storage.PutOptions{Metadata: md, ContentType: "a/b"})
			require.NoError(t, err)
			assert.Equal(t, sha(data), info.SHA256, "Put returns the SHA-256 it computed")
			assert.Len(t, rec.requests("UploadPart"), 4)
			got, err := st.Stat(ctx, "big")
			require.NoError(t, err)
			assert.Equal(t, md, got.Metadata)
			assert.Equal(t, "a/b", got.ContentType)
			assert.Equal(t, info.ETag, got.ETag)
			if !record {
				assert.Empty(t, rec.requests("CopyObject"))
				assert.Empty(t, got.SHA256, "not recorded")
				return
			}
			require.Len(t, rec.requests("CopyObject"), 1, "the object is copied onto itself to record its SHA-256")
			cp := rec.requests("CopyObject")[0]
			assert.Equal(t, "REPLACE", cp.header.Get("X-Amz-Metadata-Directive"))
			assert.True(t, strings.HasSuffix(cp.header.Get("X-Amz-Copy-Source-If-Match"), `-4"`), "only our own 4-part upload is rewritten: %s", cp.header.Get("X-Amz-Copy-Source-If-Match"))
			assert.Equal(t, sha(data), got.SHA256)
			b, _ := readAllGet(t, st, "big", nil)
			assert.True(t, bytes.Equal(data, b))
		})
	}
}

func TestPutSinglePartBoundary(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newTestStore(t, func(c *s3.Config) { smallParts(c); c.HTTPClient = hc; c.PrefixCheck = s3.PrefixCheckOff })
	ctx := t.Context()
	for _, size := range []int{0, 1, s3.MinPartSize - 1, s3.MinPartSize} {
		rec.reset()
		data := conformance.RandomBytes(uint64(size), size)
		key := fmt.Sprintf("k%d", size)
		info, err := st.Put(ctx, key, onlyReader{bytes.NewReader(data)}, nil)
		require.NoError(t, err, "size %d", size)
		assert.Equal(t, sha(data), info.SHA256)
		assert.Equal(t, []string{"PutObject"}, rec.ops(), "an object of at most PartSize bytes is one PutObject (size %d)", size)
		got, err := st.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, sha(data), got.SHA256)
	}
}

func TestPutSizeMismatch(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, smallParts)
	ctx := t.Context()
	tests := []struct {
		name         string
		actual, size int
	}{
		{"short single", 100, 101},
		{"long single", 101, 100},
		{"long exactly one part", s3.MinPartSize + 1, s3.MinPartSize},
		{"short multipart", 2*s3.MinPartSize + 10, 3 * s3.MinPartSize},
		{"long multipart", 2*s3.MinPartSize + 10, 2*s3.MinPartSize + 9},
		{"long by a part", 3 * s3.MinPartSize, 2 * s3.MinPartSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := strings.ReplaceAll(tt.name, " ", "-")
			r := onlyReader{conformance.RandomReader(1, int64(tt.actual))}
			_, err := st.Put(ctx, key, r, &storage.PutOptions{Size: int64(tt.size)})
			require.ErrorIs(t, err, storage.ErrSizeMismatch)
			_, err = st.Stat(ctx, key)
			require.ErrorIs(t, err, storage.ErrNotFound, "nothing stored")
			assert.Empty(t, incompleteUploads(t, st), "the multipart upload was aborted")
		})
	}
}

func TestPutReaderFailsAborts(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, smallParts)
	ctx := t.Context()
	boom := errors.New("disk on fire")
	r := &failingReader{r: conformance.RandomReader(2, 3*s3.MinPartSize+5), err: boom}
	_, err := st.Put(ctx, "k", r, nil)
	require.ErrorIs(t, err, boom)
	_, err = st.Stat(ctx, "k")
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.Empty(t, incompleteUploads(t, st))
}

// cancelReader cancels a context once it has yielded after bytes.
type cancelReader struct {
	r      io.Reader
	n      int64
	after  int64
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

func TestPutCancelAborts(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, smallParts)
	for _, after := range []int64{s3.MinPartSize / 2, 2*s3.MinPartSize + 1, 4 * s3.MinPartSize} {
		ctx, cancel := context.WithCancel(t.Context())
		key := fmt.Sprint("k", after)
		r := &cancelReader{r: conformance.RandomReader(3, 6*s3.MinPartSize), after: after, cancel: cancel}
		_, err := st.Put(ctx, key, r, nil)
		require.ErrorIs(t, err, context.Canceled, "cancelled after %d bytes", after)
		_, err = st.Stat(t.Context(), key)
		require.ErrorIs(t, err, storage.ErrNotFound)
		assert.Empty(t, incompleteUploads(t, st), "the multipart upload was aborted although the context had ended")
	}
}

func TestIfNotExistsMultipartRace(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, smallParts)
	ctx := t.Context()
	const writers = 4
	var (
		wins    atomic.Int32
		winner  atomic.Int64
		wg      sync.WaitGroup
		errs    = make([]error, writers)
		payload = func(i int) io.Reader { return onlyReader{conformance.RandomReader(uint64(100+i), s3.MinPartSize+3)} }
	)
	for i := range writers {
		wg.Go(func() {
			_, err := st.Put(ctx, "race", payload(i), &storage.PutOptions{IfNotExists: true})
			errs[i] = err
			if err == nil {
				wins.Add(1)
				winner.Store(int64(i))
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load(), "exactly one writer wins: %v", errs)
	for i, err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, storage.ErrExist, "writer %d", i)
			assert.ErrorIs(t, err, fs.ErrExist, "writer %d", i)
		}
	}
	info, err := st.Stat(ctx, "race")
	require.NoError(t, err)
	assert.Equal(t, conformance.RandomSHA256(uint64(100+winner.Load()), s3.MinPartSize+3), info.SHA256, "the winner's content")
	assert.Empty(t, incompleteUploads(t, st), "the losers' uploads were aborted")
}

func TestGetRange(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newTestStore(t, func(c *s3.Config) { c.HTTPClient = hc })
	ctx := t.Context()
	data := []byte("0123456789")
	_, err := st.Put(ctx, "ten", bytes.NewReader(data), nil)
	require.NoError(t, err)
	_, err = st.Put(ctx, "empty", bytes.NewReader(nil), nil)
	require.NoError(t, err)

	tests := []struct {
		key    string
		rng    storage.Range
		want   string
		header string
	}{
		{"ten", storage.Range{Offset: 2, Length: 3}, "234", "bytes=2-4"},
		{"ten", storage.Range{Offset: 7}, "789", "bytes=7-"},
		{"ten", storage.Range{Offset: 0, Length: 4}, "0123", "bytes=0-3"},
		{"ten", storage.Range{Offset: 8, Length: 100}, "89", "bytes=8-107"},
		{"empty", storage.Range{Offset: 0, Length: 5}, "", "bytes=0-4"},
		{"empty", storage.Range{}, "", ""},
	}
	for _, tt := range tests {
		rec.reset()
		rc, info, err := st.Get(ctx, tt.key, &storage.GetOptions{Range: &tt.rng})
		require.NoError(t, err, "%s %+v", tt.key, tt.rng)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, tt.want, string(got), "%s %+v", tt.key, tt.rng)
		assert.Equal(t, map[string]int64{"ten": 10, "empty": 0}[tt.key], info.Size, "Info.Size is the whole object's")
		gets := rec.requests("GetObject")
		require.NotEmpty(t, gets)
		assert.Equal(t, tt.header, gets[0].header.Get("Range"), "the range is sent to the server")
	}
	_, _, err = st.Get(ctx, "ten", &storage.GetOptions{Range: &storage.Range{Offset: 10}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange)
	_, _, err = st.Get(ctx, "empty", &storage.GetOptions{Range: &storage.Range{Offset: 1}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange)
	_, _, err = st.Get(ctx, "ten", &storage.GetOptions{Range: &storage.Range{Offset: -1}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange)
}

func TestMissingIsDefinite(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, srv := newTestStore(t, func(c *s3.Config) { c.HTTPClient = hc })
	ctx := t.Context()

	rc, _, err := st.Get(ctx, "nope", nil)
	require.Nil(t, rc, "a missing key fails at the call")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, err, fs.ErrNotExist)
	var se *storage.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "s3", se.Provider)
	assert.Equal(t, "nope", se.Key)

	// Make "public/*" readable by anyone, without s3:ListBucket. Outside
	// what it may read, a client without s3:ListBucket gets 403 for a
	// missing key as for an existing one: that is access denied, never a
	// missing object. (AWS answers 403 for public/missing too; MinIO
	// answers 404 there, a definite not-found.)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/public/*"]}]}`, st.Bucket())
	_, err = st.Client().PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String(st.Bucket()), Policy: aws.String(policy)})
	require.NoError(t, err)
	for _, k := range []string{"public/there", "private/there"} {
		_, err = st.Put(ctx, k, strings.NewReader("hello"), nil)
		require.NoError(t, err)
	}

	anonCfg := testConfig(srv, st.Bucket())
	anonCfg.HTTPClient = &http.Client{Transport: anonymous{next: hc.Transport}}
	anon, err := s3.New(ctx, anonCfg)
	require.NoError(t, err)
	defer anon.Close()
	info, err := anon.Stat(ctx, "public/there")
	require.NoError(t, err, "anonymous read of a public object")
	assert.Equal(t, int64(5), info.Size)
	rec.reset()
	for _, key := range []string{"private/missing", "private/there"} {
		_, err = anon.Stat(ctx, key)
		require.ErrorIs(t, err, storage.ErrPermission, "Stat %q", key)
		require.NotErrorIs(t, err, storage.ErrNotFound, "Stat %q: a 403 is not a not-found", key)
		rc, _, err := anon.Get(ctx, key, nil)
		require.Nil(t, rc)
		require.ErrorIs(t, err, storage.ErrPermission, "Get %q", key)
		require.NotErrorIs(t, err, storage.ErrNotFound, "Get %q", key)
		assert.NotErrorIs(t, err, fs.ErrNotExist, "Get %q", key)
		assert.ErrorIs(t, err, fs.ErrPermission, "Get %q", key)
	}
	require.Len(t, rec.requests("HeadObject"), 2, "one request each, no retries of a 403")
}

// anonymous is an http.RoundTripper that sends requests without the
// signature the SDK gave them, as a client without credentials sends them
// (a Store always has credentials).
type anonymous struct{ next http.RoundTripper }

func (a anonymous) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Security-Token")
	return a.next.RoundTrip(r)
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	st, srv := newTestStore(t, nil)
	ctx := t.Context()
	key := bytes.Repeat([]byte{7}, 32)

	wrong := testConfig(srv, st.Bucket())
	wrong.SecretAccessKey = "wrong-secret-" + srv.SecretKey
	bad, err := s3.New(ctx, wrong)
	require.NoError(t, err)
	_, err = bad.Put(ctx, "k", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, storage.ErrPermission, "bad credentials are a permission error")
	checkNoSecrets(t, err, wrong.SecretAccessKey, srv.SecretKey)

	// MinIO refuses SSE-C over plain HTTP: the error must not show the key.
	ssec := testConfig(srv, st.Bucket())
	ssec.SSE = s3.SSE{Mode: s3.SSEC, CustomerKey: key}
	enc, err := s3.New(ctx, ssec)
	require.NoError(t, err)
	_, err = enc.Put(ctx, "k", strings.NewReader("x"), nil)
	require.Error(t, err)
	keyB64, keyMD5 := sseCHeaders(key)
	checkNoSecrets(t, err, srv.SecretKey, keyB64, keyMD5, string(key))

	// A server that is not there is unavailable, not missing.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	gone := testConfig(srv, "bucket")
	gone.Endpoint = "http://" + addr
	gone.MaxAttempts = 1
	down, err := s3.New(ctx, gone)
	require.NoError(t, err)
	_, err = down.Stat(ctx, "k")
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.NotErrorIs(t, err, storage.ErrNotFound)
	checkNoSecrets(t, err, srv.SecretKey)

	// A cancelled context stays matchable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = st.Stat(cctx, "k")
	require.ErrorIs(t, err, context.Canceled)

	// Neither Config nor its SSE print their secrets.
	for _, s := range []string{fmt.Sprint(ssec), fmt.Sprintf("%+v", ssec), fmt.Sprintf("%#v", ssec), fmt.Sprintf("%v", &ssec)} {
		checkNoSecretsIn(t, s, srv.SecretKey, string(key), keyB64)
	}
}

// sseCHeaders returns an SSE-C key as the requests carry it: in base64,
// and its MD5 in base64.
func sseCHeaders(key []byte) (keyB64, keyMD5 string) {
	sum := md5.Sum(key)
	return base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(sum[:])
}

func checkNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	checkNoSecretsIn(t, err.Error(), secrets...)
	checkNoSecretsIn(t, fmt.Sprintf("%+v", err), secrets...)
}

func checkNoSecretsIn(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		require.NotContains(t, s, sec, "a secret in %q", s)
	}
	for _, marker := range []string{"Signature=", "X-Amz-Signature", "X-Amz-Credential", "x-amz-server-side-encryption-customer-key:"} {
		require.NotContains(t, s, marker)
	}
}

func TestChecksumsOnlyWhenRequired(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newTestStore(t, func(c *s3.Config) { smallParts(c); c.HTTPClient = hc; c.PrefixCheck = s3.PrefixCheckOff })
	ctx := t.Context()
	_, err := st.Put(ctx, "small", strings.NewReader("hello"), nil)
	require.NoError(t, err)
	_, err = st.Put(ctx, "big", onlyReader{conformance.RandomReader(4, s3.MinPartSize+1)}, nil)
	require.NoError(t, err)
	_, err = st.Copy(ctx, "copy", "big")
	require.NoError(t, err)
	rc, _, err := st.Get(ctx, "small", nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	require.NotEmpty(t, rec.requests("UploadPart"))
	for _, q := range rec.requests("") {
		for h := range q.header {
			lh := strings.ToLower(h)
			assert.False(t, strings.HasPrefix(lh, "x-amz-checksum-") || lh == "x-amz-sdk-checksum-algorithm" || lh == "x-amz-trailer",
				"%s sends %s to a non-AWS endpoint", q.op(), h)
		}
		assert.NotEqual(t, "ENABLED", q.header.Get("X-Amz-Checksum-Mode"), q.op())
		if op := q.op(); op == "PutObject" || op == "UploadPart" {
			assert.Len(t, q.header.Get("X-Amz-Content-Sha256"), 64, "%s signs its payload over plain HTTP", op)
		}
	}

	// For AWS itself the SDK's defaults stay.
	aws1, err := s3.New(ctx, s3.Config{Bucket: "b", Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "s"})
	require.NoError(t, err)
	assert.Equal(t, aws.RequestChecksumCalculationWhenSupported, aws1.Client().Options().RequestChecksumCalculation)
	assert.False(t, aws1.Client().Options().UsePathStyle, "virtual-host addressing on AWS")
	assert.Equal(t, aws.RequestChecksumCalculationWhenRequired, st.Client().Options().RequestChecksumCalculation)
	assert.Equal(t, aws.ResponseChecksumValidationWhenRequired, st.Client().Options().ResponseChecksumValidation)
	assert.True(t, st.Client().Options().UsePathStyle, "path-style for a custom endpoint")
}

func TestCopy(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	const copyThreshold = 2 * s3.MinPartSize
	st, _ := newKnobStore(t, s3proto.Knobs{CopyThreshold: copyThreshold}, func(c *s3.Config) { smallParts(c); c.HTTPClient = hc; c.RecordLargeSHA256 = true })
	ctx := t.Context()
	md := map[string]string{"a": "1"}
	for _, size := range []int{10, 3*s3.MinPartSize + 1} {
		src := fmt.Sprintf("src %d+ü", size)
		dst := fmt.Sprintf("dst/%d?#%%", size)
		data := conformance.RandomBytes(uint64(size), size)
		_, err := st.Put(ctx, src, bytes.NewReader(data), &storage.PutOptions{ContentType: "text/x-test", Metadata: md})
		require.NoError(t, err)
		rec.reset()
		info, err := st.Copy(ctx, dst, src)
		require.NoError(t, err)
		assert.Equal(t, dst, info.Key)
		assert.Equal(t, sha(data), info.SHA256)
		if size > copyThreshold {
			assert.Len(t, rec.requests("UploadPartCopy"), 4, "a large object is copied part by part")
		} else {
			assert.Len(t, rec.requests("CopyObject"), 1)
		}
		got, err := st.Stat(ctx, dst)
		require.NoError(t, err)
		assert.Equal(t, sha(data), got.SHA256)
		assert.Equal(t, md, got.Metadata)
		assert.Equal(t, "text/x-test", got.ContentType)
		assert.Equal(t, int64(size), got.Size)
		assert.Equal(t, info.ETag, got.ETag)
		rc, _, err := st.Get(ctx, dst, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		assert.True(t, bytes.Equal(data, b))
	}
	_, err := st.Copy(ctx, "x", "missing")
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.Empty(t, incompleteUploads(t, st))
}

func TestListSkipsForeignKeys(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, nil)
	ctx := t.Context()
	for _, k := range []string{"a/1", "a/2", "b"} {
		_, err := st.Put(ctx, k, strings.NewReader(k), nil)
		require.NoError(t, err)
	}
	// A "directory marker" as consoles make: not a valid strata key.
	_, err := st.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String("a/dir/"), Body: strings.NewReader("")})
	require.NoError(t, err)
	var keys []string
	for info, err := range st.List(ctx, &storage.ListOptions{Prefix: "a/"}) {
		require.NoError(t, err)
		keys = append(keys, info.Key)
		assert.NotEmpty(t, info.ETag)
		assert.False(t, info.ModTime.IsZero())
	}
	assert.Equal(t, []string{"a/1", "a/2"}, keys)
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newKnobStore(t, s3proto.Knobs{ListPage: 3}, func(c *s3.Config) { c.HTTPClient = hc })
	ctx := t.Context()
	var want []string
	for i := range 10 {
		k := fmt.Sprintf("p/%02d", i)
		want = append(want, k)
		_, err := st.Put(ctx, k, strings.NewReader(k), nil)
		require.NoError(t, err)
	}
	_, err := st.Put(ctx, "q", strings.NewReader("other prefix"), nil)
	require.NoError(t, err)
	list := func(opts *storage.ListOptions) []string {
		var keys []string
		for info, err := range st.List(ctx, opts) {
			require.NoError(t, err)
			keys = append(keys, info.Key)
		}
		return keys
	}
	rec.reset()
	assert.Equal(t, want, list(&storage.ListOptions{Prefix: "p/"}))
	assert.Len(t, rec.requests("ListObjectsV2"), 4, "ten keys in pages of three")
	assert.Equal(t, want[5:], list(&storage.ListOptions{Prefix: "p/", StartAfter: "p/04"}))
	assert.Equal(t, append(want, "q"), list(&storage.ListOptions{StartAfter: "a"}))
	assert.Empty(t, list(&storage.ListOptions{Prefix: "p/", StartAfter: "q"}))
}

// onlyReader hides every method but Read, so Put cannot learn the length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// failingReader yields n bytes of data, then fails with err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// smallParts makes uploads of the smallest parts S3 allows.
func smallParts(c *s3.Config) {
	c.PartSize = s3.MinPartSize
	c.Concurrency = 2
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}
