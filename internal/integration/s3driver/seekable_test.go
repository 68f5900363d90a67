package s3driver_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/integration/changing"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// A seekable source (a file, a bytes.Reader) larger than a part is hashed
// once, whole and part by part, and uploaded straight from the source: the
// checksum is in the object's metadata from the start, each part carries
// a sum of that pass (signed with its SHA-256 while the server is not
// known; with its CRC32C, unsigned, once it is known to be MinIO), and the
// reader ends up read to its end. A source changed between the pass and
// the upload fails it either way.
func TestSeekableSource(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newTestStore(t, func(c *s3.Config) { smallParts(c); c.HTTPClient = hc; c.PrefixCheck = s3.PrefixCheckOff })
	ctx := t.Context()
	// More parts than Concurrency+1: streamed, this object's SHA-256 would
	// be known only after the upload.
	data := conformance.RandomBytes(7, 4*s3.MinPartSize+99)

	f, err := os.CreateTemp(t.TempDir(), "src")
	require.NoError(t, err)
	_, err = f.Write(append([]byte("0123456789"), data...))
	require.NoError(t, err)
	_, err = f.Seek(10, io.SeekStart) // reading starts where the reader is
	require.NoError(t, err)
	info, err := st.Put(ctx, "file", f, &storage.PutOptions{Size: int64(len(data))})
	require.NoError(t, err)
	assert.Equal(t, sha(data), info.SHA256)
	assert.Equal(t, int64(len(data)), info.Size)
	pos, _ := f.Seek(0, io.SeekCurrent)
	assert.Equal(t, int64(10+len(data)), pos, "the file was read to its end")
	require.NoError(t, f.Close())

	creates := rec.requests("CreateMultipartUpload")
	require.Len(t, creates, 1)
	assert.Equal(t, sha(data), creates[0].header.Get("X-Amz-Meta-Strata-Sha256"), "the SHA-256 is in the upload's metadata")
	assert.Empty(t, rec.requests("CopyObject"), "no copy to record the SHA-256 afterwards")
	parts := rec.requests("UploadPart")
	require.Len(t, parts, 5)
	var want []string
	for off := 0; off < len(data); off += s3.MinPartSize {
		want = append(want, sha(data[off:min(off+s3.MinPartSize, len(data))]))
	}
	var signed []string
	for _, q := range parts {
		signed = append(signed, q.header.Get("X-Amz-Content-Sha256"))
	}
	assert.ElementsMatch(t, want, signed, "each part is signed with its own SHA-256")
	assert.Empty(t, creates[0].header.Get("X-Amz-Checksum-Algorithm"), "the server was not known: parts are signed")

	got, ginfo := readAllGet(t, st, "file", nil)
	require.True(t, bytes.Equal(data, got))
	assert.Equal(t, sha(data), ginfo.SHA256)
	assert.True(t, strings.HasSuffix(ginfo.ETag, `-5"`), "the multipart object itself: %s", ginfo.ETag)

	_, err = st.Put(ctx, "sized", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)), IfNotExists: true})
	require.NoError(t, err)
	_, err = st.Put(ctx, "sized", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)), IfNotExists: true})
	require.ErrorIs(t, err, storage.ErrExist)

	_, err = st.Put(ctx, "short", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)) + 1})
	require.ErrorIs(t, err, storage.ErrSizeMismatch)
	_, err = st.Put(ctx, "long", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)) - 1})
	require.ErrorIs(t, err, storage.ErrSizeMismatch)

	// The server is known to be MinIO now: each part carries its CRC32C
	// and goes unsigned.
	rec.reset()
	_, err = st.Put(ctx, "crc", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data))})
	require.NoError(t, err)
	creates = rec.requests("CreateMultipartUpload")
	require.Len(t, creates, 1)
	assert.Equal(t, "CRC32C", creates[0].header.Get("X-Amz-Checksum-Algorithm"))
	assert.Equal(t, sha(data), creates[0].header.Get("X-Amz-Meta-Strata-Sha256"))
	want, signed = nil, nil
	var crcs []string
	for off := 0; off < len(data); off += s3.MinPartSize {
		want = append(want, crc32c(data[off:min(off+s3.MinPartSize, len(data))]))
	}
	for _, q := range rec.requests("UploadPart") {
		signed = append(signed, q.header.Get("X-Amz-Content-Sha256"))
		crcs = append(crcs, q.header.Get("X-Amz-Checksum-Crc32c"))
	}
	assert.ElementsMatch(t, want, crcs, "each part carries its own CRC32C")
	assert.Equal(t, slices.Repeat([]string{"UNSIGNED-PAYLOAD"}, len(want)), signed)
	got, ginfo = readAllGet(t, st, "crc", nil)
	require.True(t, bytes.Equal(data, got))
	assert.Equal(t, sha(data), ginfo.SHA256)

	// Bytes that change between the hashing pass and the upload fail the
	// upload (the server checks each part's CRC32C): nothing is stored.
	_, err = st.Put(ctx, "changed", changing.New(data), &storage.PutOptions{Size: int64(len(data))})
	require.ErrorIs(t, err, storage.ErrCorrupt)
	for _, k := range []string{"short", "long", "changed"} {
		_, err = st.Stat(ctx, k)
		require.ErrorIs(t, err, storage.ErrNotFound, k)
	}
	assert.Empty(t, incompleteUploads(t, st), "the failed uploads were aborted")

	// And so do they when the parts are signed (the server checks each
	// part's SHA-256): a new Store, whose first request this is.
	st2, _ := newTestStore(t, func(c *s3.Config) { smallParts(c); c.PrefixCheck = s3.PrefixCheckOff })
	_, err = st2.Put(ctx, "changed", changing.New(data), &storage.PutOptions{Size: int64(len(data))})
	require.ErrorIs(t, err, storage.ErrCorrupt)
	_, err = st2.Stat(ctx, "changed")
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.Empty(t, incompleteUploads(t, st2), "the failed upload was aborted")
}

// crc32c is the base64 of p's big-endian CRC32C, as x-amz-checksum-crc32c
// carries it.
func crc32c(p []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))))
}
