package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// The suite is only worth something if it fails for a provider that breaks
// the contract. Each mutant below is the memory provider with one rule
// broken; TestSuiteCatchesMutants runs the suite against it in a child
// process and checks that the subtests for that rule fail.

// mutant wraps a memory.Store and breaks one rule through its hooks.
type mutant struct {
	*memory.Store
	put   func(m *mutant, ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error)
	get   func(m *mutant, ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error)
	stat  func(m *mutant, ctx context.Context, key string) (storage.Info, error)
	del   func(m *mutant, ctx context.Context, key string) error
	list  func(m *mutant, ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error]
	close func(m *mutant) error
}

func (m *mutant) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	if m.put != nil {
		return m.put(m, ctx, key, r, opts)
	}
	return m.Store.Put(ctx, key, r, opts)
}

func (m *mutant) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	if m.get != nil {
		return m.get(m, ctx, key, opts)
	}
	return m.Store.Get(ctx, key, opts)
}

func (m *mutant) Stat(ctx context.Context, key string) (storage.Info, error) {
	if m.stat != nil {
		return m.stat(m, ctx, key)
	}
	return m.Store.Stat(ctx, key)
}

func (m *mutant) Delete(ctx context.Context, key string) error {
	if m.del != nil {
		return m.del(m, ctx, key)
	}
	return m.Store.Delete(ctx, key)
}

func (m *mutant) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	if m.list != nil {
		return m.list(m, ctx, opts)
	}
	return m.Store.List(ctx, opts)
}

func (m *mutant) Close() error {
	if m.close != nil {
		return m.close(m)
	}
	return m.Store.Close()
}

type mutantCase struct {
	// run is the -test.run pattern below TestMutant/; mustFail are
	// subtests (below TestMutant/) that must be reported failing.
	run      string
	mustFail []string
	harness  func(h *conformance.Harness)
	m        mutant
}

var mutants = map[string]mutantCase{
	"stat-invalid-key-not-found": {
		run:      "Keys/Invalid",
		mustFail: []string{"Keys/Invalid/dotdot", "Keys/Invalid/empty"},
		m: mutant{stat: func(m *mutant, ctx context.Context, key string) (storage.Info, error) {
			if storage.ValidKey(key) != nil {
				return storage.Info{}, storage.ErrNotFound
			}
			return m.Store.Stat(ctx, key)
		}},
	},
	"list-reverse-order": {
		run:      "List/Order",
		mustFail: []string{"List/Order"},
		m: mutant{list: func(m *mutant, ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
			var infos []storage.Info
			for info, err := range m.Store.List(ctx, opts) {
				if err == nil {
					infos = append(infos, info)
				}
			}
			slices.Reverse(infos)
			return func(yield func(storage.Info, error) bool) {
				for _, info := range infos {
					if !yield(info, nil) {
						return
					}
				}
			}
		}},
	},
	"list-ignores-start-after": {
		run:      "List/StartAfter",
		mustFail: []string{"List/StartAfter/Key", "List/StartAfter/NotAKey"},
		m: mutant{list: func(m *mutant, ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
			o := storage.ListOptions{}
			if opts != nil {
				o.Prefix = opts.Prefix
			}
			return m.Store.List(ctx, &o)
		}},
	},
	"list-keeps-yielding": {
		run:      "List/BreakEarly",
		mustFail: []string{"List/BreakEarly"},
		m: mutant{list: func(m *mutant, ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
			return func(yield func(storage.Info, error) bool) {
				for info, err := range m.Store.List(ctx, opts) {
					yield(info, err) // ignores false
				}
			}
		}},
	},
	"failed-reader-stores-partial": {
		run:      "Put/ReaderFails$",
		mustFail: []string{"Put/ReaderFails"},
		m: mutant{put: func(m *mutant, ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
			b, err := io.ReadAll(r)
			if _, perr := m.Store.Put(ctx, key, bytes.NewReader(b), opts); perr != nil {
				return storage.Info{}, perr
			}
			return storage.Info{}, err
		}},
	},
	"ignores-context": {
		run:      "Context/Cancelled",
		mustFail: []string{"Context/Cancelled/Put", "Context/Cancelled/Stat", "Context/Cancelled/List"},
		m: mutant{
			put: func(m *mutant, _ context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
				return m.Store.Put(context.Background(), key, r, opts)
			},
			stat: func(m *mutant, _ context.Context, key string) (storage.Info, error) {
				return m.Store.Stat(context.Background(), key)
			},
			list: func(m *mutant, _ context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
				return m.Store.List(context.Background(), opts)
			},
		},
	},
	"commits-after-cancel": {
		run:      "Context/CancelDuringPut/ReaderEOF",
		mustFail: []string{"Context/CancelDuringPut/ReaderEOF"},
		m: mutant{put: func(m *mutant, ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
			b, err := io.ReadAll(r)
			if err != nil {
				return storage.Info{}, err
			}
			return m.Store.Put(context.Background(), key, bytes.NewReader(b), opts)
		}},
	},
	"racy-if-not-exists": {
		run:      "IfNotExists/Race",
		mustFail: []string{"IfNotExists/Race"},
		m: mutant{put: func(m *mutant, ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
			if opts != nil && opts.IfNotExists {
				if _, err := m.Store.Stat(ctx, key); err == nil {
					return storage.Info{}, storage.ErrExist
				}
				runtime.Gosched()
				o := *opts
				o.IfNotExists = false
				b, _ := io.ReadAll(r)
				runtime.Gosched()
				return m.Store.Put(ctx, key, bytes.NewReader(b), &o)
			}
			return m.Store.Put(ctx, key, r, opts)
		}},
	},
	"drops-http-attributes": {
		run:      "HTTPAttributes/RoundTrip",
		mustFail: []string{"HTTPAttributes/RoundTrip"},
		m: mutant{put: func(m *mutant, ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
			if opts != nil {
				o := *opts
				o.ContentDisposition = ""
				opts = &o
			}
			return m.Store.Put(ctx, key, r, opts)
		}},
	},
	"bare-etag": {
		run:      "HTTPAttributes/ETagQuoted",
		mustFail: []string{"HTTPAttributes/ETagQuoted"},
		m: mutant{stat: func(m *mutant, ctx context.Context, key string) (storage.Info, error) {
			info, err := m.Store.Stat(ctx, key)
			info.ETag = strings.Trim(info.ETag, `"`)
			return info, err
		}},
	},
	"delete-missing-fails": {
		run:      "Delete/Missing",
		mustFail: []string{"Delete/Missing"},
		m: mutant{del: func(m *mutant, ctx context.Context, key string) error {
			if _, err := m.Store.Stat(ctx, key); err != nil {
				return err
			}
			return m.Store.Delete(ctx, key)
		}},
	},
	"lazy-not-found": {
		run:      "Missing/Get",
		mustFail: []string{"Missing/Get"},
		m: mutant{get: func(m *mutant, ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
			rc, info, err := m.Store.Get(ctx, key, opts)
			if errors.Is(err, storage.ErrNotFound) {
				return io.NopCloser(iotestErrReader{err}), storage.Info{Key: key}, nil
			}
			return rc, info, err
		}},
	},
	"drops-metadata": {
		run:      "RoundTrip/ContentTypeAndMetadata",
		mustFail: []string{"RoundTrip/ContentTypeAndMetadata"},
		m: mutant{stat: func(m *mutant, ctx context.Context, key string) (storage.Info, error) {
			info, err := m.Store.Stat(ctx, key)
			info.Metadata = nil
			return info, err
		}},
	},
	"range-off-by-one": {
		run:      "Range",
		mustFail: []string{"Range/Middle", "Range/End"},
		m: mutant{get: func(m *mutant, ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
			if opts != nil && opts.Range != nil && opts.Range.Offset > 0 {
				r := *opts.Range
				r.Offset--
				opts = &storage.GetOptions{Range: &r}
			}
			return m.Store.Get(ctx, key, opts)
		}},
	},
	"close-does-nothing": {
		run:      "Close",
		mustFail: []string{"Close/ThenGet", "Close/ThenPut"},
		m:        mutant{close: func(m *mutant) error { return nil }},
	},
	"ignores-size": {
		run:      "Put/SizeMismatch",
		mustFail: []string{"Put/SizeMismatch/Short", "Put/SizeMismatch/Long"},
		m: mutant{put: func(m *mutant, ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
			if opts != nil {
				o := *opts
				o.Size = 0
				opts = &o
			}
			return m.Store.Put(ctx, key, r, opts)
		}},
	},
	"wrong-sha256": {
		run:      "RoundTrip/SHA256",
		mustFail: []string{"RoundTrip/SHA256"},
		m: mutant{stat: func(m *mutant, ctx context.Context, key string) (storage.Info, error) {
			info, err := m.Store.Stat(ctx, key)
			if info.SHA256 != "" {
				info.SHA256 = strings.Repeat("0", 64)
			}
			return info, err
		}},
	},
	"leaves-temp-files": {
		run:      "RoundTrip/Bytes",
		mustFail: []string{"RoundTrip/Bytes"},
		harness: func(h *conformance.Harness) {
			h.Leftovers = func(t *testing.T) []string { return []string{".tmp-upload-1"} }
		},
	},
	"prefix-conflicts-accepted": {
		run:      "Keys/ObjectAndPrefix",
		mustFail: []string{"Keys/ObjectAndPrefix"},
		harness:  func(h *conformance.Harness) { h.PrefixConflicts = true },
	},
	"raw-key-in-error": {
		run:      "ErrorText",
		mustFail: []string{"ErrorText/InvalidKey/newline", "ErrorText/InvalidKey/ansi-colour", "ErrorText/ValidKey/printable-unicode"},
		m: mutant{stat: func(m *mutant, ctx context.Context, key string) (storage.Info, error) {
			info, err := m.Store.Stat(ctx, key)
			if err != nil {
				err = fmt.Errorf("stat %s: %w", key, err)
			}
			return info, err
		}},
	},
	"undeclared-copy": {
		run:      "Copy",
		mustFail: []string{"Copy/Unsupported"},
		harness:  func(h *conformance.Harness) { h.Copy = false },
	},
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

const mutantEnv = "STRATA_CONFORMANCE_MUTANT"

// TestMutant runs the suite against the mutant named by the environment
// variable; it does nothing in a normal run.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("runs only as a child of TestSuiteCatchesMutants")
	}
	mc, ok := mutants[name]
	require.True(t, ok, "unknown mutant %q", name)
	h := conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			m := mc.m // copy the hooks; each subtest gets its own store
			m.Store = memory.New()
			return &m
		},
		Copy: true,
	}
	if mc.harness != nil {
		mc.harness(&h)
	}
	conformance.Run(t, h)
}

func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("in a child process")
	}
	if testing.Short() {
		t.Skip("runs a child test process per mutant")
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range mutants {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		mc := mutants[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestMutant$/"+runPattern(mc.run), "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a provider that breaks a rule (%s):\n%s", name, tail(out))
			for _, sub := range mc.mustFail {
				re := regexp.MustCompile(`--- FAIL: TestMutant/` + regexp.QuoteMeta(sub) + ` `)
				panicked := bytes.Contains(out, []byte("panic:")) && bytes.Contains(out, []byte("TestMutant/"+sub))
				require.True(t, re.Match(out) || panicked, "subtest %s did not fail for mutant %s:\n%s", sub, name, tail(out))
			}
		})
	}
}

// runPattern turns "A/B" into the -test.run form "^A$/^B" (a prefix match
// at the last level).
func runPattern(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasSuffix(s, "$") {
			parts[i] = "^" + s
		} else if i < len(parts)-1 {
			parts[i] = "^" + s + "$"
		} else {
			parts[i] = "^" + s
		}
	}
	return strings.Join(parts, "/")
}

func tail(b []byte) string {
	const max = 6000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
