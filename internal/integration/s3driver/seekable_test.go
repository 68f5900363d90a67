package s3driver_test

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/integration/changing"
	"github.com/strata-storage/strata/internal/integration/wire"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// A seekable source (a file, a bytes.Reader) larger than a part is hashed
// once, whole and part by part, and uploaded straight from the source: the
// checksum is in the object's metadata from the start, each part carries
// a sum of that pass, and the reader ends up read to its end. Against
// MinIO (which a Store that has had no answer yet asks with one HEAD of the
// bucket) each part carries its CRC32C and goes unsigned; against a server
// that does not say what it is, each is signed with its SHA-256. A source
// changed between the pass and the upload fails it either way.
func TestSeekableSource(t *testing.T) {
	t.Parallel()
	// More parts than Concurrency+1: streamed, this object's SHA-256 would
	// be known only after the upload.
	data := conformance.RandomBytes(7, 4*s3.MinPartSize+99)
	var partCRCs, partSHAs []string
	for off := 0; off < len(data); off += s3.MinPartSize {
		part := data[off:min(off+s3.MinPartSize, len(data))]
		partCRCs, partSHAs = append(partCRCs, wire.CRC32C(part)), append(partSHAs, sha(part))
	}
	for _, tc := range []struct {
		name       string
		hideServer bool
		algorithm  string   // the upload's x-amz-checksum-algorithm
		crcs       []string // each part's x-amz-checksum-crc32c
		signed     []string // each part's x-amz-content-sha256
	}{
		{"MinIO", false, "CRC32C", partCRCs, slices.Repeat([]string{"UNSIGNED-PAYLOAD"}, len(partCRCs))},
		{"server unknown", true, "", slices.Repeat([]string{""}, len(partCRCs)), partSHAs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, rec := recordingClient()
			if tc.hideServer {
				hc.Transport = wire.HideServer{Next: hc.Transport}
			}
			st, _ := newTestStore(t, func(c *s3.Config) { smallParts(c); c.HTTPClient = hc; c.PrefixCheck = s3.PrefixCheckOff })
			ctx := t.Context()

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
			assert.Equal(t, tc.algorithm, creates[0].header.Get("X-Amz-Checksum-Algorithm"))
			assert.Empty(t, rec.requests("CopyObject"), "no copy to record the SHA-256 afterwards")
			var crcs, signed []string
			for _, q := range rec.requests("UploadPart") {
				crcs = append(crcs, q.header.Get("X-Amz-Checksum-Crc32c"))
				signed = append(signed, q.header.Get("X-Amz-Content-Sha256"))
			}
			assert.ElementsMatch(t, tc.crcs, crcs, "each part's CRC32C")
			assert.ElementsMatch(t, tc.signed, signed, "each part's payload hash")

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

			// Bytes that change between the hashing pass and the upload
			// fail the upload (the server checks each part's sum): nothing
			// is stored.
			_, err = st.Put(ctx, "changed", changing.New(data), &storage.PutOptions{Size: int64(len(data))})
			require.ErrorIs(t, err, storage.ErrCorrupt)
			for _, k := range []string{"short", "long", "changed"} {
				_, err = st.Stat(ctx, k)
				require.ErrorIs(t, err, storage.ErrNotFound, k)
			}
			assert.Empty(t, incompleteUploads(t, st), "the failed uploads were aborted")
		})
	}
}
