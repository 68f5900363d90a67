package conformance

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// presignExpiry is the expiry of presigned URLs the suite fetches at once.
const presignExpiry = 10 * time.Minute

// closedCalls are the calls that must fail with ErrClosed after Close.
var closedCalls = []struct {
	name    string
	ability string
	call    func(c context.Context, p storage.Provider) error
}{
	{name: "Put", call: func(c context.Context, p storage.Provider) error {
		_, err := p.Put(c, "new", strings.NewReader("x"), nil)
		return err
	}},
	{name: "Get", call: func(c context.Context, p storage.Provider) error {
		rc, _, err := p.Get(c, "k", nil)
		if rc != nil {
			rc.Close()
		}
		return err
	}},
	{name: "Stat", call: func(c context.Context, p storage.Provider) error {
		_, err := p.Stat(c, "k")
		return err
	}},
	{name: "Delete", call: func(c context.Context, p storage.Provider) error { return p.Delete(c, "k") }},
	{name: "List", call: listErr},
	{name: "Copy", ability: "copy", call: func(c context.Context, p storage.Provider) error {
		_, err := p.(storage.Copier).Copy(c, "dst", "k")
		return err
	}},
	{name: "PresignGet", ability: "presign", call: func(c context.Context, p storage.Provider) error {
		_, err := p.(storage.Presigner).PresignGet(c, "k", time.Minute)
		return err
	}},
	{name: "PresignPut", ability: "presign-put", call: func(c context.Context, p storage.Provider) error {
		_, err := p.(storage.PutPresigner).PresignPut(c, "k", time.Minute, nil)
		return err
	}},
}

func (s *suite) declared(ability string) bool {
	switch ability {
	case "copy":
		return s.h.Copy
	case "presign":
		return s.h.Presign
	case "presign-put":
		return s.h.PresignPut
	}
	return true
}

func (s *suite) testClose(t *testing.T) {
	for _, tc := range closedCalls {
		t.Run("Then"+tc.name, func(t *testing.T) {
			if !s.declared(tc.ability) {
				t.Skipf("the %s ability is not declared in the Harness", tc.ability)
			}
			t.Parallel()
			p := s.provider(t)
			putString(t, p, "k", "v")
			require.NoError(t, p.Close(), "Close")
			err := tc.call(ctx(t), p)
			requireErrorIs(t, err, storage.ErrClosed, "%s after Close", tc.name)
			requireErrorIs(t, err, fs.ErrClosed, "ErrClosed must also match fs.ErrClosed")
		})
	}
	t.Run("Twice", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		require.NoError(t, p.Close(), "Close")
		if err := p.Close(); err != nil {
			requireErrorIs(t, err, storage.ErrClosed, "a second Close may only fail with ErrClosed")
		}
	})
}

// client is the HTTP client of presigned requests.
func (s *suite) client() *http.Client {
	if s.h.PresignClient != nil {
		return s.h.PresignClient
	}
	return http.DefaultClient
}

// fetch GETs u with the harness's client and returns the status and body.
func (s *suite) fetch(t *testing.T, u string, header ...string) (int, []byte) {
	t.Helper()
	status, _, body := s.fetchHeader(t, u, header...)
	return status, body
}

// fetchHeader is fetch that also returns the response header.
func (s *suite) fetchHeader(t *testing.T, u string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	client := s.client()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, u, nil)
	require.NoError(t, err, "presigned URL %q", storage.RedactString(u))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "GET of a presigned URL")
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// send sends body with the presigned request pr through the harness's
// plain HTTP client, as a browser would: the headers pr lists, as they
// are, except Content-Length, which the client sets from the body. It
// returns the status and the response body.
func (s *suite) send(t *testing.T, pr *storage.PresignedRequest, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), pr.Method, pr.URL, bytes.NewReader(body))
	require.NoError(t, err, "presigned request to %q", storage.RedactString(pr.URL))
	for k, vs := range pr.Header {
		if http.CanonicalHeaderKey(k) != "Content-Length" {
			req.Header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	resp, err := s.client().Do(req)
	require.NoError(t, err, "%s of a presigned request", pr.Method)
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, msg
}

// testPresignPut checks storage.PutPresigner: a declared provider's
// requests upload with a plain HTTP client, and an undeclared one answers
// storage.PresignPut with ErrUnsupported.
func (s *suite) testPresignPut(t *testing.T) {
	if !s.h.PresignPut {
		t.Run("Unsupported", func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			_, err := storage.PresignPut(ctx(t), p, "k", time.Minute, nil)
			requireErrorIs(t, err, storage.ErrUnsupported, "storage.PresignPut on a provider that does not declare PresignPut")
		})
		return
	}
	presigner := func(t *testing.T) (storage.Provider, storage.PutPresigner) {
		p := s.provider(t)
		ps, ok := p.(storage.PutPresigner)
		require.True(t, ok, "Harness.PresignPut is set but %T does not implement storage.PutPresigner", p)
		return p, ps
	}
	ok := func(t *testing.T, pr *storage.PresignedRequest, body []byte) {
		t.Helper()
		status, msg := s.send(t, pr, body)
		require.True(t, status >= 200 && status < 300, "upload through a presigned request answered %d: %s", status, quote(msg))
	}
	t.Run("Upload", func(t *testing.T) {
		// Everything PresignPutOptions offers, as a browser uploading a
		// file would use it: the object reads back with its content
		// type and the SHA-256 given.
		t.Parallel()
		p, ps := presigner(t)
		data := RandomBytes(60, 70_000)
		opts := &storage.PresignPutOptions{ContentType: "application/pdf", Size: int64(len(data)), SHA256: hashOf(data)}
		pr, err := ps.PresignPut(ctx(t), "up/loaded.pdf", presignExpiry, opts)
		require.NoError(t, err)
		require.NotEmpty(t, pr.Method, "PresignedRequest.Method")
		ok(t, pr, data)
		info := requireContent(t, p, "up/loaded.pdf", data)
		require.Equal(t, "application/pdf", info.ContentType, "content type of a presigned upload")
		require.Equal(t, opts.SHA256, info.SHA256, "Info.SHA256 of a presigned upload given PresignPutOptions.SHA256")
		require.Equal(t, []string{"up/loaded.pdf"}, listKeys(t, p, nil))
	})
	t.Run("NoOptions", func(t *testing.T) {
		t.Parallel()
		p, ps := presigner(t)
		data := RandomBytes(61, 1000)
		pr, err := ps.PresignPut(ctx(t), "k", presignExpiry, nil)
		require.NoError(t, err)
		ok(t, pr, data)
		requireContent(t, p, "k", data)
	})
	t.Run("Overwrites", func(t *testing.T) {
		t.Parallel()
		p, ps := presigner(t)
		put(t, p, "k", []byte("old content"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"old": "1"}})
		// A provider that buffers writes sends them first: a write still
		// buffered would replace the upload when sent.
		require.NoError(t, storage.Flush(ctx(t), p), "Flush")
		pr, err := ps.PresignPut(ctx(t), "k", presignExpiry, nil)
		require.NoError(t, err)
		ok(t, pr, []byte("new"))
		info := requireContent(t, p, "k", []byte("new"))
		require.Empty(t, info.Metadata, "metadata of an object replaced by a presigned upload")
	})
	t.Run("BadArguments", func(t *testing.T) {
		t.Parallel()
		_, ps := presigner(t)
		for _, d := range []time.Duration{0, -time.Second} {
			_, err := ps.PresignPut(ctx(t), "k", d, nil)
			requireErrorIs(t, err, storage.ErrInvalidArgument, "PresignPut with expiry %v", d)
		}
		_, err := ps.PresignPut(ctx(t), "k", presignExpiry, &storage.PresignPutOptions{SHA256: "not a digest"})
		requireErrorIs(t, err, storage.ErrInvalidArgument, "PresignPut with a SHA256 that is not one")
		_, err = ps.PresignPut(ctx(t), "../k", presignExpiry, nil)
		requireErrorIs(t, err, storage.ErrInvalidKey, "PresignPut of an invalid key")
	})
	t.Run("Expires", func(t *testing.T) {
		// A request with a 1 s expiry stops working; polled for up to
		// 30 s, as for PresignGet.
		t.Parallel()
		_, ps := presigner(t)
		pr, err := ps.PresignPut(ctx(t), "k", time.Second, nil)
		require.NoError(t, err)
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, _ := s.send(t, pr, []byte("v"))
			if status < 200 || status >= 300 {
				require.True(t, status == http.StatusForbidden || status == http.StatusUnauthorized || status == http.StatusBadRequest,
					"an expired presigned upload answered %d", status)
				return
			}
			require.True(t, time.Now().Before(deadline), "a presigned upload with a 1 s expiry still works after 30 s")
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx(t).Done():
				t.Fatal(ctx(t).Err())
			}
		}
	})
}

func (s *suite) testPresign(t *testing.T) {
	// PresignPut is an ability of its own, checked here so that its
	// subtests are Presign/Put/....
	t.Run("Put", func(t *testing.T) {
		t.Parallel()
		s.testPresignPut(t)
	})
	if !s.h.Presign {
		t.Run("Unsupported", func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			ps, ok := p.(storage.Presigner)
			if !ok {
				t.Skip("Presign is not declared and the provider does not implement storage.Presigner")
			}
			putString(t, p, "k", "v")
			_, err := ps.PresignGet(ctx(t), "k", time.Minute)
			requireErrorIs(t, err, storage.ErrUnsupported, "PresignGet of a provider that does not declare Presign")
		})
		return
	}
	presigner := func(t *testing.T) (storage.Provider, storage.Presigner) {
		p := s.provider(t)
		ps, ok := p.(storage.Presigner)
		require.True(t, ok, "Harness.Presign is set but %T does not implement storage.Presigner", p)
		return p, ps
	}
	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		p, ps := presigner(t)
		data := RandomBytes(40, 100_000)
		put(t, p, "media/clip.bin", data, &storage.PutOptions{ContentType: "video/mp4"})
		u, err := ps.PresignGet(ctx(t), "media/clip.bin", presignExpiry)
		require.NoError(t, err)
		status, hdr, body := s.fetchHeader(t, u)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, data, body, "body of the presigned GET")
		require.Equal(t, "video/mp4", hdr.Get("Content-Type"), "Content-Type of the presigned GET: browsers rely on it")
	})
	t.Run("Range", func(t *testing.T) {
		// Browsers and media players fetch presigned URLs by range.
		t.Parallel()
		p, ps := presigner(t)
		putString(t, p, "k", "0123456789")
		u, err := ps.PresignGet(ctx(t), "k", presignExpiry)
		require.NoError(t, err)
		status, body := s.fetch(t, u, "Range", "bytes=2-5")
		require.Equal(t, http.StatusPartialContent, status)
		require.Equal(t, "2345", string(body))
	})
	t.Run("Missing", func(t *testing.T) {
		// Either PresignGet says ErrNotFound, or the URL answers 404.
		t.Parallel()
		_, ps := presigner(t)
		u, err := ps.PresignGet(ctx(t), "missing", presignExpiry)
		if err != nil {
			requireErrorIs(t, err, storage.ErrNotFound, "PresignGet of a missing key")
			return
		}
		status, _ := s.fetch(t, u)
		require.Equal(t, http.StatusNotFound, status, "GET of a presigned URL of a missing key")
	})
	t.Run("AfterDelete", func(t *testing.T) {
		t.Parallel()
		p, ps := presigner(t)
		putString(t, p, "k", "v")
		u, err := ps.PresignGet(ctx(t), "k", presignExpiry)
		require.NoError(t, err)
		require.NoError(t, p.Delete(ctx(t), "k"))
		status, _ := s.fetch(t, u)
		require.Equal(t, http.StatusNotFound, status, "GET of a presigned URL after Delete")
	})
	t.Run("BadExpiry", func(t *testing.T) {
		t.Parallel()
		p, ps := presigner(t)
		putString(t, p, "k", "v")
		for _, d := range []time.Duration{0, -time.Second} {
			_, err := ps.PresignGet(ctx(t), "k", d)
			requireErrorIs(t, err, storage.ErrInvalidArgument, "PresignGet with expiry %v", d)
		}
	})
	t.Run("Expires", func(t *testing.T) {
		// A URL with a 1 s expiry stops working. The suite polls for up to
		// 30 s (the server's clock and the signature's whole seconds make
		// the exact moment vary).
		t.Parallel()
		p, ps := presigner(t)
		putString(t, p, "k", "v")
		u, err := ps.PresignGet(ctx(t), "k", time.Second)
		require.NoError(t, err)
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, _ := s.fetch(t, u)
			if status != http.StatusOK {
				require.True(t, status == http.StatusForbidden || status == http.StatusUnauthorized || status == http.StatusBadRequest,
					"an expired presigned URL answered %d", status)
				return
			}
			require.True(t, time.Now().Before(deadline), "a presigned URL with a 1 s expiry still works after 30 s")
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx(t).Done():
				t.Fatal(ctx(t).Err())
			}
		}
	})
}

func (s *suite) testCopy(t *testing.T) {
	if !s.h.Copy {
		t.Run("Unsupported", func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			cp, ok := p.(storage.Copier)
			if !ok {
				t.Skip("Copy is not declared and the provider does not implement storage.Copier")
			}
			putString(t, p, "src", "v")
			_, err := cp.Copy(ctx(t), "dst", "src")
			requireErrorIs(t, err, storage.ErrUnsupported, "Copy of a provider that does not declare Copy")
			requireMissing(t, p, "dst")
		})
		return
	}
	copier := func(t *testing.T) (storage.Provider, storage.Copier) {
		p := s.provider(t)
		cp, ok := p.(storage.Copier)
		require.True(t, ok, "Harness.Copy is set but %T does not implement storage.Copier", p)
		return p, cp
	}
	t.Run("KeepsContentAndMetadata", func(t *testing.T) {
		t.Parallel()
		p, cp := copier(t)
		data := RandomBytes(50, 70_000)
		md := map[string]string{"owner": "bob", "n": "1"}
		put(t, p, "src/a", data, &storage.PutOptions{ContentType: "image/jpeg", Metadata: md})
		info, err := cp.Copy(ctx(t), "dst/b", "src/a")
		require.NoError(t, err)
		require.Equal(t, "dst/b", info.Key, "Info.Key from Copy")
		require.Equal(t, int64(len(data)), info.Size, "Info.Size from Copy")
		got := requireContent(t, p, "dst/b", data)
		require.Equal(t, "image/jpeg", got.ContentType)
		require.Equal(t, md, got.Metadata)
		src := requireContent(t, p, "src/a", data)
		require.Equal(t, md, src.Metadata, "the source after Copy")
		require.Equal(t, []string{"dst/b", "src/a"}, listKeys(t, p, nil))
	})
	t.Run("OverwritesDestination", func(t *testing.T) {
		t.Parallel()
		p, cp := copier(t)
		put(t, p, "src", []byte("new"), nil)
		put(t, p, "dst", []byte("old content"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"old": "1"}})
		_, err := cp.Copy(ctx(t), "dst", "src")
		require.NoError(t, err)
		got := requireContent(t, p, "dst", []byte("new"))
		require.Empty(t, got.Metadata, "metadata of the overwritten destination")
		requireNoContentType(t, got.ContentType, "content type of the overwritten destination")
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		p, cp := copier(t)
		put(t, p, "src", nil, nil)
		_, err := cp.Copy(ctx(t), "dst", "src")
		require.NoError(t, err)
		requireContent(t, p, "dst", []byte{})
	})
	t.Run("MissingSource", func(t *testing.T) {
		t.Parallel()
		p, cp := copier(t)
		_, err := cp.Copy(ctx(t), "dst", "missing")
		requireErrorIs(t, err, storage.ErrNotFound, "Copy from a missing key")
		requireErrorIs(t, err, fs.ErrNotExist, "ErrNotFound must also match fs.ErrNotExist")
		requireMissing(t, p, "dst")
	})
	t.Run("Independent", func(t *testing.T) {
		// The copy is an object of its own: deleting or overwriting the
		// source leaves it as it was.
		t.Parallel()
		p, cp := copier(t)
		putString(t, p, "src", "original")
		_, err := cp.Copy(ctx(t), "dst", "src")
		require.NoError(t, err)
		putString(t, p, "src", "changed")
		requireContent(t, p, "dst", []byte("original"))
		require.NoError(t, p.Delete(ctx(t), "src"))
		requireContent(t, p, "dst", []byte("original"))
	})
	t.Run("Large", func(t *testing.T) {
		if s.h.SkipLarge {
			t.Skip("Harness.SkipLarge is set")
		}
		t.Parallel()
		p, cp := copier(t)
		const size = 6<<20 + 5
		_, err := p.Put(ctx(t), "src", RandomReader(51, size), nil)
		require.NoError(t, err)
		_, err = cp.Copy(ctx(t), "dst", "src")
		require.NoError(t, err)
		rc, _, err := p.Get(ctx(t), "dst", nil)
		require.NoError(t, err)
		require.Equal(t, RandomSHA256(51, size), hashOf(readAll(t, rc)))
	})
}

// testFlush checks storage.Flusher, which a provider that buffers writes
// implements. It needs no declaration: a provider has it or not.
func (s *suite) testFlush(t *testing.T) {
	flusher := func(t *testing.T) (storage.Provider, storage.Flusher) {
		p := s.provider(t)
		f, ok := p.(storage.Flusher)
		if !ok {
			t.Skipf("%T does not implement storage.Flusher", p)
		}
		return p, f
	}
	t.Run("Idle", func(t *testing.T) {
		t.Parallel()
		_, f := flusher(t)
		require.NoError(t, f.Flush(ctx(t)), "Flush with nothing written")
	})
	t.Run("AfterWrites", func(t *testing.T) {
		t.Parallel()
		p, f := flusher(t)
		keys := []string{"f/1", "f/2", "f/3", "f/4"}
		writeBounded(t, p, keys)
		require.NoError(t, p.Delete(ctx(t), "f/4"))
		require.NoError(t, f.Flush(ctx(t)), "Flush after writes")
		for _, k := range keys[:3] {
			requireContent(t, p, k, []byte(k))
		}
		requireMissing(t, p, "f/4")
		require.Equal(t, keys[:3], listKeys(t, p, nil))
	})
	t.Run("ThenClose", func(t *testing.T) {
		t.Parallel()
		p, f := flusher(t)
		require.NoError(t, p.Close())
		err := f.Flush(ctx(t))
		requireErrorIs(t, err, storage.ErrClosed, "Flush after Close")
	})
}
