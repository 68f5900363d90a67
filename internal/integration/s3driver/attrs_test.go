package s3driver_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// Copy of an object larger than the copy threshold goes part by part
// (UploadPartCopy), which starts a new object: its HTTP attributes, content
// type and metadata must be given again, and are.
func TestCopyInPartsKeepsAttributes(t *testing.T) {
	t.Parallel()
	st, _ := newKnobStore(t, s3proto.Knobs{CopyThreshold: s3.MinPartSize}, func(c *s3.Config) { c.PartSize = s3.MinPartSize })
	data := bytes.Repeat([]byte("0123456789abcdef"), (s3.MinPartSize+12345)/16)
	opts := &storage.PutOptions{
		ContentType: "video/mp4", CacheControl: "max-age=60", ContentDisposition: `attachment; filename="v.mp4"`,
		ContentEncoding: "identity", ContentLanguage: "en", Metadata: map[string]string{"k": "v"},
	}
	_, err := st.Put(t.Context(), "src", bytes.NewReader(data), opts)
	require.NoError(t, err)
	_, err = st.Copy(t.Context(), "dst", "src")
	require.NoError(t, err)
	b, info, err := storage.ReadAll(t.Context(), st, "dst")
	require.NoError(t, err)
	require.Equal(t, data, b)
	opts.Size = int64(len(data))
	require.Equal(t, opts, storage.PutOptionsOf(info), "what the copy carries")
	require.NotEmpty(t, info.SHA256)
}
