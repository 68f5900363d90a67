package local_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// roChildEnv names the directory a child test process mounts read-only
// (see TestReadOnlyTree).
const roChildEnv = "STRATA_LOCAL_RO_CHILD"

// readOnlyFixture writes, under base, two stores as a migration finds them:
// "xattr" (records in extended attributes) and "sidecar" (records in a
// sidecar tree), each with an object strata wrote and a plain file another
// program wrote.
func readOnlyFixture(t *testing.T, base string) {
	t.Helper()
	for _, mode := range []local.MetadataMode{local.MetadataXattr, local.MetadataSidecar} {
		root := filepath.Join(base, mode.String())
		s, err := local.New(root, &local.Options{Metadata: mode, NoSync: true})
		skipWithoutXattr(t, err)
		require.NoError(t, err)
		put(t, s, "a/b", "strata wrote this", &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"k": "v"}})
		require.NoError(t, s.Close())
		plain := filepath.Join(root, "local_content", "ab", "cd", "xyz")
		require.NoError(t, os.MkdirAll(filepath.Dir(plain), 0o755))
		require.NoError(t, os.WriteFile(plain, []byte("synapse wrote this"), 0o644))
	}
}

// checkReadOnly opens the stores readOnlyFixture wrote under base, which
// the process cannot write, every way a user would, and checks that reads
// work, that writes fail with storage.ErrPermission and that nothing on
// disk changed.
func checkReadOnly(t *testing.T, base string) {
	t.Helper()
	before := tree(t, base)
	require.Error(t, os.WriteFile(filepath.Join(base, "xattr", "probe"), nil, 0o644), "the fixture must not be writable")
	ctx := context.Background()
	for _, c := range []struct {
		name string
		open func(root string) (storage.Provider, error)
	}{
		{"New", func(root string) (storage.Provider, error) { return local.New(root, nil) }},
		{"New-xattr", func(root string) (storage.Provider, error) {
			return local.New(root, &local.Options{Metadata: local.MetadataXattr})
		}},
		{"New-sidecar", func(root string) (storage.Provider, error) {
			return local.New(root, &local.Options{Metadata: local.MetadataSidecar})
		}},
		{"storage.Open", func(root string) (storage.Provider, error) { return storage.Open(ctx, "file://"+root) }},
	} {
		for _, layout := range []string{"xattr", "sidecar"} {
			if (c.name == "New-xattr" && layout == "sidecar") || (c.name == "New-sidecar" && layout == "xattr") {
				continue // a mode that does not match the tree: not a read-only question
			}
			t.Run(c.name+"/"+layout, func(t *testing.T) {
				s, err := c.open(filepath.Join(base, layout))
				require.NoError(t, err, "a read-only tree opens")
				defer s.Close()

				body, info := get(t, s, "a/b")
				assert.Equal(t, "strata wrote this", body)
				assert.Equal(t, "text/plain", info.ContentType, "metadata strata recorded is read")
				assert.Equal(t, map[string]string{"k": "v"}, info.Metadata)
				assert.Equal(t, sha("strata wrote this"), info.SHA256)
				st, err := s.Stat(ctx, "local_content/ab/cd/xyz")
				require.NoError(t, err)
				assert.EqualValues(t, len("synapse wrote this"), st.Size)
				body, _ = get(t, s, "local_content/ab/cd/xyz")
				assert.Equal(t, "synapse wrote this", body)
				assert.Equal(t, []string{"a/b", "local_content/ab/cd/xyz"}, listKeys(t, s, nil))

				_, err = s.Put(ctx, "new", strings.NewReader("x"), nil)
				assert.ErrorIs(t, err, storage.ErrPermission, "Put")
				_, err = s.Put(ctx, "a/b", strings.NewReader("x"), nil)
				assert.ErrorIs(t, err, storage.ErrPermission, "Put over an object")
				assert.ErrorIs(t, s.Delete(ctx, "a/b"), storage.ErrPermission, "Delete")
				assert.NoError(t, s.Delete(ctx, "missing"), "Delete of a missing key succeeds")
				if cp, ok := s.(storage.Copier); ok {
					_, err = cp.Copy(ctx, "a/c", "a/b")
					assert.ErrorIs(t, err, storage.ErrPermission, "Copy")
				}
				_, err = s.(*local.Store).Sweep(ctx, time.Now())
				assert.NoError(t, err, "Sweep finds nothing to remove")
			})
		}
	}
	// A missing root cannot be created there: the error says so, and where.
	missing := filepath.Join(base, "xattr", "new", "root")
	_, err := local.New(missing, nil)
	require.ErrorIs(t, err, storage.ErrPermission)
	assert.Contains(t, err.Error(), missing)
	assert.Contains(t, err.Error(), "cannot be created")

	assert.Equal(t, before, tree(t, base), "nothing changed on disk")
}

// TestReadOnlyTree opens trees the process cannot write (a media store
// mounted read-only to migrate from) and checks that they serve reads.
// Without root it takes write permission away with chmod. As root, which
// chmod does not stop, it runs itself again in a mount namespace of its own
// where the tree is bind-mounted read-only, and skips, saying why, when it
// cannot.
func TestReadOnlyTree(t *testing.T) {
	if dir := os.Getenv(roChildEnv); dir != "" {
		if err := mountReadOnly(dir); err != nil {
			t.Skipf("cannot bind-mount %s read-only: %v", dir, err)
		}
		checkReadOnly(t, dir)
		return
	}
	base := filepath.Join(t.TempDir(), "media")
	readOnlyFixture(t, base)

	if os.Geteuid() != 0 {
		setWritable(t, base, false)
		t.Cleanup(func() { setWritable(t, base, true) })
		checkReadOnly(t, base)
		return
	}
	if testing.Short() {
		t.Skip("running as root, where chmod does not stop writes; the read-only bind mount runs the test binary again, not in -short mode")
	}
	out, err := runInMountNamespace(t, base)
	if err != nil && !strings.Contains(out, "--- FAIL") {
		t.Skipf("running as root, where chmod does not stop writes, and cannot start a child in a mount namespace of its own to bind-mount the tree read-only: %v\n%s", err, out)
	}
	if strings.Contains(out, "--- SKIP: TestReadOnlyTree") {
		t.Skipf("running as root, where chmod does not stop writes, and the child could not bind-mount the tree read-only:\n%s", out)
	}
	require.NoError(t, err, "child in a read-only mount:\n%s", out)
	require.Contains(t, out, "--- PASS: TestReadOnlyTree", "the checks ran in the child:\n%s", out)
	t.Logf("ran as root: checked in a child process with %s bind-mounted read-only", base)
}

// setWritable adds or takes away the write permission of everything under
// dir.
func setWritable(t *testing.T, dir string, writable bool) {
	t.Helper()
	var paths []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}))
	for _, p := range paths {
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		mode := fi.Mode().Perm()
		if writable {
			mode |= 0o200
		} else {
			mode &^= 0o222
		}
		require.NoError(t, os.Chmod(p, mode))
	}
}

// TestNewWritesNothing checks that opening an existing tree changes
// nothing in it, not even the modification time of the root: no probe
// file, no directory of its own.
func TestNewWritesNothing(t *testing.T) {
	for _, opts := range []*local.Options{nil, {Metadata: local.MetadataSidecar}} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "existing"), []byte("x"), 0o644))
		old := time.Now().Add(-time.Hour).Truncate(time.Second)
		require.NoError(t, os.Chtimes(dir, old, old))
		before := tree(t, dir)

		s, err := local.New(dir, opts)
		require.NoError(t, err)
		body, _ := get(t, s, "existing")
		assert.Equal(t, "x", body)
		require.NoError(t, s.Close())

		assert.Equal(t, before, tree(t, dir))
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.True(t, fi.ModTime().Equal(old), "the root was not written to (mtime %v, was %v)", fi.ModTime(), old)
	}
}

// TestNewRootErrors checks that a root New cannot use gets an error that
// names it and says what is wrong.
func TestNewRootErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	_, err := local.New(file, nil)
	require.ErrorIs(t, err, storage.ErrInvalidArgument, "a root that is a file")
	assert.Contains(t, err.Error(), file)
	assert.Contains(t, err.Error(), "not a directory")

	under := filepath.Join(file, "sub")
	_, err = local.New(under, nil)
	require.ErrorIs(t, err, storage.ErrInvalidArgument, "a root under a file")
	assert.Contains(t, err.Error(), under)
	assert.Contains(t, err.Error(), "not a directory")

	// A missing root is created, as documented.
	missing := filepath.Join(base, "a", "b")
	s, err := local.New(missing, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	fi, err := os.Stat(missing)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
}
