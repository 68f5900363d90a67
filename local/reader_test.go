package local_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/testfd"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// readerSize is the size of the object the reader tests read: more than
// one 8 MiB chunk of WriteTo, so that the chunk loop is exercised.
const readerSize = 9<<20 + 12345

// readerStore returns a store holding the object "big" (readerSize random
// bytes, or size if given) and those bytes.
func readerStore(t testing.TB, size ...int) (*local.Store, []byte) {
	t.Helper()
	s, err := local.New(t.TempDir(), &local.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	n := readerSize
	if len(size) > 0 {
		n = size[0]
	}
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{7, 8}).Read(data)
	_, err = s.Put(context.Background(), "big", bytes.NewReader(data), nil)
	require.NoError(t, err)
	return s, data
}

// seekReader is what the reader of Get offers beyond io.ReadCloser.
type seekReader interface {
	io.ReadSeekCloser
	io.ReaderAt
	io.WriterTo
}

func getSeekable(t *testing.T, s *local.Store, ctx context.Context, rng *storage.Range) seekReader {
	t.Helper()
	rc, _, err := s.Get(ctx, "big", &storage.GetOptions{Range: rng})
	require.NoError(t, err)
	t.Cleanup(func() { rc.Close() })
	r, ok := rc.(seekReader)
	require.True(t, ok, "the reader of Get is an io.ReadSeekCloser, io.ReaderAt and io.WriterTo, got %T", rc)
	return r
}

// TestReaderInterfaces checks Read, Seek and ReadAt of the reader of Get
// against the bytes stored, for the whole object and for ranges, with
// testing/iotest.TestReader, which mixes them (byte by byte: the object is
// small).
func TestReaderInterfaces(t *testing.T) {
	const size = 20000
	s, data := readerStore(t, size)
	for _, tc := range []struct {
		name string
		rng  *storage.Range
		want []byte
		raw  bool // offers the descriptor (syscall.Conn)
	}{
		{"whole", nil, data, true},
		{"range-all", &storage.Range{Offset: 0, Length: -1}, data, true},
		{"range-middle", &storage.Range{Offset: 1000, Length: 7000}, data[1000:8000], false},
		{"range-tail", &storage.Range{Offset: size - 100, Length: -1}, data[size-100:], false},
		{"range-one", &storage.Range{Offset: 5, Length: 1}, data[5:6], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := getSeekable(t, s, t.Context(), tc.rng)
			require.NoError(t, iotest.TestReader(r, tc.want))

			_, raw := r.(syscall.Conn)
			assert.Equal(t, tc.raw, raw, "syscall.Conn only for a whole object")
		})
	}
}

// TestReaderSeekReadAt walks through the positions a caller relies on:
// Seek from each origin, ReadAt not moving the position, reads past the
// end, and bad offsets refused without moving.
func TestReaderSeekReadAt(t *testing.T) {
	s, data := readerStore(t)
	for _, tc := range []struct {
		name string
		rng  *storage.Range
		off  int
	}{
		{"whole", nil, 0},
		{"range", &storage.Range{Offset: 5000, Length: 20000}, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := getSeekable(t, s, t.Context(), tc.rng)
			want := data[tc.off:]
			size := int64(len(want))
			if tc.rng != nil {
				size = tc.rng.Length
				want = want[:size]
			}

			end, err := r.Seek(0, io.SeekEnd)
			require.NoError(t, err)
			assert.Equal(t, size, end, "Seek to the end gives the size of the object or range")

			pos, err := r.Seek(10, io.SeekStart)
			require.NoError(t, err)
			assert.EqualValues(t, 10, pos)
			buf := make([]byte, 100)
			_, err = io.ReadFull(r, buf)
			require.NoError(t, err)
			assert.Equal(t, want[10:110], buf)

			pos, err = r.Seek(-5, io.SeekCurrent)
			require.NoError(t, err)
			assert.EqualValues(t, 105, pos)

			// ReadAt does not move the position.
			n, err := r.ReadAt(buf, 500)
			require.NoError(t, err)
			assert.Equal(t, 100, n)
			assert.Equal(t, want[500:600], buf)
			_, err = io.ReadFull(r, buf[:10])
			require.NoError(t, err)
			assert.Equal(t, want[105:115], buf[:10], "Read goes on where it was")

			// ReadAt across the end returns what there is, with io.EOF.
			n, err = r.ReadAt(buf, size-30)
			assert.Equal(t, 30, n)
			assert.ErrorIs(t, err, io.EOF)
			assert.Equal(t, want[size-30:], buf[:30])
			n, err = r.ReadAt(buf, size+10)
			assert.Equal(t, 0, n)
			assert.ErrorIs(t, err, io.EOF)

			// Past the end is a position; reading there is io.EOF.
			pos, err = r.Seek(size+100, io.SeekStart)
			require.NoError(t, err)
			assert.Equal(t, size+100, pos)
			n, err = r.Read(buf)
			assert.Equal(t, 0, n)
			assert.ErrorIs(t, err, io.EOF)

			// Bad offsets are refused and leave the position alone.
			_, err = r.Seek(7, io.SeekStart)
			require.NoError(t, err)
			_, err = r.Seek(-1, io.SeekStart)
			assert.ErrorIs(t, err, storage.ErrInvalidArgument)
			_, err = r.Seek(-8, io.SeekCurrent)
			assert.ErrorIs(t, err, storage.ErrInvalidArgument)
			_, err = r.Seek(0, 42)
			assert.ErrorIs(t, err, storage.ErrInvalidArgument)
			_, err = r.ReadAt(buf, -1)
			assert.ErrorIs(t, err, storage.ErrInvalidArgument)
			pos, err = r.Seek(0, io.SeekCurrent)
			require.NoError(t, err)
			assert.EqualValues(t, 7, pos)
		})
	}
}

// plainWriter hides every method but Write, so io.Copy has to use a buffer.
type plainWriter struct{ w io.Writer }

func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }

// TestReaderWriteTo copies the rest of the object or range, from a
// position after a Seek, to each kind of destination io.Copy treats
// differently: a file (copy_file_range), a socket (sendfile), a
// bytes.Buffer (io.ReaderFrom) and a plain writer.
func TestReaderWriteTo(t *testing.T) {
	s, data := readerStore(t)
	dests := []struct {
		name string
		copy func(t *testing.T, r io.Reader) []byte
	}{
		{"file", func(t *testing.T, r io.Reader) []byte {
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			require.NoError(t, err)
			defer f.Close()
			_, err = io.Copy(f, r)
			require.NoError(t, err)
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			return got
		}},
		{"socket", func(t *testing.T, r io.Reader) []byte {
			conn, received := tcpSink(t)
			_, err := io.Copy(conn, r)
			require.NoError(t, err)
			require.NoError(t, conn.Close())
			return <-received
		}},
		{"buffer", func(t *testing.T, r io.Reader) []byte {
			var b bytes.Buffer
			_, err := io.Copy(&b, r)
			require.NoError(t, err)
			return b.Bytes()
		}},
		{"plain-writer", func(t *testing.T, r io.Reader) []byte {
			var b bytes.Buffer
			_, err := io.Copy(plainWriter{&b}, r)
			require.NoError(t, err)
			return b.Bytes()
		}},
	}
	for _, tc := range []struct {
		name string
		rng  *storage.Range
		want []byte
	}{
		{"whole", nil, data},
		{"range", &storage.Range{Offset: 3, Length: 8<<20 + 10}, data[3 : 3+8<<20+10]},
	} {
		for _, d := range dests {
			t.Run(tc.name+"/"+d.name, func(t *testing.T) {
				r := getSeekable(t, s, t.Context(), tc.rng)
				_, err := r.Seek(1234, io.SeekStart)
				require.NoError(t, err)
				got := d.copy(t, r)
				require.Equal(t, len(tc.want)-1234, len(got))
				require.True(t, bytes.Equal(tc.want[1234:], got), "the bytes from the position to the end")

				pos, err := r.Seek(0, io.SeekCurrent)
				require.NoError(t, err)
				assert.EqualValues(t, len(tc.want), pos, "WriteTo leaves the position at the end")
				n, err := r.Read(make([]byte, 10))
				assert.Equal(t, 0, n)
				assert.ErrorIs(t, err, io.EOF)

				// And back: Seek and Read still agree with the content.
				_, err = r.Seek(100, io.SeekStart)
				require.NoError(t, err)
				buf := make([]byte, 50)
				_, err = io.ReadFull(r, buf)
				require.NoError(t, err)
				assert.Equal(t, tc.want[100:150], buf)
			})
		}
	}
}

// TestReaderWriteToAgain copies a whole object to a socket (sendfile,
// from the file's offset, which WriteTo leaves unmoved when it already
// is where the copy starts), then copies again after a Seek back, after
// a Read, and after a copy through the descriptor: each copy starts at the
// reader's position.
func TestReaderWriteToAgain(t *testing.T) {
	s, data := readerStore(t)
	r := getSeekable(t, s, t.Context(), nil)
	send := func() []byte {
		conn, received := tcpSink(t)
		_, err := io.Copy(conn, r)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		return <-received
	}
	require.True(t, bytes.Equal(data, send()), "the first copy, from the start")
	_, err := r.Seek(10, io.SeekStart)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data[10:], send()), "a copy after a Seek back")
	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	_, err = io.ReadFull(r, make([]byte, 100))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data[100:], send()), "a copy after a Read")

	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	conn, received := tcpSink(t)
	_, err = conn.ReadFrom(&io.LimitedReader{R: r, N: 1000})
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.True(t, bytes.Equal(data[:1000], <-received))
	require.True(t, bytes.Equal(data[1000:], send()), "a copy after one through the descriptor")
}

// tcpSink returns the client end of a loopback TCP connection and a
// channel that yields everything the server end received once the client
// end is closed (only its length with discard: the bytes are dropped).
func tcpSink(t testing.TB, discard ...bool) (*net.TCPConn, <-chan []byte) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	received := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer c.Close()
		if len(discard) > 0 && discard[0] {
			io.Copy(io.Discard, c)
			received <- nil
			return
		}
		b, _ := io.ReadAll(c)
		received <- b
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn.(*net.TCPConn), received
}

// TestReaderDescriptor checks that a socket reading the reader through its
// descriptor (net.TCPConn.ReadFrom of an io.LimitedReader, as
// http.ServeContent's io.CopyN does) sends the right bytes and leaves the
// reader's position after them.
func TestReaderDescriptor(t *testing.T) {
	s, data := readerStore(t)
	r := getSeekable(t, s, t.Context(), nil)
	_, err := r.Seek(100, io.SeekStart)
	require.NoError(t, err)
	// A ReadAt in between must not disturb the descriptor's offset.
	_, err = r.ReadAt(make([]byte, 10), 5000)
	require.NoError(t, err)

	conn, received := tcpSink(t)
	n, err := conn.ReadFrom(&io.LimitedReader{R: r, N: 1 << 20})
	require.NoError(t, err)
	assert.EqualValues(t, 1<<20, n)
	require.NoError(t, conn.Close())
	assert.True(t, bytes.Equal(data[100:100+1<<20], <-received), "the bytes from the position, as many as asked")

	pos, err := r.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	assert.EqualValues(t, 100+1<<20, pos, "the position moved past what was sent")
	buf := make([]byte, 64)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	assert.Equal(t, data[100+1<<20:100+1<<20+64], buf, "Read goes on after it")
}

// TestReaderServeContent serves an object with http.ServeContent straight
// from the reader of Get: a whole response and range requests.
func TestReaderServeContent(t *testing.T) {
	s, data := readerStore(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rc, info, err := s.Get(req.Context(), "big", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, req, "big", info.ModTime, rc.(io.ReadSeeker))
	}))
	t.Cleanup(srv.Close)

	get := func(rangeHeader string) (int, []byte) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	code, body := get("")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, bytes.Equal(data, body), "whole object, %d bytes of %d", len(body), len(data))

	code, body = get("bytes=10-19")
	assert.Equal(t, http.StatusPartialContent, code)
	assert.Equal(t, data[10:20], body)

	code, body = get("bytes=-7")
	assert.Equal(t, http.StatusPartialContent, code)
	assert.Equal(t, data[readerSize-7:], body)

	code, body = get("bytes=0-0,100-104")
	assert.Equal(t, http.StatusPartialContent, code)
	assert.Contains(t, string(body), string(data[100:105]), "multipart/byteranges holds each range")
}

// TestReaderContext checks that every way of reading stops once the
// context of the Get ends.
func TestReaderContext(t *testing.T) {
	s, _ := readerStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	r := getSeekable(t, s, ctx, nil)
	_, err := r.Read(make([]byte, 10))
	require.NoError(t, err)
	cancel()

	_, err = r.Read(make([]byte, 10))
	assert.ErrorIs(t, err, context.Canceled, "Read")
	_, err = r.ReadAt(make([]byte, 10), 0)
	assert.ErrorIs(t, err, context.Canceled, "ReadAt")
	_, err = r.WriteTo(io.Discard)
	assert.ErrorIs(t, err, context.Canceled, "WriteTo")
	conn, _ := tcpSink(t)
	_, err = io.Copy(conn, r)
	assert.ErrorIs(t, err, context.Canceled, "io.Copy to a socket")
	_, err = conn.ReadFrom(&io.LimitedReader{R: r, N: 100})
	assert.ErrorIs(t, err, context.Canceled, "a socket reading through the descriptor")
}

// TestReaderClose checks that Close of the reader closes its file, for
// the whole object and for a range, and that using it after fails.
func TestReaderClose(t *testing.T) {
	s, _ := readerStore(t)
	for _, rng := range []*storage.Range{nil, {Offset: 10, Length: 10}} {
		before := testfd.Count(t)
		rc, _, err := s.Get(t.Context(), "big", &storage.GetOptions{Range: rng})
		require.NoError(t, err)
		assert.Equal(t, before+1, testfd.Count(t), "Get holds one open file")
		require.NoError(t, rc.Close())
		assert.Equal(t, before, testfd.Count(t), "Close closed it")

		_, err = rc.Read(make([]byte, 1))
		assert.ErrorIs(t, err, fs.ErrClosed)
		_, err = rc.(io.ReaderAt).ReadAt(make([]byte, 1), 0)
		assert.ErrorIs(t, err, fs.ErrClosed)
		_, err = rc.(io.WriterTo).WriteTo(io.Discard)
		assert.ErrorIs(t, err, fs.ErrClosed)
		assert.Error(t, rc.Close(), "a second Close")
	}
}

// BenchmarkGetToSocket copies a 64 MiB object to a loopback TCP
// connection with io.Copy: "os.File" from an *os.File (the standard
// library's own sendfile path), "local" from the reader of Get (its
// WriteTo: sendfile in 8 MiB chunks), "local-read-only" from the same
// reader with only Read visible (a copy through a buffer, as before the
// reader had WriteTo). Compare them within one run.
func BenchmarkGetToSocket(b *testing.B) {
	const size = 64 << 20
	s, err := local.New(b.TempDir(), &local.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(b.Context(), "big", io.LimitReader(neverEnding('x'), size), nil); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(s.Root(), "big")
	for _, c := range []struct {
		name string
		open func() io.ReadCloser
	}{
		{"os.File", func() io.ReadCloser {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			return f
		}},
		{"local", func() io.ReadCloser {
			rc, _, err := s.Get(b.Context(), "big", nil)
			if err != nil {
				b.Fatal(err)
			}
			return rc
		}},
		{"local-read-only", func() io.ReadCloser {
			rc, _, err := s.Get(b.Context(), "big", nil)
			if err != nil {
				b.Fatal(err)
			}
			return struct {
				io.Reader
				io.Closer
			}{rc, rc}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			conn, received := tcpSink(b, true)
			b.SetBytes(size)
			for b.Loop() {
				rc := c.open()
				n, err := io.Copy(conn, rc)
				rc.Close()
				if err != nil || n != size {
					b.Fatal(n, err)
				}
			}
			conn.Close()
			select {
			case <-received:
			case <-time.After(time.Minute):
				b.Fatal("the receiver did not finish")
			}
		})
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
