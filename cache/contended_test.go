package cache

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A writer waiting for space that finds the only evictable entry's stripe
// held by another goroutine (an Unpin that has woken the writers but not
// yet let go of the key, say) evicts it once the stripe is free, although
// letting go of a stripe wakes nobody. It used to wait until its context
// ended: TestBackPressure hung now and then under load.
func TestWaitingWriterRetriesAContendedStripe(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxBytes: 256 << 10})
	ctx := context.Background()
	data := bytes.Repeat([]byte("p"), 32<<10)
	var keys []string
	for i := 0; ; i++ {
		if c.Usage().Bytes+int64(len(data))+4<<10 > c.opts.MaxBytes-c.headroom() {
			break
		}
		k := fmt.Sprintf("p%d", i)
		putPinned(t, c, k, data)
		keys = append(keys, k)
	}
	require.NotEmpty(t, keys)
	require.NoError(t, c.Unpin(ctx, keys[0], ""))

	// Another goroutine holds the stripe of the one evictable entry.
	st := c.stripe(hashKey(keys[0]))
	st.Lock()
	done := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := c.PutPinned(wctx, "w", bytes.NewReader(data), nil)
		done <- err
	}()
	waitFor(t, func() bool { return c.Stats().Waits >= 1 })
	select {
	case err := <-done:
		t.Fatalf("the write did not wait for the held stripe: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	st.Unlock() // wakes nobody
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the write still waits after the stripe was let go")
	}
	require.False(t, has(c, keys[0]), "the unpinned entry made room")
	require.True(t, has(c, "w"))
}
