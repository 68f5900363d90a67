package local

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/storage"
)

// The crash tests run a child process (this test binary) that overwrites
// an object and is killed with SIGKILL at a chosen point of the Put: while
// it reads, after the new file and its metadata are written and fsynced but
// before the rename, and after the rename but before the old sidecar is
// removed. The parent then opens the root again and checks that the object
// is whole (the old one or the new one, each with its own metadata), that
// leftovers are invisible, and that Sweep removes them.

const crashEnv = "STRATA_LOCAL_CRASH_CHILD"

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("only runs as the child of TestCrash")
	}
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		t.Fatalf("bad %s=%q", crashEnv, spec)
	}
	root, stage, md := parts[0], parts[1], parts[2]
	opts := &Options{}
	if md == "sidecar" {
		opts.Metadata = MetadataSidecar
	}
	s, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	ready := func() {
		fmt.Println("ready")
		os.Stdout.Sync()
		select {} // wait for the kill
	}
	var r io.Reader = strings.NewReader("new content")
	if stage == "reading" {
		r = io.MultiReader(strings.NewReader("new co"), readerFunc(func([]byte) (int, error) { ready(); return 0, nil }))
	} else {
		testHook = func(st string) {
			if st == stage {
				ready()
			}
		}
	}
	_, err = s.Put(t.Context(), "media/ab/obj", r, &storage.PutOptions{ContentType: "new/type"})
	t.Fatalf("Put returned %v; the parent should have killed this process", err)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, md := range []string{"xattr", "sidecar"} {
		for _, stage := range []string{"reading", "before-publish", "after-publish"} {
			t.Run(md+"/"+stage, func(t *testing.T) {
				t.Parallel()
				root := t.TempDir()
				opts := &Options{}
				if md == "sidecar" {
					opts.Metadata = MetadataSidecar
				}
				s, err := New(root, opts)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Put(t.Context(), "media/ab/obj", strings.NewReader("old content"), &storage.PutOptions{ContentType: "old/type"}); err != nil {
					t.Fatal(err)
				}
				s.Close()

				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashEnv+"="+root+"|"+stage+"|"+md)
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				lines := bufio.NewScanner(out)
				for lines.Scan() && lines.Text() != "ready" {
				}
				if lines.Err() != nil || lines.Text() != "ready" {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("child did not reach %s", stage)
				}
				cmd.Process.Kill()
				cmd.Wait()

				s, err = New(root, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				wantBody, wantType := "old content", "old/type"
				if stage == "after-publish" {
					wantBody, wantType = "new content", "new/type"
				}
				rc, info, err := s.Get(t.Context(), "media/ab/obj", nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(rc)
				rc.Close()
				if string(body) != wantBody || info.ContentType != wantType || info.SHA256 != hexSHA(wantBody) {
					t.Errorf("after a crash at %s: %q, %q, %s; want %q, %q", stage, body, info.ContentType, info.SHA256, wantBody, wantType)
				}
				var keys []string
				for info, err := range s.List(t.Context(), nil) {
					if err != nil {
						t.Fatal(err)
					}
					keys = append(keys, info.Key)
				}
				if fmt.Sprint(keys) != "[media/ab/obj]" {
					t.Errorf("List after the crash: %q", keys)
				}

				left := leftoverNames(t, root)
				if stage != "after-publish" && !strings.Contains(strings.Join(left, " "), tempPrefix) {
					t.Errorf("expected the crashed Put's temporary file, found %q", left)
				}
				n, err := s.Sweep(t.Context(), time.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if n != len(left) {
					t.Errorf("Sweep removed %d, want the %d leftovers %q", n, len(left), left)
				}
				if left := leftoverNames(t, root); len(left) > 0 {
					t.Errorf("after Sweep: %q", left)
				}
				rc, info, err = s.Get(t.Context(), "media/ab/obj", nil)
				if err != nil {
					t.Fatal(err)
				}
				rc.Close()
				if info.ContentType != wantType {
					t.Errorf("Sweep lost the metadata: %q", info.ContentType)
				}
			})
		}
	}
}

// leftoverNames lists temporary files and sidecars whose object is gone or
// has another inode.
func leftoverNames(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case isTemp(d.Name()):
			out = append(out, rel)
		case !d.IsDir() && strings.HasPrefix(rel, metaDir+"/") && strings.HasPrefix(d.Name(), sidePrefix):
			dataRel := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(rel)), metaDir+"/")
			fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(dataRel)))
			if err != nil || sidePrefix+fmt.Sprint(fileID(fi)) != d.Name() {
				out = append(out, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hexSHA(s string) string {
	h := storage.NewHashingReader(strings.NewReader(s))
	io.Copy(io.Discard, h)
	return h.SHA256()
}
