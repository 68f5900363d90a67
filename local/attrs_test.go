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

// TestDamagedRecordsAreRefused feeds decodeRecord records that are not
// whole or name a field twice: each is refused, so the object is served
// as a file with no record rather than with half of one.
func TestDamagedRecordsAreRefused(t *testing.T) {
	sum := "sha256=" + strings.Repeat("a", 64) + "\n"
	good := recordVersion + "\nsize=4\nmtime=7\n" + sum
	_, err := decodeRecord([]byte(good))
	require.NoError(t, err)
	for name, rec := range map[string]string{
		"empty":                 "",
		"version only":          recordVersion + "\n",
		"other version":         "strata-record 2\nsize=4\nmtime=7\n" + sum,
		"no final newline":      strings.TrimSuffix(good, "\n"),
		"no size":               recordVersion + "\nmtime=7\n" + sum,
		"no sha256":             recordVersion + "\nsize=4\nmtime=7\n",
		"size twice":            good + "size=5\n",
		"content type twice":    good + "content-type=image/png\ncontent-type=image/gif\n",
		"attribute twice":       good + "content-language=en\ncontent-language=fr\n",
		"metadata twice":        good + "m.owner=alice\nm.owner=bob\n",
		"line without =":        good + "owner\n",
		"unknown field":         good + "owner=alice\n",
		"empty line":            good + "\n",
		"short sha256":          recordVersion + "\nsize=4\nmtime=7\nsha256=abc\n",
		"size not a number":     recordVersion + "\nsize=four\nmtime=7\n" + sum,
		"content type has a CR": good + "content-type=image/png\r\n",
	} {
		_, err := decodeRecord([]byte(rec))
		require.Error(t, err, name)
	}
	two := good + "content-type=image/png\ncontent-language=en\nm.a=1\nm.b=2\n"
	r, err := decodeRecord([]byte(two))
	require.NoError(t, err)
	require.Equal(t, "image/png", r.contentType)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, r.metadata)
}
