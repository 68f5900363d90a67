package migrate

import (
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

func TestVerifyReportsMissingAndDifferentObjects(t *testing.T) {
	for _, tc := range []struct {
		name         string
		noSHA        bool
		wantDiffSums bool
	}{
		{name: "checksums known", wantDiffSums: true},
		{name: "checksums computed from content", noSHA: true, wantDiffSums: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newHooked(memory.New())
			want := mediaTree(t, src, 5)
			dst := newHooked(memory.New())
			_, err := New(src, dst, nil).Run(t.Context())
			require.NoError(t, err)
			src.noSHA, dst.noSHA = tc.noSHA, tc.noSHA

			res, err := Verify(t.Context(), src, dst, nil)
			require.NoError(t, err)
			assert.True(t, res.OK())
			assert.EqualValues(t, len(want), res.Matched.Load())

			keys := slices.Sorted(maps.Keys(want))
			require.NoError(t, dst.Delete(t.Context(), keys[0]))
			_, err = dst.Put(t.Context(), keys[1], strings.NewReader("other size"), nil)
			require.NoError(t, err)
			_, err = dst.Put(t.Context(), keys[2], bytes.NewReader(bytes.ToUpper(want[keys[2]])), nil)
			require.NoError(t, err)
			_, err = dst.Put(t.Context(), "only/at/destination", strings.NewReader("x"), nil)
			require.NoError(t, err)

			var mu sync.Mutex
			diffs := map[string]DiffKind{}
			res, err = Verify(t.Context(), src, dst, &VerifyOptions{Workers: 2, OnDiff: func(d Diff) {
				mu.Lock()
				defer mu.Unlock()
				diffs[d.Key] = d.Kind
			}})
			require.NoError(t, err)
			assert.False(t, res.OK())
			assert.Equal(t, map[string]DiffKind{keys[0]: Missing, keys[1]: SizeDiffers, keys[2]: ChecksumDiffers}, diffs)
			assert.EqualValues(t, 1, res.Missing.Load())
			assert.EqualValues(t, 2, res.Different.Load())
			assert.EqualValues(t, 1, res.Extra.Load())
			assert.EqualValues(t, len(want), res.Checked.Load())
			assert.EqualValues(t, len(want)-3, res.Matched.Load())

			// Size only does not see the checksum difference.
			res, err = Verify(t.Context(), src, dst, &VerifyOptions{SizeOnly: true})
			require.NoError(t, err)
			assert.EqualValues(t, 1, res.Missing.Load())
			assert.EqualValues(t, 1, res.Different.Load())
		})
	}
}

func TestVerifyCountsUnreadableObjectsAsErrors(t *testing.T) {
	src := memory.New()
	mediaTree(t, src, 2)
	dst := newHooked(memory.New())
	_, err := New(src, dst, nil).Run(t.Context())
	require.NoError(t, err)
	dst.noSHA = true // forces a read of each destination object
	closed := &closedGets{hooked: dst}
	var diffs []Diff
	res, err := Verify(t.Context(), src, closed, &VerifyOptions{Workers: 1, OnDiff: func(d Diff) { diffs = append(diffs, d) }})
	require.NoError(t, err)
	assert.EqualValues(t, 6, res.Errors.Load())
	require.Len(t, diffs, 6)
	assert.Equal(t, CompareError, diffs[0].Kind)
	assert.ErrorIs(t, diffs[0].Err, storage.ErrUnavailable)
}

func TestVerifyListingErrorIsReturned(t *testing.T) {
	src := memory.New()
	require.NoError(t, src.Close())
	_, err := Verify(t.Context(), src, memory.New(), nil)
	require.ErrorIs(t, err, storage.ErrClosed)
}

// closedGets fails every Get as unavailable.
type closedGets struct{ *hooked }

func (c *closedGets) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	return nil, storage.Info{}, &storage.Error{Op: "get", Provider: "test", Key: key, Kind: storage.ErrUnavailable}
}
