package b2

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/storage"
)

// A missing bucket fails New with ErrNoBucket, and the error is the
// BucketCreator that makes it; then New finds it, and the Store reports
// it exists. A name in use and a key that may not create buckets fail
// clearly.
func TestCreateMissingBucket(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	id, key := srv.MasterKey()
	name := fmt.Sprintf("made-by-strata-%d", bucketSeq.Add(1))
	cfg := Config{KeyID: id, ApplicationKey: key, Bucket: name, APIBase: srv.URL}

	_, err := New(ctx, cfg)
	require.ErrorIs(t, err, storage.ErrNoBucket)
	assert.Contains(t, err.Error(), fmt.Sprintf("bucket %q does not exist", name))
	var bc storage.BucketCreator
	require.ErrorAs(t, err, &bc)
	require.NoError(t, bc.CreateBucket(ctx))
	assert.True(t, srv.HasBucket(name))

	st, err := New(ctx, cfg)
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Put(ctx, "k", strings.NewReader("data"), nil)
	require.NoError(t, err)
	err = st.CreateBucket(ctx)
	require.ErrorIs(t, err, storage.ErrExist)

	// The same creator again: the name is taken now.
	err = bc.CreateBucket(ctx)
	require.ErrorIs(t, err, storage.ErrPermission)
	assert.Contains(t, err.Error(), "in use")

	// A key restricted to a bucket may not create buckets.
	other := newEnv(t, srv)
	rcfg := other.config()
	rcfg.Bucket = fmt.Sprintf("not-made-%d", bucketSeq.Add(1))
	_, err = New(ctx, rcfg)
	if errors.As(err, &bc) {
		err = bc.CreateBucket(ctx)
		require.ErrorIs(t, err, storage.ErrPermission)
		requireNoSecrets(t, other, err.Error())
	} else {
		require.ErrorIs(t, err, storage.ErrPermission, "a restricted key may not even look")
	}
	assert.False(t, srv.HasBucket(rcfg.Bucket))
}
