package miniodriver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/integration/changing"
	"github.com/strata-storage/strata/internal/integration/wire"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

func TestRoundTripSizes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cases := []struct {
		name  string
		n     int
		known bool
	}{
		{"empty", 0, false},
		{"empty-known", 0, true},
		{"small", 1000, false},
		{"small-known", 1000, true},
		{"one-part-exact", testPartSize, false},
		{"one-part-exact-known", testPartSize, true},
		{"one-part-plus-one", testPartSize + 1, false},
		{"multipart", 2*testPartSize + 12345, false},
		{"multipart-known", 2*testPartSize + 12345, true},
		{"multipart-exact", 3 * testPartSize, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := randomBytes(byte(i), c.n)
			opts := &storage.PutOptions{ContentType: "video/mp4", Metadata: map[string]string{"origin": "test", "n": fmt.Sprint(c.n)}}
			if c.known {
				opts.Size = int64(c.n)
			}
			key := "sizes/" + c.name
			info, err := e.store.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, opts)
			require.NoError(t, err)
			assert.Equal(t, int64(c.n), info.Size)
			assert.Equal(t, sha(data), info.SHA256)
			assert.NotEmpty(t, info.ETag)

			got, ginfo := readAll(t, e.store, key, nil)
			require.True(t, bytes.Equal(data, got), "content differs")
			st, err := e.store.Stat(t.Context(), key)
			require.NoError(t, err)
			for _, in := range []storage.Info{ginfo, st} {
				assert.Equal(t, int64(c.n), in.Size)
				assert.Equal(t, sha(data), in.SHA256, "checksum recorded for %d bytes", c.n)
				assert.Equal(t, "video/mp4", in.ContentType)
				assert.Equal(t, opts.Metadata, in.Metadata, "the checksum is not in Metadata")
				assert.Equal(t, info.ETag, in.ETag)
				assert.WithinDuration(t, time.Now(), in.ModTime, time.Minute)
			}
		})
	}
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))
}

// Metadata keys that look like HTTP or S3 headers stay user metadata: they
// neither change the object nor get lost.
func TestMetadataLooksLikeHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	md := map[string]string{
		"content-type":  "not/the-type",
		"cache-control": "no-store",
		"x-amz-acl":     "public-read",
		"expires":       "never",
		"x-minio-foo":   "bar",
	}
	for _, n := range []int{10, 2*testPartSize + 1} {
		key := fmt.Sprintf("meta/%d", n)
		data := randomBytes(7, n)
		_, err := e.store.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, &storage.PutOptions{ContentType: "text/plain", Metadata: md})
		require.NoError(t, err)
		st, err := e.store.Stat(t.Context(), key)
		require.NoError(t, err)
		assert.Equal(t, md, st.Metadata)
		assert.Equal(t, "text/plain", st.ContentType)
		assert.Equal(t, sha(data), st.SHA256)

		cp, err := e.store.Copy(t.Context(), key+"-copy", key)
		require.NoError(t, err)
		assert.Equal(t, md, cp.Metadata)
		st, err = e.store.Stat(t.Context(), key+"-copy")
		require.NoError(t, err)
		assert.Equal(t, md, st.Metadata)
		assert.Equal(t, "text/plain", st.ContentType)
		assert.Equal(t, sha(data), st.SHA256)
	}
	// Nobody but the owner can read it: x-amz-acl went nowhere.
	resp, err := http.Get(e.srv.URL + "/" + e.bucket + "/meta/10")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestSizeMismatchStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cases := []struct {
		name      string
		n, prompt int
	}{
		{"small-short", 100, 101},
		{"small-long", 101, 100},
		{"part-long", testPartSize + 1, testPartSize},
		{"multipart-short", 2*testPartSize + 5, 2*testPartSize + 6},
		{"multipart-long", 2*testPartSize + 6, 2*testPartSize + 5},
		{"multipart-long-at-part", 2*testPartSize + 1, 2 * testPartSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "mismatch/" + c.name
			_, err := e.store.Put(t.Context(), key, onlyReader{bytes.NewReader(randomBytes(1, c.n))}, &storage.PutOptions{Size: int64(c.prompt)})
			require.ErrorIs(t, err, storage.ErrSizeMismatch)
			_, err = e.store.Stat(t.Context(), key)
			require.ErrorIs(t, err, storage.ErrNotFound)
		})
	}
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))
}

// failingReader yields n bytes, then fails with err.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func TestReaderErrorAbortsUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	boom := errors.New("boom")
	for _, n := range []int{10, testPartSize, 3*testPartSize + 7} {
		key := fmt.Sprintf("fail/%d", n)
		_, err := e.store.Put(t.Context(), key, &failingReader{n: n, err: boom}, nil)
		require.ErrorIs(t, err, boom)
		_, err = e.store.Stat(t.Context(), key)
		require.ErrorIs(t, err, storage.ErrNotFound)
	}
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))
}

// cancelReader cancels its context after yielding n bytes, then keeps
// yielding until total, then io.EOF.
type cancelReader struct {
	n, total int
	cancel   func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.total == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.total)
	clear(p[:k])
	c.total -= k
	c.n -= k
	if c.n <= 0 && c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	return k, nil
}

func TestCancelledPutStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, c := range []struct{ at, total int }{{10, 100}, {testPartSize / 2, testPartSize}, {2*testPartSize + 1, 4 * testPartSize}} {
		ctx, cancel := context.WithCancel(t.Context())
		key := fmt.Sprintf("cancel/%d", c.total)
		_, err := e.store.Put(ctx, key, &cancelReader{n: c.at, total: c.total, cancel: cancel}, nil)
		cancel()
		require.ErrorIs(t, err, context.Canceled, "cancelled at %d of %d", c.at, c.total)
		_, err = e.store.Stat(t.Context(), key)
		require.ErrorIs(t, err, storage.ErrNotFound)
	}
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))
}

// Of many writers racing with IfNotExists, exactly one wins, for single
// PUTs and for multipart uploads alike, and its content is what is stored.
func TestIfNotExistsRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, n := range []int{1000, 2*testPartSize + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			const writers = 6
			key := fmt.Sprintf("race/%d", n)
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				wins   []int
				others []error
			)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					data := randomBytes(byte(w), n)
					_, err := e.store.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, &storage.PutOptions{IfNotExists: true})
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						wins = append(wins, w)
					} else {
						others = append(others, err)
					}
				}()
			}
			wg.Wait()
			require.Len(t, wins, 1, "exactly one writer wins; errors: %v", others)
			for _, err := range others {
				require.ErrorIs(t, err, storage.ErrExist)
			}
			got, info := readAll(t, e.store, key, nil)
			require.Equal(t, sha(randomBytes(byte(wins[0]), n)), sha(got), "the winner's bytes are stored")
			require.Equal(t, sha(got), info.SHA256)
			// And a later one fails too.
			_, err := e.store.Put(t.Context(), key, strings.NewReader("late"), &storage.PutOptions{IfNotExists: true})
			require.ErrorIs(t, err, storage.ErrExist)
		})
	}
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))
}

func TestGetRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	data := randomBytes(3, 1000)
	_, err := e.store.Put(t.Context(), "r", bytes.NewReader(data), nil)
	require.NoError(t, err)
	_, err = e.store.Put(t.Context(), "empty", bytes.NewReader(nil), nil)
	require.NoError(t, err)
	for _, c := range []struct {
		off, n int64
		want   []byte
	}{
		{0, 0, data},
		{0, 10, data[:10]},
		{10, 0, data[10:]},
		{990, 100, data[990:]},
		{999, 1, data[999:]},
		{500, 1, data[500:501]},
	} {
		got, info := readAll(t, e.store, "r", &storage.GetOptions{Range: &storage.Range{Offset: c.off, Length: c.n}})
		assert.Equal(t, c.want, got, "range %d+%d", c.off, c.n)
		assert.Equal(t, int64(1000), info.Size, "Info describes the whole object")
		assert.Equal(t, sha(data), info.SHA256)
	}
	for _, r := range []storage.Range{{Offset: 1000}, {Offset: 1000, Length: 1}, {Offset: 5000}, {Offset: -1}} {
		rc, _, err := e.store.Get(t.Context(), "r", &storage.GetOptions{Range: &r})
		require.ErrorIs(t, err, storage.ErrInvalidRange, "range %+v", r)
		require.Nil(t, rc)
	}
	// Offset 0 of an empty object is fine, with or without a length.
	for _, r := range []storage.Range{{}, {Length: 10}} {
		got, info := readAll(t, e.store, "empty", &storage.GetOptions{Range: &r})
		assert.Empty(t, got)
		assert.Equal(t, int64(0), info.Size)
	}
	rc, _, err := e.store.Get(t.Context(), "empty", &storage.GetOptions{Range: &storage.Range{Offset: 1}})
	require.ErrorIs(t, err, storage.ErrInvalidRange)
	require.Nil(t, rc)
}

func TestMissingAndPermission(t *testing.T) {
	e := newEnv(t, nil)
	rc, _, err := e.store.Get(t.Context(), "nope", nil)
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Nil(t, rc, "a missing key fails at the call")
	_, err = e.store.Stat(t.Context(), "nope")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.NoError(t, e.store.Delete(t.Context(), "nope"), "deleting a missing key succeeds")

	// Wrong secret: access denied, never "not found", and no secret in the
	// message.
	const wrong = "wrong-secret-0123456789"
	bad, err := minio.New(t.Context(), minio.Config{Endpoint: e.srv.Endpoint, Region: e.srv.Region, AccessKey: e.srv.AccessKey, SecretKey: wrong, Bucket: e.bucket})
	require.NoError(t, err)
	_, err = bad.Stat(t.Context(), "nope")
	require.ErrorIs(t, err, storage.ErrPermission)
	require.NotErrorIs(t, err, storage.ErrNotFound)
	_, _, err = bad.Get(t.Context(), "nope", nil)
	require.ErrorIs(t, err, storage.ErrPermission)
	require.NotErrorIs(t, err, storage.ErrNotFound)
	_, err = bad.Put(t.Context(), "x", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, storage.ErrPermission)
	assert.NotContains(t, err.Error(), wrong)
	assert.NotContains(t, err.Error(), e.srv.SecretKey)
	var se *storage.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "minio", se.Provider)

	// Anonymous, on a private bucket: a missing key is access denied too
	// (the server will not say whether it exists).
	t.Setenv("MINIO_ROOT_USER", "")
	t.Setenv("MINIO_ACCESS_KEY", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	anon, err := minio.New(t.Context(), minio.Config{Endpoint: e.srv.Endpoint, Region: e.srv.Region, Bucket: e.bucket})
	require.NoError(t, err)
	_, _, err = anon.Get(t.Context(), "nope", nil)
	require.ErrorIs(t, err, storage.ErrPermission)
	require.NotErrorIs(t, err, storage.ErrNotFound)
}

func TestPresignWithPlainHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	data := randomBytes(9, 5000)
	_, err := e.store.Put(t.Context(), "dir/file name+1.bin", bytes.NewReader(data), nil)
	require.NoError(t, err)
	u, err := e.store.PresignGet(t.Context(), "dir/file name+1.bin", time.Minute)
	require.NoError(t, err)
	assert.NotContains(t, u, e.srv.SecretKey)
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, data, got)

	_, err = e.store.PresignGet(t.Context(), "k", 8*24*time.Hour)
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestListOrderAndStartAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	keys := []string{"a", "a-b", "a.b", "aa", "b/c", "b/c/d", "é", "z"}
	// MinIO cannot hold both "b/c" and "b/c/d": the second is refused as
	// already existing.
	for _, k := range keys {
		_, err := e.store.Put(t.Context(), k, strings.NewReader(k), nil)
		if k == "b/c/d" {
			require.ErrorIs(t, err, storage.ErrExist)
			continue
		}
		require.NoError(t, err)
	}
	var got []string
	for info, err := range e.store.List(t.Context(), nil) {
		require.NoError(t, err)
		got = append(got, info.Key)
		assert.Equal(t, int64(len(info.Key)), info.Size)
	}
	assert.Equal(t, []string{"a", "a-b", "a.b", "aa", "b/c", "z", "é"}, got, "byte order")
	got = nil
	for info, err := range e.store.List(t.Context(), &storage.ListOptions{Prefix: "a", StartAfter: "a-b"}) {
		require.NoError(t, err)
		got = append(got, info.Key)
	}
	assert.Equal(t, []string{"a.b", "aa"}, got)
	// Stopping early stops the listing.
	n := 0
	for range e.store.List(t.Context(), nil) {
		n++
		break
	}
	assert.Equal(t, 1, n)
}

func TestOpenURL(t *testing.T) {
	e := newEnv(t, nil)
	t.Setenv("MINIO_ROOT_USER", "")
	t.Setenv("MINIO_ACCESS_KEY", e.srv.AccessKey)
	t.Setenv("MINIO_SECRET_KEY", e.srv.SecretKey)
	p, err := storage.Open(t.Context(), "minio://"+e.srv.Endpoint+"/"+e.bucket+"?secure=false&region="+e.srv.Region+"&part_size=5242880&threads=2")
	require.NoError(t, err)
	defer p.Close()
	s := p.(*minio.Store)
	assert.Equal(t, int64(5<<20), s.Parts().Size) // the rest: minio's TestOpenURLSettings
	_, err = p.Put(t.Context(), "via-url", strings.NewReader("hello"), nil)
	require.NoError(t, err)
	got, _ := readAll(t, e.store, "via-url", nil)
	assert.Equal(t, "hello", string(got))

	for _, bad := range []string{
		"minio://user:pa55word@" + e.srv.Endpoint + "/" + e.bucket,
		"minio://" + e.srv.Endpoint,
		"minio://" + e.srv.Endpoint + "/a/b",
		"minio://" + e.srv.Endpoint + "/b?secret_key=hunter2",
		"minio://" + e.srv.Endpoint + "/b?secure=maybe",
	} {
		_, err := storage.Open(t.Context(), bad)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, bad)
		assert.NotContains(t, err.Error(), "pa55word")
		assert.NotContains(t, err.Error(), "hunter2")
	}
}

// A seekable source (a file, a bytes.Reader) larger than a part is hashed
// first and uploaded straight from the source: the checksum is in the
// object from the start, each part carries its CRC32C from that pass (the
// Store asks the server what it is first, if it does not know) and goes
// unsigned, and the reader ends up read to the end.
func TestSeekableSource(t *testing.T) {
	t.Parallel()
	rec := &partRecorder{next: http.DefaultTransport}
	e := newEnv(t, func(c *minio.Config) { c.Transport = rec })
	data := randomBytes(5, 3*testPartSize+99)

	f, err := os.CreateTemp(t.TempDir(), "src")
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	_, err = f.Seek(10, io.SeekStart) // reading starts where the reader is
	require.NoError(t, err)
	info, err := e.store.Put(t.Context(), "file", f, nil)
	require.NoError(t, err)
	assert.Equal(t, sha(data[10:]), info.SHA256)
	pos, _ := f.Seek(0, io.SeekCurrent)
	assert.Equal(t, int64(len(data)), pos, "the file was read to its end")
	require.NoError(t, f.Close())
	got, ginfo := readAll(t, e.store, "file", nil)
	require.True(t, bytes.Equal(data[10:], got))
	assert.Equal(t, sha(data[10:]), ginfo.SHA256)
	assert.True(t, strings.HasSuffix(ginfo.ETag, `-4"`), "still the multipart object (no copy afterwards): %s", ginfo.ETag)

	rec.take()
	_, err = e.store.Put(t.Context(), "sized", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)), IfNotExists: true})
	require.NoError(t, err)
	var want []string
	for off := 0; off < len(data); off += testPartSize {
		want = append(want, wire.CRC32C(data[off:min(off+testPartSize, len(data))]))
	}
	creates, parts := rec.take()
	require.Len(t, creates, 1)
	assert.Equal(t, "CRC32C", creates[0].Get("X-Amz-Checksum-Algorithm"))
	var crcs, signed []string
	for _, h := range parts {
		crcs, signed = append(crcs, h.Get("X-Amz-Checksum-Crc32c")), append(signed, h.Get("X-Amz-Content-Sha256"))
	}
	assert.ElementsMatch(t, want, crcs, "each part carries its own CRC32C")
	assert.Equal(t, slices.Repeat([]string{"UNSIGNED-PAYLOAD"}, len(want)), signed)
	got, ginfo = readAll(t, e.store, "sized", nil)
	require.True(t, bytes.Equal(data, got))
	assert.Equal(t, sha(data), ginfo.SHA256)
	_, err = e.store.Put(t.Context(), "sized", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)), IfNotExists: true})
	require.ErrorIs(t, err, storage.ErrExist)

	_, err = e.store.Put(t.Context(), "mismatch", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)) - 1})
	require.ErrorIs(t, err, storage.ErrSizeMismatch)

	// Bytes that change between the hashing pass and the upload fail the
	// upload (the server checks each part's SHA-256): nothing is stored.
	// (A reader of unknown size is read as a stream, once.)
	_, err = e.store.Put(t.Context(), "changed", changing.New(data), &storage.PutOptions{Size: int64(len(data))})
	require.ErrorIs(t, err, storage.ErrCorrupt)
	for _, k := range []string{"mismatch", "changed"} {
		_, err = e.store.Stat(t.Context(), k)
		require.ErrorIs(t, err, storage.ErrNotFound, k)
	}
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))

	// A Store that cannot tell what its server is (a proxy in front drops
	// the Server header) signs each part with its SHA-256, which the server
	// checks as well.
	rec2 := &partRecorder{next: http.DefaultTransport}
	e2 := newEnv(t, func(c *minio.Config) { c.Transport = wire.HideServer{Next: rec2}; c.PrefixCheck = minio.PrefixCheckOff })
	_, err = e2.store.Put(t.Context(), "changed", changing.New(data), &storage.PutOptions{Size: int64(len(data))})
	require.ErrorIs(t, err, storage.ErrCorrupt)
	creates, parts = rec2.take()
	require.Len(t, creates, 1)
	assert.Empty(t, creates[0].Get("X-Amz-Checksum-Algorithm"))
	require.NotEmpty(t, parts)
	for _, h := range parts {
		assert.Len(t, h.Get("X-Amz-Content-Sha256"), 64, "a part signed with its SHA-256")
		assert.Empty(t, h.Get("X-Amz-Checksum-Crc32c"))
	}
	_, err = e2.store.Stat(t.Context(), "changed")
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.Empty(t, incomplete(t, e2.srv.Client(), e2.bucket))
}

// partRecorder records the headers of the multipart uploads' creations
// and parts it carries.
type partRecorder struct {
	next           http.RoundTripper
	mu             sync.Mutex
	creates, parts []http.Header
}

func (r *partRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	r.mu.Lock()
	switch {
	case req.Method == http.MethodPost && q.Has("uploads"):
		r.creates = append(r.creates, req.Header.Clone())
	case req.Method == http.MethodPut && q.Has("partNumber"):
		r.parts = append(r.parts, req.Header.Clone())
	}
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// take returns what r recorded and forgets it.
func (r *partRecorder) take() (creates, parts []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	creates, parts, r.creates, r.parts = r.creates, r.parts, nil, nil
	return creates, parts
}
