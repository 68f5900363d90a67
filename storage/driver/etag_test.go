package driver_test

import (
	"context"
	"io"
	"iter"
	"strings"
	"testing"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

func TestQuoteETag(t *testing.T) {
	for in, want := range map[string]string{
		"":        "",
		"abc":     `"abc"`,
		`"abc"`:   `"abc"`,
		`W/"abc"`: `W/"abc"`,
		`"`:       `"""`,
		"abc-12f": `"abc-12f"`,
		`a"b`:     `"a"b"`,
		`"abc`:    `""abc"`,
	} {
		if got := driver.QuoteETag(in); got != want {
			t.Errorf("QuoteETag(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBareETagIsQuoted checks that the ETag a driver gives bare comes out
// of Put, Get, Stat and List quoted, and a quoted or weak one as it is.
func TestBareETagIsQuoted(t *testing.T) {
	ctx := context.Background()
	for etag, want := range map[string]string{"v1": `"v1"`, `"v1"`: `"v1"`, `W/"v1"`: `W/"v1"`} {
		s := &stub{body: []byte("x"), info: storage.Info{Size: 1, ETag: etag}, keys: []string{"a"}}
		p := driver.New("stub", &etagStub{stub: s}, nil)
		info, err := p.Put(ctx, "a", strings.NewReader("x"), nil)
		if err != nil || info.ETag != want {
			t.Errorf("Put: ETag %q, %v; want %q", info.ETag, err, want)
		}
		rc, info, err := p.Get(ctx, "a", nil)
		if err != nil || info.ETag != want {
			t.Errorf("Get: ETag %q, %v; want %q", info.ETag, err, want)
		}
		if rc != nil {
			_, _ = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if info, err := p.Stat(ctx, "a"); err != nil || info.ETag != want {
			t.Errorf("Stat: ETag %q, %v; want %q", info.ETag, err, want)
		}
		for info, err := range p.List(ctx, nil) {
			if err != nil || info.ETag != want {
				t.Errorf("List: ETag %q, %v; want %q", info.ETag, err, want)
			}
		}
	}
}

// etagStub is a stub whose Put and List give its Info's ETag too.
type etagStub struct{ *stub }

func (s *etagStub) Put(ctx context.Context, key string, b *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	info, err := s.stub.Put(ctx, key, b, opts)
	info.ETag = s.info.ETag
	return info, err
}

func (s *etagStub) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		for _, k := range s.keys {
			if !yield(storage.Info{Key: k, Size: 1, ETag: s.info.ETag}, nil) {
				return
			}
		}
	}
}
