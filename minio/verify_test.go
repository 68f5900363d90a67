package minio

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestSkipVerifyReadsURL(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"true": true, "1": true, "false": false} {
		u, err := url.Parse("minio://127.0.0.1:9000/media?skip_verify_reads=" + v)
		require.NoError(t, err)
		cfg, err := configFromURL(u)
		require.NoError(t, err)
		assert.Equal(t, want, cfg.SkipVerifyReads, v)
	}
	p, err := storage.Open(t.Context(), "minio://127.0.0.1:9000/media?skip_verify_reads=true")
	require.NoError(t, err)
	defer p.Close()
	assert.True(t, p.(*Store).d.set.SkipVerifyReads)
	_, err = storage.Open(t.Context(), "minio://127.0.0.1:9000/media?skip_verify_reads=maybe")
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
}
