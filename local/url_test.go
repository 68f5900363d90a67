package local_test

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "abs")
	p, err := storage.Open(t.Context(), "file://"+abs+"?file_mode=0600&dir_mode=0700&metadata=sidecar&sync=false")
	require.NoError(t, err)
	defer p.Close()
	s, ok := p.(*local.Store)
	require.True(t, ok, "file:// opens a *local.Store, got %T", p)
	assert.Equal(t, abs, s.Root())
	put(t, p, "a/b", "x", &storage.PutOptions{ContentType: "t/t"})
	fi, err := os.Stat(filepath.Join(abs, "a", "b"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(abs, "a"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), fi.Mode().Perm())
	assert.DirExists(t, filepath.Join(abs, `.strata\meta`), "metadata=sidecar")

	// localhost, and a percent-encoded path.
	p2, err := storage.Open(t.Context(), "file://localhost"+strings.ReplaceAll(filepath.Join(dir, "with space"), " ", "%20"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "with space"), p2.(*local.Store).Root())
	p2.Close()

	// Relative paths: file:rel and file:./rel.
	t.Chdir(dir)
	for _, u := range []string{"file:rel", "file:./rel", "FILE:rel"} {
		p3, err := storage.Open(t.Context(), u)
		require.NoError(t, err, u)
		assert.Equal(t, filepath.Join(dir, "rel"), p3.(*local.Store).Root(), u)
		p3.Close()
	}
}

func TestOpenURLInvalid(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{
		"file://",
		"file:",
		"file://server/share",
		"file://./rel",
		"file://user:secretpw@/srv/x",
		"file://" + dir + "#frag",
		"file://" + dir + "?file_mode=rw",
		"file://" + dir + "?file_mode=0",
		"file://" + dir + "?file_mode=01777",
		"file://" + dir + "?file_mode=0640&file_mode=0600",
		"file://" + dir + "?dir_mode=9",
		"file://" + dir + "?dir_mode=0640",
		"file://" + dir + "?metadata=db",
		"file://" + dir + "?sync=maybe",
		"file://" + dir + "?filemode=0640",
		"file://" + dir + "?%zz",
	} {
		p, err := storage.Open(t.Context(), u)
		if !assert.ErrorIs(t, err, storage.ErrInvalidArgument, u) {
			p.Close()
			continue
		}
		assert.NotContains(t, err.Error(), "secretpw", "no password in errors")
	}
	_, err := local.OpenURL(&url.URL{Scheme: "mem", Path: "/x"})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}
