package memory_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

func TestCallerMutationsDoNotReachStore(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	md := map[string]string{"a": "1"}
	_, err := s.Put(ctx, "k", strings.NewReader("x"), &storage.PutOptions{Metadata: md})
	require.NoError(t, err)
	md["a"] = "changed"
	md["b"] = "2"

	info, err := s.Stat(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1"}, info.Metadata)
	info.Metadata["a"] = "changed by caller"

	_, info2, err := s.Get(ctx, "k", nil)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1"}, info2.Metadata)
}

// The data Put reads is copied: a reader whose buffer is reused after Put
// returns must not change the stored object.
func TestPutCopiesReaderBuffer(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	buf := []byte("original")
	_, err := s.Put(ctx, "k", bytes.NewReader(buf), nil)
	require.NoError(t, err)
	copy(buf, "XXXXXXXX")
	rc, _, err := s.Get(ctx, "k", nil)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, "original", string(got))
}

func TestClockStampsModTime(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := memory.NewWithOptions(&memory.Options{Now: func() time.Time { return at }})
	info, err := s.Put(context.Background(), "k", strings.NewReader("x"), nil)
	require.NoError(t, err)
	require.True(t, at.Equal(info.ModTime), "ModTime %v, want %v", info.ModTime, at)
}

// A loop over List may write to the same store without deadlocking, and
// still yields every key that was there throughout.
func TestListLoopMayWrite(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	for _, k := range []string{"a", "c"} {
		_, err := s.Put(ctx, k, strings.NewReader(k), nil)
		require.NoError(t, err)
	}
	var seen []string
	for info, err := range s.List(ctx, nil) {
		require.NoError(t, err)
		seen = append(seen, info.Key)
		if info.Key == "a" {
			require.NoError(t, s.Delete(ctx, "a"))
			_, err := s.Put(ctx, "b", strings.NewReader("b"), nil)
			require.NoError(t, err)
		}
	}
	require.Equal(t, "a", seen[0])
	require.Equal(t, "c", seen[len(seen)-1])
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	fresh1, err := storage.Open(ctx, "mem://")
	require.NoError(t, err)
	fresh2, err := storage.Open(ctx, "mem://")
	require.NoError(t, err)
	_, err = fresh1.Put(ctx, "k", strings.NewReader("v"), nil)
	require.NoError(t, err)
	_, err = fresh2.Stat(ctx, "k")
	require.ErrorIs(t, err, storage.ErrNotFound, "mem:// must be a fresh store each time")

	n1, err := storage.Open(ctx, "mem://TestOpenURL")
	require.NoError(t, err)
	n2, err := storage.Open(ctx, "mem://TestOpenURL")
	require.NoError(t, err)
	_, err = n1.Put(ctx, "k", strings.NewReader("v"), nil)
	require.NoError(t, err)
	require.NoError(t, n1.Close())
	_, err = n1.Stat(ctx, "k")
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = n2.Stat(ctx, "k")
	require.NoError(t, err, "closing one handle must not close the named store")

	for _, bad := range []string{"mem://x/path", "mem://x?opt=1", "mem://user:secret@x"} {
		_, err := storage.Open(ctx, bad)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, bad)
		require.NotContains(t, err.Error(), "secret")
	}
}

func TestErrorsNameProvider(t *testing.T) {
	_, err := memory.New().Stat(context.Background(), "missing")
	var se *storage.Error
	require.True(t, errors.As(err, &se))
	require.Equal(t, "memory", se.Provider)
	require.Equal(t, "missing", se.Key)
}
