package b2

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

func listKeys(t *testing.T, p storage.Provider, opts *storage.ListOptions) []string {
	t.Helper()
	var keys []string
	for info, err := range p.List(t.Context(), opts) {
		require.NoError(t, err, "List %+v", *opts)
		if opts.Delimiter != "" {
			require.Equal(t, strings.HasSuffix(info.Key, "/"), info.IsPrefix, "entry %q", info.Key)
			if info.IsPrefix {
				require.Equal(t, storage.Info{Key: info.Key, IsPrefix: true}, info, "a common prefix has only its key")
			}
		}
		keys = append(keys, info.Key)
	}
	return keys
}

// putKeys stores each key with its name as content.
func putKeys(t *testing.T, st *Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, err := st.Put(t.Context(), k, reader(k), nil)
		require.NoError(t, err)
	}
}

// A listing with a delimiter is one b2_list_file_names call with the
// delimiter: B2 sends one entry per folder, not the names under it, which
// the fold of package driver (what the Store did before) has B2 send page
// after page, one call per folder.
func TestListDelimiterIsServerSide(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	keys := []string{"a", "b/sub/x", "c", "e"}
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("b/%02d", i), fmt.Sprintf("d/%02d", i))
	}
	putKeys(t, st, keys...)
	want := []string{"a", "b/", "c", "d/", "e"}

	srv.ResetCalls()
	require.Equal(t, want, listKeys(t, st, &storage.ListOptions{Delimiter: "/"}))
	require.Equal(t, 1, srv.Calls("b2_list_file_names"))
	require.Equal(t, len(want), srv.Listed("b2_list_file_names"), "one entry per folder")

	// Resuming inside a folder, or after it, starts past it: B2 does not
	// send it again.
	srv.ResetCalls()
	require.Equal(t, []string{"c", "d/", "e"}, listKeys(t, st, &storage.ListOptions{StartAfter: "b/20", Delimiter: "/"}))
	require.Equal(t, []string{"c", "d/", "e"}, listKeys(t, st, &storage.ListOptions{StartAfter: "b/", Delimiter: "/"}))
	require.Equal(t, 6, srv.Listed("b2_list_file_names"))

	folded := driver.New(provider, st.c, nil)
	srv.ResetCalls()
	require.Equal(t, want, listKeys(t, folded, &storage.ListOptions{Delimiter: "/"}))
	require.Greater(t, srv.Calls("b2_list_file_names"), 1)
	require.Greater(t, srv.Listed("b2_list_file_names"), 80, "the fold has B2 send the names under the folders")
}

// Page boundaries fall before, on and after folders; the listing with a
// delimiter is the fold of the plain listing for every prefix and
// StartAfter, and paging one entry at a time yields each entry once.
func TestListDelimiterPages(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t, func(c *Config) { c.DeleteMode = DeleteHide })
	st.c.listPage = 2
	putKeys(t, st, "a-b", "a.b", "a/b", "a/b-c", "a/b.txt", "a/b0", "a/c/d", "a/c/e/f", "a0", "ab/x",
		"hidden/1", "hidden/2", "m/1", "m/2", "m/3", "m/s/1", "z", "日本/語", "日本語")
	require.NoError(t, st.Delete(t.Context(), "hidden/1"))
	require.NoError(t, st.Delete(t.Context(), "hidden/2"))
	all := listKeys(t, st, &storage.ListOptions{})
	require.NotContains(t, all, "hidden/1")

	for _, c := range []struct{ prefix, after string }{
		{"", ""}, {"a", ""}, {"a/", ""}, {"a/b", ""}, {"a/c/", ""}, {"m/", ""}, {"日本", ""}, {"hidden/", ""},
		{"", "a"}, {"", "a/"}, {"", "a/b"}, {"", "a/c/d"}, {"", "a0"}, {"", "ab/"}, {"", "m/2"}, {"", "日本/語"},
		{"a/", "a/b0"}, {"a/", "a/c/"}, {"a/", "a/c/e"}, {"a/", "a"}, {"a/", "b"}, {"", "\U0010FFFF"},
		{"", "a/\xff"}, // as a fold resumes
	} {
		require.Equal(t, conformance.FoldKeys(all, c.prefix, c.after), listKeys(t, st, &storage.ListOptions{Prefix: c.prefix, StartAfter: c.after, Delimiter: "/"}),
			"Prefix %q, StartAfter %q", c.prefix, c.after)
	}
	require.Equal(t, []string{"a-b", "a.b", "a/", "a0", "ab/", "m/", "z", "日本/", "日本語"},
		listKeys(t, st, &storage.ListOptions{Delimiter: "/"}), "a folder whose files are all hidden is not listed")

	var paged []string
	after := ""
	for {
		var got []string
		for info, err := range st.List(t.Context(), &storage.ListOptions{StartAfter: after, Delimiter: "/"}) {
			require.NoError(t, err)
			got = append(got, info.Key)
			break
		}
		if len(got) == 0 {
			break
		}
		paged = append(paged, got[0])
		after = got[0]
		require.Less(t, len(paged), 100, "paging does not end")
	}
	require.Equal(t, conformance.FoldKeys(all, "", ""), paged)
}

func TestPastFolder(t *testing.T) {
	for _, c := range []struct{ start, prefix, last, want string }{
		{"a/b", "", "a/b", "a0"}, // StartAfter under a folder
		{"a/", "", "a/", "a0"},   // StartAfter a folder
		{"a/b", "", "a/", "a0"},  // B2 resumes inside the folder last yielded
		{"a/b", "", "a", "a/b"},  // a folder not yet yielded
		{"a/b/c", "a/", "a/b/", "a/b0"},
		{"a/b", "a/", "", "a/b"}, // no folder below the prefix
		{"b", "a/", "b", "b"},    // outside the prefix
		{"a/b/\xff", "", "a/b/\xff", "a0"},
	} {
		require.Equal(t, c.want, pastFolder(c.start, c.prefix, c.last), "pastFolder(%q, %q, %q)", c.start, c.prefix, c.last)
	}
}

// BenchmarkListDelimiter lists one level of a bucket of 100 folders of
// 1000 files on the emulator: with the delimiter sent to B2, as the Store
// does, and folded by package driver from plain listings, as it did
// before (the same driver behind a Provider without
// driver.Options.Delimiter). calls/op and entries/op are the
// b2_list_file_names calls and the entries B2 returned (what it bills).
func BenchmarkListDelimiter(b *testing.B) {
	const dirs, files = 100, 1000
	srv := b2test.NewServer(b, nil)
	e := newEnv(b, srv)
	st := e.open(b, func(c *Config) { c.Concurrency = 16 })
	keys := make(chan string)
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			var err error
			for k := range keys {
				if err == nil {
					_, err = st.Put(b.Context(), k, strings.NewReader("x"), nil)
				}
			}
			errs <- err
		}()
	}
	for d := range dirs {
		for f := range files {
			keys <- fmt.Sprintf("d%03d/f%04d", d, f)
		}
	}
	close(keys)
	for range 16 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		p    storage.Provider
	}{
		{"native", st},
		{"folded", driver.New(provider, st.c, nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv.ResetCalls()
			for b.Loop() {
				n := 0
				for _, err := range c.p.List(b.Context(), &storage.ListOptions{Delimiter: "/"}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != dirs {
					b.Fatalf("listed %d entries, want %d", n, dirs)
				}
			}
			b.ReportMetric(float64(srv.Calls("b2_list_file_names"))/float64(b.N), "calls/op")
			b.ReportMetric(float64(srv.Listed("b2_list_file_names"))/float64(b.N), "entries/op")
		})
	}
}
