package b2

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/storage"
)

// TestPackMetadataRoundTrip checks that packed metadata reads back as it
// was, with values that hold the packing's own separators.
func TestPackMetadataRoundTrip(t *testing.T) {
	md := map[string]string{"a": "=1:2=", "b2-x": "", "k-9": "12:x=y", "z": strings.Repeat("~", 300)}
	got, err := unpackMetadata(packMetadata(md))
	require.NoError(t, err)
	require.Equal(t, md, got)
	for _, bad := range []string{"a", "a=5:abc", "a=-1:", "a=x:"} {
		_, err := unpackMetadata(bad)
		require.Error(t, err, "%q", bad)
	}
}

// TestFileInfoLayout checks which B2 file info entries an object gets:
// metadata keeps an entry per key while all fits in B2's ten, and is
// packed into one when it does not, or when a key starts with "b2-" (a
// name B2 reserves).
func TestFileInfoLayout(t *testing.T) {
	attrs := storage.PutOptions{CacheControl: "no-cache", ContentDisposition: "inline",
		ContentEncoding: "gzip", ContentLanguage: "en"}
	five := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
	o := attrs
	o.Metadata = five
	fi := fileInfoOf(&o, strings.Repeat("0", 64))
	require.Len(t, fi, 10)
	require.Equal(t, "1", fi["a"])
	require.NotContains(t, fi, infoMetadata)

	o.Metadata = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}
	fi = fileInfoOf(&o, strings.Repeat("0", 64))
	require.Len(t, fi, 6)
	require.Equal(t, "no-cache", fi[infoCacheControl])

	o = storage.PutOptions{Metadata: map[string]string{"b2-cache-control": "mine"}}
	fi = fileInfoOf(&o, "")
	require.Equal(t, map[string]string{infoMetadata: "b2-cache-control=4:mine"}, fi)
}

// TestMetadataNamedLikeB2Info stores user metadata whose key is one of B2's
// own file info names beside a different HTTP attribute: both come back
// as given, neither taken for the other.
func TestMetadataNamedLikeB2Info(t *testing.T) {
	e := newEnv(t, b2test.NewServer(t, nil))
	st := e.open(t)
	ctx := context.Background()
	opts := &storage.PutOptions{CacheControl: "no-store", Metadata: map[string]string{"b2-cache-control": "max-age=1", "owner": "al"}}
	_, err := st.Put(ctx, "k", bytes.NewReader([]byte("x")), opts)
	require.NoError(t, err)
	for _, viaGet := range []bool{false, true} {
		info, err := st.Stat(ctx, "k")
		if viaGet {
			var rc interface{ Close() error }
			rc, info, err = st.Get(ctx, "k", nil)
			require.NoError(t, err)
			rc.Close()
		}
		require.NoError(t, err)
		require.Equal(t, "no-store", info.CacheControl)
		require.Equal(t, opts.Metadata, info.Metadata)
	}
}
