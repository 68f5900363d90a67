// Package conformance is the test suite every strata storage provider runs
// to show that it keeps the contract of package storage.
//
// A provider's own test calls [Run] with a [Harness] that makes a fresh,
// empty provider for each subtest and declares the optional abilities the
// provider offers:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			New: func(t *testing.T) storage.Provider {
//				p, err := mystore.New(t.TempDir())
//				if err != nil {
//					t.Fatal(err)
//				}
//				return p
//			},
//			Copy: true, // mystore implements storage.Copier
//		})
//	}
//
// Run starts one named subtest per line of the contract, grouped as
// Keys/..., RoundTrip/..., Metadata/..., HTTPAttributes/..., Large/..., Range/..., Overwrite/...,
// IfNotExists/..., Put/..., Missing/..., Delete/..., List/..., Context/...,
// Concurrency/..., Close/..., Presign/..., Copy/..., Flush/... and
// ErrorText/.... Tables (bad keys, odd but valid keys, bad metadata,
// ranges) give one subtest per row, so
// `go test -run 'Conformance/Keys/Invalid/dotdot'` runs one case. Subtests
// are independent: each gets its own provider from Harness.New, most run in
// parallel with t.Parallel, and after each one the suite checks that
// Harness.Leftovers reports nothing and closes the provider.
//
// # What the suite requires
//
// Beyond the documentation of [storage.Provider] and [storage.Info], the
// suite pins down these choices so that all providers agree:
//
//   - Every error is matched with errors.Is against the sentinels of package
//     storage; a missing key also matches io/fs.ErrNotExist and an existing
//     one (IfNotExists) io/fs.ErrExist.
//   - Get of a missing key fails at the call with a nil reader.
//   - Info from Get and Stat carries Key, Size, ModTime (within an hour of
//     the test machine's clock), an ETag or a SHA256, and the ContentType,
//     Metadata and HTTP attributes (CacheControl, ContentDisposition,
//     ContentEncoding, ContentLanguage) given to Put. An ETag, wherever it
//     is given (Put, Get, Stat, List, Copy), is quoted: `"..."` or `W/"..."`. With no content type given, ContentType is "" or
//     a generic "application/octet-stream" / "binary/octet-stream" (what S3
//     servers fill in). SHA256, when not empty, is the real hash.
//   - Info yielded by List needs only Key, Size and ModTime (S3 listings
//     carry no content type or metadata); a SHA256 there, when not empty, is
//     the real hash.
//   - A Put whose reader fails returns an error that wraps the reader's
//     error and stores nothing; an object already under the key is left as
//     it was.
//   - A cancelled context fails every method with an error matching
//     context.Canceled, and a Put whose context is cancelled while it reads
//     stores nothing, even when the reader then reports io.EOF. A read from
//     a Get body after its context is cancelled fails with context.Canceled.
//   - The loop body of a List may call Put and Delete on the same provider,
//     and the sequence List returns may be ranged over more than once.
//   - After Close, every method fails with storage.ErrClosed. Close may be
//     called again (the suite closes every provider it is given).
//   - Every error message is one line of printable text (strconv.IsPrint),
//     whatever the key holds, so that a key from a user cannot forge log
//     lines or send escape sequences to a terminal; an error about a key
//     names it as a Go string literal (strconv.Quote, as %q writes it) and
//     never raw. storage.Error writes its messages this way; a provider
//     that builds a message of its own quotes keys with %q.
//
// # Abilities
//
// A provider declares each optional ability it offers in the Harness. A
// declared ability must be implemented and work; an ability that is not
// declared but whose interface the provider implements (a wrapper that
// offers it only when what it wraps does) must fail with
// storage.ErrUnsupported. Subtests of abilities a provider neither declares
// nor implements are skipped with a message, never silently.
//
// storage.Flusher needs no declaration: when the provider implements it,
// Flush must succeed with nothing pending and after writes, and fail with
// storage.ErrClosed after Close.
package conformance

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// DefaultManyKeys is the number of keys the List/ManyKeys subtest writes
// when Harness.ManyKeys is zero: more than the 1000 keys of one S3 listing
// page.
const DefaultManyKeys = 1100

// Harness describes the provider under test. Only New is required.
type Harness struct {
	// New returns a fresh, empty provider. It is called once per subtest,
	// with the subtest's t; it should fail t rather than return nil, and
	// register any cleanup of its own (removing a bucket or a directory)
	// with t.Cleanup. The suite closes the provider after the subtest, so
	// New's cleanup must accept a provider that is already closed.
	// Subtests run in parallel, so New must be safe for concurrent use.
	New func(t *testing.T) storage.Provider

	// Presign declares that the provider implements storage.Presigner and
	// that its URLs work with a plain HTTP GET. When false, a provider that
	// implements storage.Presigner must answer storage.ErrUnsupported.
	Presign bool

	// PresignPut declares that the provider implements
	// storage.PutPresigner and that its requests upload with a plain HTTP
	// client. When false, storage.PresignPut on the provider must answer
	// storage.ErrUnsupported.
	PresignPut bool

	// PresignClient is the HTTP client the suite fetches presigned URLs
	// (and sends presigned uploads) with. Nil means http.DefaultClient.
	PresignClient *http.Client

	// Copy declares that the provider implements storage.Copier. When
	// false, a provider that implements storage.Copier must answer
	// storage.ErrUnsupported.
	Copy bool

	// PrefixConflicts declares that the store cannot hold an object under
	// key "a" and one under "a/b" at the same time, as MinIO and any store
	// laid out as a directory tree cannot. The suite then requires that the
	// second Put fails with an error matching storage.ErrExist and leaves
	// the first object as it was, instead of requiring that both are
	// stored. AWS S3, B2 and memory keep it false.
	PrefixConflicts bool

	// Leftovers, when not nil, returns the names of anything the provider
	// left behind that is not an object: temporary files, incomplete
	// multipart uploads, lock files. It is called with the subtest's t (the
	// one New got) after the subtest's body, before the provider is closed,
	// and must return nothing.
	Leftovers func(t *testing.T) []string

	// ManyKeys is the number of keys written to test paging in List. Zero
	// means DefaultManyKeys. Set it above the provider's page size.
	ManyKeys int

	// SkipLarge skips the subtests that write objects of several MiB (one
	// of them over 16 MiB). Use it only for a quick local run against a
	// slow remote; a provider's own CI must not set it.
	SkipLarge bool
}

// Run runs the whole conformance suite against the provider h describes,
// as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conformance: Harness.New is nil")
	}
	if h.ManyKeys <= 0 {
		h.ManyKeys = DefaultManyKeys
	}
	s := &suite{h: h}
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Keys", s.testKeys},
		{"RoundTrip", s.testRoundTrip},
		{"Metadata", s.testMetadata},
		{"HTTPAttributes", s.testHTTPAttributes},
		{"Large", s.testLarge},
		{"Range", s.testRange},
		{"Overwrite", s.testOverwrite},
		{"IfNotExists", s.testIfNotExists},
		{"Put", s.testPut},
		{"Missing", s.testMissing},
		{"Delete", s.testDelete},
		{"List", s.testList},
		{"Context", s.testContext},
		{"Concurrency", s.testConcurrency},
		{"Close", s.testClose},
		{"Presign", s.testPresign},
		{"Copy", s.testCopy},
		{"Flush", s.testFlush},
		{"ErrorText", s.testErrorText},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t)
		})
	}
}

type suite struct {
	h Harness
}

// provider returns a fresh provider for the subtest t and arranges for the
// leftover check and Close after the subtest.
func (s *suite) provider(t *testing.T) storage.Provider {
	t.Helper()
	p := s.h.New(t)
	require.NotNil(t, p, "Harness.New returned nil")
	t.Cleanup(func() {
		if s.h.Leftovers != nil {
			if left := s.h.Leftovers(t); len(left) > 0 {
				t.Errorf("provider left behind %d item(s) after the subtest: %q", len(left), left)
			}
		}
		if err := p.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// ctx returns the context for the calls of a subtest: it ends when the
// subtest does.
func ctx(t *testing.T) context.Context { return t.Context() }
