package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// TestHTTPAttributesLargestRecord stores the largest record the contract
// allows (all metadata, every HTTP attribute at its longest) in a sidecar,
// and in an extended attribute a record with every attribute long: ext4
// keeps at most about 4 KiB of attributes per file, which the largest
// record passes (see the package documentation).
func TestHTTPAttributesLargestRecord(t *testing.T) {
	md := map[string]string{}
	for i := range storage.MaxMetadataEntries {
		k := fmt.Sprintf("k%d", i)
		md[k] = strings.Repeat("v", storage.MaxMetadataBytes/storage.MaxMetadataEntries-len(k))
	}
	long := strings.Repeat("x", storage.MaxHTTPAttributeLen)
	opts := &storage.PutOptions{
		ContentType: "text/plain", Metadata: md,
		CacheControl: long, ContentDisposition: long, ContentEncoding: long, ContentLanguage: long,
	}
	for _, mode := range []MetadataMode{MetadataXattr, MetadataSidecar} {
		t.Run(mode.String(), func(t *testing.T) {
			opts, md, long := opts, md, long
			if mode == MetadataXattr {
				long = strings.Repeat("x", 700)
				md = map[string]string{"owner": "alice"}
				opts = &storage.PutOptions{ContentType: "text/plain", Metadata: md,
					CacheControl: long, ContentDisposition: long, ContentEncoding: long, ContentLanguage: long}
			}
			ctx := context.Background()
			s, err := New(t.TempDir(), &Options{NoSync: true, Metadata: mode})
			if errors.Is(err, storage.ErrUnsupported) {
				t.Skipf("no user extended attributes here: %v", err)
			}
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Put(ctx, "k", strings.NewReader("data"), opts)
			require.NoError(t, err)
			st, err := s.Stat(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, md, st.Metadata)
			require.Equal(t, [4]string{long, long, long, long},
				[4]string{st.CacheControl, st.ContentDisposition, st.ContentEncoding, st.ContentLanguage})
		})
	}
}

// TestRecordWithoutHTTPAttributes reads a record written before HTTP
// attributes were kept: it is still believed, with no attributes.
func TestRecordWithoutHTTPAttributes(t *testing.T) {
	old := recordVersion + "\nsize=4\nmtime=7\nsha256=" + strings.Repeat("a", 64) + "\ncontent-type=text/plain\nm.owner=alice\n"
	r, err := decodeRecord([]byte(old))
	require.NoError(t, err)
	require.Equal(t, "text/plain", r.contentType)
	require.Equal(t, httpAttrs{}, r.attrs)
	r.attrs = httpAttrs{"no-cache", "inline", "gzip", "en"}
	again, err := decodeRecord(r.encode())
	require.NoError(t, err)
	require.Equal(t, r, again)
}
