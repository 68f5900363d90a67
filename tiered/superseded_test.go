package tiered

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/memory"
)

// An upload attempt that reads the cache after an overwrite replaced the
// version it was to send, but before the overwrite reached the queue (a
// window of moments between the cache write and the queue update), keeps
// the key pending with its age and waits for the newer version: it is not
// an abandoned upload (no ERROR, no count), and the key does not look
// newly pending in Status.
func TestAnUploadRacingAnOverwriteWaitsForIt(t *testing.T) {
	ctx := t.Context()
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 30})
	require.NoError(t, err)
	s, err := New(c, memory.New(), Options{Mode: WriteBehind, Uploaders: -1, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	require.NoError(t, err)
	defer s.Close()

	_, err = s.Put(ctx, "a", strings.NewReader("v1"), nil)
	require.NoError(t, err)
	s.mu.Lock()
	snap := *s.items["a"]
	s.mu.Unlock()

	// The window: the newer version is in the cache, the queue does not
	// know it yet. Then the attempt runs, as a worker runs it.
	v2, err := c.PutPinned(ctx, "a", strings.NewReader("v2"), nil)
	require.NoError(t, err)
	s.mu.Lock()
	s.busy["a"] = make(chan struct{})
	s.mu.Unlock()
	runErr := s.run(snap)
	s.mu.Lock()
	s.finishLocked(s.items["a"], snap, runErr)
	it := s.items["a"]
	s.mu.Unlock()
	require.NotErrorIs(t, runErr, errAbandon)
	require.NotNil(t, it, "the key is still pending")
	require.Equal(t, snap.since, it.since, "the key keeps its age")
	require.Zero(t, s.ctr.abandoned.Load(), "nothing was abandoned")

	// The overwrite reaches the queue: the new version is due at once.
	s.queueUpload("a", v2.ETag, v2.Size, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Equal(t, v2.ETag, it.etag)
	require.False(t, it.due.After(s.now()), "the newer version is sent at once")
}
