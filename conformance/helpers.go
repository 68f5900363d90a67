package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// RandomReader returns a reader of size pseudo-random bytes determined by
// seed: the same seed and size always give the same bytes, and a shorter
// size gives a prefix of a longer one. It is not a *bytes.Reader and has no
// Len, Size or Seek method, so a provider reading it cannot learn its length
// in advance, as with a network body. Use it to feed large objects to Put
// without holding them in memory, and compare what comes back by hash
// (see RandomSHA256).
func RandomReader(seed uint64, size int64) io.Reader {
	return &randomReader{src: rand.NewChaCha8(seedBytes(seed)), left: size}
}

type randomReader struct {
	src  *rand.ChaCha8
	left int64
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, _ := r.src.Read(p)
	r.left -= int64(n)
	return n, nil
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "strata conformance stream")
	return s
}

// RandomBytes returns the n bytes RandomReader(seed, n) yields.
func RandomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(RandomReader(seed, int64(n)), b)
	return b
}

// RandomSHA256 returns the lowercase hex SHA-256 of the bytes
// RandomReader(seed, size) yields, without holding them in memory.
func RandomSHA256(seed uint64, size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, RandomReader(seed, size))
	return hex.EncodeToString(h.Sum(nil))
}

// onlyReader hides every method of a reader but Read, so a provider cannot
// find its length by type assertion (bytes.Reader, strings.Reader and
// os.File all tell).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func put(t *testing.T, p storage.Provider, key string, data []byte, opts *storage.PutOptions) storage.Info {
	t.Helper()
	info, err := p.Put(ctx(t), key, onlyReader{bytes.NewReader(data)}, opts)
	require.NoError(t, err, "Put %q", key)
	require.Equal(t, key, info.Key, "Info.Key from Put")
	require.Equal(t, int64(len(data)), info.Size, "Info.Size from Put %q", key)
	if info.SHA256 != "" {
		require.Equal(t, hashOf(data), info.SHA256, "Info.SHA256 from Put %q", key)
	}
	return info
}

func putString(t *testing.T, p storage.Provider, key, data string) storage.Info {
	t.Helper()
	return put(t, p, key, []byte(data), nil)
}

// get reads the whole object under key and checks the Info that comes with
// it against the bytes.
func get(t *testing.T, p storage.Provider, key string) ([]byte, storage.Info) {
	t.Helper()
	rc, info, err := p.Get(ctx(t), key, nil)
	require.NoError(t, err, "Get %q", key)
	require.NotNil(t, rc, "Get %q returned a nil reader", key)
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "reading Get %q", key)
	require.NoError(t, rc.Close(), "closing Get %q", key)
	require.Equal(t, key, info.Key, "Info.Key from Get")
	require.Equal(t, int64(len(b)), info.Size, "Info.Size from Get %q", key)
	checkInfo(t, info, b)
	return b, info
}

// requireContent checks that the object under key holds exactly want.
func requireContent(t *testing.T, p storage.Provider, key string, want []byte) storage.Info {
	t.Helper()
	got, info := get(t, p, key)
	if !bytes.Equal(want, got) {
		require.Failf(t, "wrong content", "Get %q: got %d bytes (sha256 %s), want %d bytes (sha256 %s)%s",
			key, len(got), hashOf(got), len(want), hashOf(want), preview(got, want))
	}
	st, err := p.Stat(ctx(t), key)
	require.NoError(t, err, "Stat %q", key)
	requireSameInfo(t, info, st, "Get and Stat of "+key)
	return st
}

func preview(got, want []byte) string {
	if len(got) > 64 || len(want) > 64 {
		return ""
	}
	return "\n got: " + quote(got) + "\nwant: " + quote(want)
}

func quote(b []byte) string { return strings.ToValidUTF8(string(b), "?") }

// checkInfo checks the fields of an Info from Get or Stat that must always
// be set, against the object's content when it is known (data not nil).
func checkInfo(t *testing.T, info storage.Info, data []byte) {
	t.Helper()
	require.False(t, info.ModTime.IsZero(), "Info.ModTime of %q is zero", info.Key)
	now := time.Now()
	require.WithinRange(t, info.ModTime, now.Add(-time.Hour), now.Add(time.Hour),
		"Info.ModTime of %q is not within an hour of now", info.Key)
	require.True(t, info.ETag != "" || info.SHA256 != "", "Info of %q has neither ETag nor SHA256", info.Key)
	requireQuotedETag(t, info.ETag, "Info of "+strconv.Quote(info.Key))
	if data != nil && info.SHA256 != "" {
		require.Equal(t, hashOf(data), info.SHA256, "Info.SHA256 of %q is not the SHA-256 of its content", info.Key)
	}
}

// requireSameInfo checks that two Infos describe the same object version.
func requireSameInfo(t *testing.T, want, got storage.Info, what string) {
	t.Helper()
	require.Equal(t, want.Key, got.Key, "%s: Key", what)
	require.Equal(t, want.Size, got.Size, "%s: Size", what)
	require.Equal(t, want.ETag, got.ETag, "%s: ETag", what)
	require.Equal(t, want.SHA256, got.SHA256, "%s: SHA256", what)
	require.Equal(t, want.ContentType, got.ContentType, "%s: ContentType", what)
	require.Equal(t, normMeta(want.Metadata), normMeta(got.Metadata), "%s: Metadata", what)
	requireCloseTimes(t, want.ModTime, got.ModTime, what+": ModTime")
}

// requireCloseTimes allows for the second resolution of HTTP dates: S3
// servers give Last-Modified to the second in HEAD and to the millisecond
// in listings.
func requireCloseTimes(t *testing.T, a, b time.Time, what string) {
	t.Helper()
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	require.LessOrEqual(t, d, 2*time.Second, "%s: %v and %v differ", what, a, b)
}

func normMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// requireNoContentType accepts what a store reports when Put was given no
// content type.
func requireNoContentType(t *testing.T, ct string, what string) {
	t.Helper()
	switch ct {
	case "", "application/octet-stream", "binary/octet-stream":
	default:
		require.Failf(t, "unexpected content type", "%s: no content type was given, got %q", what, ct)
	}
}

// requireMissing checks that nothing is stored under key: Stat and Get fail
// with ErrNotFound.
func requireMissing(t *testing.T, p storage.Provider, key string) {
	t.Helper()
	_, err := p.Stat(ctx(t), key)
	require.Error(t, err, "Stat %q: want ErrNotFound, the object is there", key)
	require.ErrorIs(t, err, storage.ErrNotFound, "Stat %q", key)
	require.ErrorIs(t, err, errNotExist, "Stat %q must also match fs.ErrNotExist", key)
	rc, _, err := p.Get(ctx(t), key, nil)
	if rc != nil {
		rc.Close()
	}
	require.ErrorIs(t, err, storage.ErrNotFound, "Get %q", key)
	require.Nil(t, rc, "Get %q of a missing key returned a reader", key)
}

// list collects a whole listing, failing on an error.
func list(t *testing.T, p storage.Provider, opts *storage.ListOptions) []storage.Info {
	t.Helper()
	var out []storage.Info
	for info, err := range p.List(ctx(t), opts) {
		require.NoError(t, err, "List %+v", opts)
		out = append(out, info)
	}
	return out
}

func listKeys(t *testing.T, p storage.Provider, opts *storage.ListOptions) []string {
	t.Helper()
	var keys []string
	for _, info := range list(t, p, opts) {
		keys = append(keys, info.Key)
	}
	return keys
}

// requireErrorIs is require.ErrorIs with a clearer message when err is nil.
func requireErrorIs(t *testing.T, err, target error, format string, args ...any) {
	t.Helper()
	if err == nil {
		require.Failf(t, "no error", format+": succeeded, want an error matching %v", append(args, target)...)
	}
	if !errors.Is(err, target) {
		require.Failf(t, "wrong error", format+": got %v, want an error matching %v", append(args, err, target)...)
	}
}

// waitTimeout bounds how long the suite waits for a call that should
// return: a hang fails the subtest instead of the whole test binary.
const waitTimeout = 2 * time.Minute

// within runs f and fails t when it does not return within waitTimeout.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not return within %v (deadlock?)", what, waitTimeout)
	}
}
