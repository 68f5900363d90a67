package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strata-storage/strata/storage"
)

// FuzzKeyPath checks the mapping from keys to paths and the store built on
// it: any key storage.ValidKey accepts maps to a path under the root, made
// of names a file system takes, that maps back to the same key, and can be
// stored, found, listed and deleted; any key it rejects is refused by every
// method and writes nothing, neither under the root nor beside it.
//
// Since keys are stored at the paths they spell, the mapping is the
// identity; the fuzzer checks that it stays one that cannot leave the root.
func FuzzKeyPath(f *testing.F) {
	for _, k := range []string{
		"a", "a/b", "local_content/ab/cd/efgh", "local_thumbnails/ab/cd/x/32-32-image-jpeg",
		".hidden", "a/.b", "..a", "a..", "...", ".strata-tmp", `.strata-tmp\0123`, `.strata\meta`, `a\`,
		"", "/", "/etc/passwd", "..", "../x", "a/../../x", "a/./b", "a//b", "a/", "./a", `..\..\x`,
		"a\x00b", "a\nb", "a\u0085", "a\xffb", "\xe6\x97", "é", "日本語/ファイル",
		strings.Repeat("k", storage.MaxSegmentLen), strings.Repeat("k", storage.MaxSegmentLen+1),
		strings.Repeat("é", 125), strings.Repeat("é", 126), strings.Repeat("k", 1024), strings.Repeat("k", 1025),
		strings.Repeat("🎉", 62) + "/x", strings.Repeat("a/", 100) + "z", strings.Repeat("k/", 511) + "k",
	} {
		f.Add(k)
	}
	base := f.TempDir()
	root := filepath.Join(base, "root")
	sx, err := New(root, &Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	defer sx.Close()
	// The sidecar store shares the root: its sidecar tree is one more
	// thing no key may reach.
	ss, err := New(root, &Options{NoSync: true, Metadata: MetadataSidecar})
	if err != nil {
		f.Fatal(err)
	}
	defer ss.Close()

	f.Fuzz(func(t *testing.T, key string) {
		ctx := t.Context()
		p := keyPath(key)
		if verr := storage.ValidKey(key); verr != nil {
			if p != "" {
				t.Fatalf("rejected key %q maps to %q", key, p)
			}
			before := snapshot(t, base)
			for _, s := range []*Store{sx, ss} {
				if _, err := s.Put(ctx, key, strings.NewReader("x"), nil); !isInvalidKey(err) {
					t.Fatalf("Put of rejected key %q: %v", key, err)
				}
				if _, err := s.Put(ctx, key, strings.NewReader("x"), &storage.PutOptions{IfNotExists: true}); !isInvalidKey(err) {
					t.Fatalf("Put of rejected key %q: %v", key, err)
				}
				if _, err := s.Copy(ctx, key, "a"); !isInvalidKey(err) {
					t.Fatalf("Copy to rejected key %q: %v", key, err)
				}
				if err := s.Delete(ctx, key); !isInvalidKey(err) {
					t.Fatalf("Delete of rejected key %q: %v", key, err)
				}
				if _, err := s.Stat(ctx, key); !isInvalidKey(err) {
					t.Fatalf("Stat of rejected key %q: %v", key, err)
				}
			}
			if after := snapshot(t, base); after != before {
				t.Fatalf("rejected key %q changed the tree:\n%s\n---\n%s", key, before, after)
			}
			return
		}

		if p == "" {
			t.Fatalf("valid key %q has no path", key)
		}
		native := filepath.FromSlash(p)
		if !filepath.IsLocal(native) {
			t.Fatalf("key %q maps to %q, not local", key, p)
		}
		full := filepath.Join(root, native)
		if rel, err := filepath.Rel(root, full); err != nil || rel != native || !strings.HasPrefix(full, root+string(filepath.Separator)) {
			t.Fatalf("key %q maps to %q, outside root %q", key, full, root)
		}
		for comp := range strings.SplitSeq(p, "/") {
			if comp == "" || comp == "." || comp == ".." || len(comp) > storage.MaxSegmentLen || !utf8.ValidString(comp) {
				t.Fatalf("key %q maps to %q with bad name %q", key, p, comp)
			}
			if isTemp(comp) || comp == metaDir || strings.HasPrefix(comp, sidePrefix) {
				t.Fatalf("key %q maps to %q, which uses the reserved name %q", key, p, comp)
			}
		}
		if k, ok := pathKey(p); !ok || k != key {
			t.Fatalf("key %q maps to %q, which maps back to %q, %v", key, p, k, ok)
		}

		if strings.Count(p, "/") > 32 {
			// Deep trees cost a directory per level; the mapping checks
			// above cover them, and the round trip below would slow the
			// fuzzer down for no new paths.
			return
		}
		for _, s := range []*Store{sx, ss} {
			if _, err := s.Put(ctx, key, strings.NewReader(key), &storage.PutOptions{ContentType: "t/t"}); err != nil {
				t.Fatalf("Put %q: %v", key, err)
			}
			info, err := s.Stat(ctx, key)
			if err != nil || info.Size != int64(len(key)) || info.ContentType != "t/t" {
				t.Fatalf("Stat %q: %+v, %v", key, info, err)
			}
			var listed []string
			for info, err := range s.List(ctx, nil) {
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				listed = append(listed, info.Key)
			}
			if len(listed) != 1 || listed[0] != key {
				t.Fatalf("List after Put %q: %q", key, listed)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("Delete %q: %v", key, err)
			}
			if left := snapshot(t, root); left != "./\n" && left != "./\n"+metaDir+"/\n" {
				t.Fatalf("Delete %q left:\n%s", key, left)
			}
		}
	})
}

func isInvalidKey(err error) bool {
	var se *storage.Error
	return err != nil && errors.As(err, &se) && se.Provider == ProviderName && errors.Is(err, storage.ErrInvalidKey)
}

// snapshot lists every name under dir with its type and size.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(filepath.ToSlash(rel))
		if d.IsDir() {
			b.WriteString("/")
		} else if fi, err := os.Lstat(p); err == nil {
			b.WriteString(" " + fi.Mode().String())
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
