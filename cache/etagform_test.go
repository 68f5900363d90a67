package cache

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The cache's ETags are quoted, as every provider's; Unpin and Drop also
// take the bare form versions before that gave, which a tiered store's
// journal on disk may still hold.
func TestUnpinTakesQuotedAndBareETags(t *testing.T) {
	ctx := t.Context()
	c, err := Open(t.TempDir(), Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	for _, bare := range []bool{false, true} {
		info, err := c.PutPinned(ctx, "k", strings.NewReader("v"), nil)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(info.ETag, `"`) && strings.HasSuffix(info.ETag, `"`), "ETag %s is quoted", info.ETag)
		etag := info.ETag
		if bare {
			etag = strings.Trim(etag, `"`)
		}
		require.NoError(t, c.Unpin(ctx, "k", etag))
		for p, err := range c.Pinned(ctx) {
			require.NoError(t, err)
			t.Fatalf("still pinned after Unpin(%s): %s", etag, p.Key)
		}
		dropped, err := c.Drop(ctx, "k", etag)
		require.NoError(t, err)
		require.True(t, dropped, "Drop(%s)", etag)
	}
}
