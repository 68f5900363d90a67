package faults_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
)

func openURL(t *testing.T, params ...string) storage.Provider {
	t.Helper()
	q := url.Values{"inner": {"mem://"}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u, err := url.Parse("test://?" + q.Encode())
	require.NoError(t, err)
	p, err := faults.OpenURL(t.Context(), u)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func TestOpenURLFailures(t *testing.T) {
	ctx := t.Context()
	p := openURL(t, "fail_puts_after", "2", "fail_get", "thumb")
	putString(t, p, "a", "x")
	putString(t, p, "thumb/b", "x")
	_, err := p.Put(ctx, "c", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable, "the third Put fails")
	require.ErrorContains(t, err, "injected failure")

	require.Equal(t, "x", getString(t, p, "a"))
	_, _, err = p.Get(ctx, "thumb/b", nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	_, err = p.Stat(ctx, "thumb/b")
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, p.Delete(ctx, "thumb/b"), storage.ErrUnavailable)
	require.NoError(t, p.Delete(ctx, "a"))
}

func TestOpenURLDelayAndLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "puts.log")
	p := openURL(t, "delay", "30ms", "log", log, "fail_puts_after", "1")
	start := time.Now()
	putString(t, p, "a", "x")
	_, err := p.Put(t.Context(), "b", strings.NewReader("x"), nil)
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond, "each Put waits, the failing one too")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
	defer cancel()
	_, err = p.Put(ctx, "c", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the delay honours the context")

	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "start a\nput a\nstart b\nstart c\n", string(b))
}

func TestOpenURLRefusesBadParameters(t *testing.T) {
	for _, raw := range []string{
		"test://",
		"test://?inner=mem://&delay=soon",
		"test://?inner=mem://&fail_puts_after=-1",
		"test://?inner=mem://&log=" + url.QueryEscape(filepath.Join(t.TempDir(), "no", "such", "dir", "f")),
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		_, err = faults.OpenURL(t.Context(), u)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, raw)
	}
}
