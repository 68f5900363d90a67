package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// sentPut is a PutObject a fake server received.
type sentPut struct {
	path, rawPath, query string
	header               http.Header
	body                 []byte
}

// viaSDK reports whether the SDK's PutObject sent p, rather than the fast
// path.
func (p sentPut) viaSDK() bool { return strings.Contains(p.header.Get("User-Agent"), "aws-sdk-go-v2") }

// putServer is a fake S3 that keeps every PUT it receives and answers
// with answer (200 with an ETag when answer is nil or writes nothing).
type putServer struct {
	mu     sync.Mutex
	puts   []sentPut
	answer func(w http.ResponseWriter, r *http.Request, n int) bool
}

func (s *putServer) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPut {
		errorXML(w, r, http.StatusNotImplemented, "NotImplemented")
		return
	}
	s.mu.Lock()
	s.puts = append(s.puts, sentPut{r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), body})
	n := len(s.puts)
	s.mu.Unlock()
	if s.answer != nil && s.answer(w, r, n) {
		return
	}
	w.Header().Set("ETag", `"etag-`+r.URL.Path+`"`)
}

// failing answers an S3 error (status, code) to the PUTs for which when
// (of the PUT's number, from 1) holds, and 200 to the others.
func failing(status int, code string, when func(n int) bool) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !when(n) {
			return false
		}
		errorXML(w, r, status, code)
		return true
	}
}

func (s *putServer) sent() []sentPut {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentPut(nil), s.puts...)
}

// sdkHeaders are the headers of the SDK's own bookkeeping and of the
// signature, which differ between any two requests.
var sdkHeaders = []string{"User-Agent", "X-Amz-User-Agent", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request",
	"Authorization", "X-Amz-Date", "Accept-Encoding"}

func withoutBookkeeping(h http.Header) http.Header {
	h = h.Clone()
	for _, k := range sdkHeaders {
		h.Del(k)
	}
	return h
}

// TestFastPutSendsWhatTheSDKSends checks that the first PutObject of a
// Store goes through the SDK and the next through the fast path, and
// that the two requests are the same but for the SDK's bookkeeping and
// the signature: path (with a key that needs escaping), query, content
// and every header of the object's attributes, metadata and encryption.
func TestFastPutSendsWhatTheSDKSends(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*Config){
		"path style":  nil,
		"SSE-C":       func(c *Config) { c.SSE = SSE{CustomerKey: bytes.Repeat([]byte{7}, 32)} },
		"SSE-KMS":     func(c *Config) { c.SSE = SSE{Mode: SSEKMS, KMSKeyID: "key-1"} },
		"storage":     func(c *Config) { c.StorageClass = "STANDARD_IA" },
		"session":     func(c *Config) { c.SessionToken = "token-1" },
		"big 1 MiB":   nil,
		"empty":       nil,
		"region":      func(c *Config) { c.Region = "eu-west-3" },
		"no metadata": nil,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &putServer{}
			st, _ := fakeS3(t, srv.handle, func(c *Config) {
				c.PrefixCheck = PrefixCheckOff
				if change != nil {
					change(c)
				}
			})
			content := []byte("some bytes of an image")
			switch name {
			case "big 1 MiB":
				content = bytes.Repeat([]byte{'x'}, fastPutMax)
			case "empty":
				content = nil
			}
			opts := &storage.PutOptions{
				ContentType: "image/jpeg", CacheControl: "max-age=60", ContentDisposition: `attachment; filename="a b.jpg"`,
				ContentEncoding: "identity", ContentLanguage: "fr", IfNotExists: true,
				Metadata: map[string]string{"owner": "ann", "camera-model": "x100 v"},
			}
			if name == "no metadata" {
				opts = nil
			}
			keys := []string{"dir/first one+é?#%.jpg", "dir/second one+é?#%.jpg"}
			var infos []storage.Info
			for _, k := range keys {
				info, err := st.Put(t.Context(), k, bytes.NewReader(content), opts)
				require.NoError(t, err)
				infos = append(infos, info)
			}
			puts := srv.sent()
			require.Len(t, puts, 2)
			sdk, fast := puts[0], puts[1]
			require.True(t, sdk.viaSDK(), "the first PutObject is the SDK's")
			require.False(t, fast.viaSDK(), "the second is the fast path's: %v", fast.header)
			assert.Equal(t, fastPutAgent, fast.header.Get("User-Agent"))

			assert.Equal(t, strings.Replace(sdk.path, "first", "second", 1), fast.path)
			assert.Equal(t, strings.Replace(sdk.rawPath, "first", "second", 1), fast.rawPath)
			assert.Equal(t, "x-id=PutObject", fast.query)
			assert.Equal(t, sdk.query, fast.query)
			assert.Equal(t, withoutBookkeeping(sdk.header), withoutBookkeeping(fast.header))
			assert.Equal(t, string(content), string(fast.body))
			assert.Equal(t, len(content), int(infos[1].Size))

			// Both are signed by the same key with the same scope and
			// the same headers.
			for _, p := range puts {
				auth := p.header.Get("Authorization")
				assert.True(t, strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDFAKE/"), auth)
			}
			// The SDK signs its bookkeeping headers too.
			scope := func(auth string) string {
				s, _, _ := strings.Cut(auth, ", Signature=")
				for _, h := range []string{"amz-sdk-invocation-id;", "amz-sdk-request;", "accept-encoding;"} {
					s = strings.Replace(s, h, "", 1)
				}
				return s
			}
			assert.Equal(t, scope(sdk.header.Get("Authorization")), scope(fast.header.Get("Authorization")))

			assert.Equal(t, `"etag-/b/dir/second one+é?#%.jpg"`, infos[1].ETag)
			assert.Equal(t, infos[0].SHA256, infos[1].SHA256)
			assert.False(t, infos[1].ModTime.IsZero())
		})
	}
}

// TestFastPutLargerObjectsUseTheSDK checks that an object above
// fastPutMax goes through the SDK even once the fast path knows how.
func TestFastPutLargerObjectsUseTheSDK(t *testing.T) {
	t.Parallel()
	srv := &putServer{}
	st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff })
	for i, size := range []int{10, 10, fastPutMax + 1} {
		_, err := st.Put(t.Context(), "k"+string(rune('0'+i)), bytes.NewReader(make([]byte, size)), nil)
		require.NoError(t, err)
	}
	puts := srv.sent()
	require.Len(t, puts, 3)
	assert.Equal(t, []bool{true, false, true}, []bool{puts[0].viaSDK(), puts[1].viaSDK(), puts[2].viaSDK()})
}

// TestFastPutRetries checks that the fast path retries what the SDK
// retries, with the Store's MaxAttempts, sending the whole body again,
// and gives up with the SDK's errors.
func TestFastPutRetries(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789"), 1000)
	t.Run("a 503, then success", func(t *testing.T) {
		t.Parallel()
		srv := &putServer{answer: failing(http.StatusServiceUnavailable, "SlowDown", func(n int) bool { return n == 2 })}
		st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff; c.MaxAttempts = 3 })
		for _, k := range []string{"a", "b"} {
			_, err := st.Put(t.Context(), k, bytes.NewReader(content), nil)
			require.NoError(t, err)
		}
		puts := srv.sent()
		require.Len(t, puts, 3)
		for _, p := range puts[1:] {
			assert.False(t, p.viaSDK())
			assert.Equal(t, content, p.body, "each attempt sends the whole body")
		}
		assert.NotEqual(t, puts[1].header.Get("Authorization"), "", "each attempt is signed")
	})
	t.Run("always 503", func(t *testing.T) {
		t.Parallel()
		srv := &putServer{answer: failing(http.StatusServiceUnavailable, "SlowDown", func(n int) bool { return n > 1 })}
		st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff; c.MaxAttempts = 3 })
		_, err := st.Put(t.Context(), "a", bytes.NewReader(content), nil)
		require.NoError(t, err)
		_, err = st.Put(t.Context(), "b", bytes.NewReader(content), nil)
		require.ErrorIs(t, err, storage.ErrUnavailable)
		assert.Len(t, srv.sent(), 1+3, "MaxAttempts attempts")
		assert.Contains(t, err.Error(), "exceeded maximum number of attempts, 3")
		assert.Contains(t, err.Error(), "operation error S3: PutObject")
		assert.Contains(t, err.Error(), "StatusCode: 503")
		assert.Contains(t, err.Error(), "api error SlowDown: test")
	})
	t.Run("a 403 is not retried", func(t *testing.T) {
		t.Parallel()
		srv := &putServer{answer: failing(http.StatusForbidden, "SignatureDoesNotMatch", func(int) bool { return true })}
		st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff; c.MaxAttempts = 3 })
		var errs []error
		for _, k := range []string{"a", "b"} {
			_, err := st.Put(t.Context(), k, bytes.NewReader(content), nil)
			require.ErrorIs(t, err, storage.ErrPermission)
			errs = append(errs, err)
		}
		puts := srv.sent()
		require.Len(t, puts, 2, "one attempt each")
		assert.False(t, puts[1].viaSDK())
		// The same message but for the key and the S3 host ID the SDK's
		// S3 client adds (this server sends none).
		assert.Equal(t, strings.Replace(errs[0].Error(), `"a"`, `"b"`, 1), errs[1].Error())
	})
}

// TestFastPutErrorsMapAsTheSDKs checks that the errors of the fast path
// are classified as the SDK's are, the error documents and the statuses
// without one alike.
func TestFastPutErrorsMapAsTheSDKs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		code   string // "" for no document
		want   error
	}{
		{http.StatusNotFound, "NoSuchBucket", storage.ErrNoBucket},
		{http.StatusPreconditionFailed, "PreconditionFailed", storage.ErrExist},
		{http.StatusForbidden, "AccessDenied", storage.ErrPermission},
		{http.StatusForbidden, "", storage.ErrPermission},
		{http.StatusBadRequest, "EntityTooLarge", storage.ErrTooLarge},
		{http.StatusBadGateway, "", storage.ErrUnavailable},
	} {
		t.Run(tc.code+http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			srv := &putServer{answer: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if tc.code == "" {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(tc.status)
					io.WriteString(w, "<html><body>bad gateway</body></html>")
				} else {
					errorXML(w, r, tc.status, tc.code)
				}
				return true
			}}
			st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff })
			var errs []error
			for _, k := range []string{"a", "b"} {
				_, err := st.Put(t.Context(), k, strings.NewReader("x"), &storage.PutOptions{IfNotExists: true})
				require.ErrorIs(t, err, tc.want)
				errs = append(errs, err)
			}
			puts := srv.sent()
			require.False(t, puts[len(puts)-1].viaSDK())
			assert.Equal(t, strings.Replace(errs[0].Error(), `"a"`, `"b"`, 1), errs[1].Error())
		})
	}
}

// TestFastPutCorrectsClockSkew checks that after a server answers
// RequestTimeTooSkewed with a Date 20 minutes ahead of ours, the fast path
// signs its next attempt at the server's time, as the SDK does.
func TestFastPutCorrectsClockSkew(t *testing.T) {
	t.Parallel()
	ahead := 20 * time.Minute
	skewed := failing(http.StatusForbidden, "RequestTimeTooSkewed", func(n int) bool { return n == 2 })
	srv := &putServer{answer: func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Date", time.Now().Add(ahead).UTC().Format(http.TimeFormat))
		return skewed(w, r, n)
	}}
	st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff; c.MaxAttempts = 3 })
	for _, k := range []string{"a", "b"} {
		_, err := st.Put(t.Context(), k, strings.NewReader("x"), nil)
		require.NoError(t, err)
	}
	puts := srv.sent()
	require.Len(t, puts, 3)
	signed := func(p sentPut) time.Time {
		at, err := time.Parse("20060102T150405Z", p.header.Get("X-Amz-Date"))
		require.NoError(t, err)
		return at
	}
	assert.WithinDuration(t, time.Now().Add(ahead), signed(puts[2]), time.Minute, "the retry is signed at the server's time")
	assert.False(t, puts[2].viaSDK())
}

// TestFastPutCancelled checks that a cancelled context stops the fast
// path with the caller's error, not a retry.
func TestFastPutCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	srv := &putServer{answer: func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 2 {
			cancel()
			time.Sleep(50 * time.Millisecond)
			errorXML(w, r, http.StatusServiceUnavailable, "SlowDown")
			return true
		}
		return false
	}}
	st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff; c.MaxAttempts = 5 })
	_, err := st.Put(ctx, "a", strings.NewReader("x"), nil)
	require.NoError(t, err)
	_, err = st.Put(ctx, "b", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, srv.sent(), 2)
}

// TestFastPutNotLearned checks that a PutObject the fast path could not
// send the same way (here an anonymous one, with no signature) never
// becomes a template, and that the Store stops looking after
// fastPutLooks.
func TestFastPutNotLearned(t *testing.T) {
	t.Parallel()
	srv := &putServer{}
	st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff })
	st.d.client = s3.New(st.d.client.Options(), func(o *s3.Options) { o.Credentials = aws.AnonymousCredentials{} })
	for i := range fastPutLooks + 2 {
		_, err := st.Put(t.Context(), "k"+string(rune('a'+i)), strings.NewReader("x"), nil)
		require.NoError(t, err)
	}
	for _, p := range srv.sent() {
		require.True(t, p.viaSDK())
	}
	assert.Nil(t, st.d.fast.template())
	assert.Equal(t, int32(fastPutLooks), st.d.fast.looked.Load())
}

// TestFastHeadersCoverPutObjectInput checks that fastHeaders sends every
// field of the PutObjectInput single builds, whatever the options and the
// Store's settings: a field added there and not here fails it.
func TestFastHeadersCoverPutObjectInput(t *testing.T) {
	handled := map[string]bool{
		"Bucket": true, "Key": true, "Body": true, "ContentLength": true, // the URL and the body
		"Metadata": true, "ContentType": true, "CacheControl": true, "ContentDisposition": true,
		"ContentEncoding": true, "ContentLanguage": true, "IfNoneMatch": true, "StorageClass": true,
		"ServerSideEncryption": true, "SSEKMSKeyId": true,
		"SSECustomerAlgorithm": true, "SSECustomerKey": true, "SSECustomerKeyMD5": true,
	}
	for _, cfg := range []Config{
		{SSE: SSE{CustomerKey: bytes.Repeat([]byte{7}, 32)}, StorageClass: "GLACIER_IR"},
		{SSE: SSE{Mode: SSEKMS, KMSKeyID: "k"}},
		{SSE: SSE{Mode: SSES3}},
	} {
		cfg.Bucket, cfg.AccessKeyID, cfg.SecretAccessKey, cfg.Endpoint = "b", "a", "s", "http://127.0.0.1:1"
		st, err := New(t.Context(), cfg)
		require.NoError(t, err)
		opts := &storage.PutOptions{ContentType: "a/b", CacheControl: "c", ContentDisposition: "d", ContentEncoding: "e",
			ContentLanguage: "f", IfNotExists: true, Metadata: map[string]string{"m": "v"}}
		u := newUpload(st.d, "key", nil, opts, st.d.set.PartSize)
		in := u.putInput(strings.NewReader("x"), 1, "sha")
		v := reflect.ValueOf(in).Elem()
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() && !v.Field(i).IsZero() {
				assert.True(t, handled[f.Name], "single sets PutObjectInput.%s, which fastHeaders does not send", f.Name)
			}
		}
		h := fastHeaders(in, "sha")
		for _, name := range []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding",
			"Content-Language", "If-None-Match", "X-Amz-Meta-M", "X-Amz-Content-Sha256"} {
			assert.NotEmpty(t, h.Get(name), name)
		}
		st.Close()
	}
}

// TestFastPutConcurrent checks that PutObjects sent at once through the
// fast path (as strata migrate sends 32) each arrive whole under their
// own key.
func TestFastPutConcurrent(t *testing.T) {
	t.Parallel()
	srv := &putServer{}
	st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff })
	_, err := st.Put(t.Context(), "first", strings.NewReader("x"), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			k := fmt.Sprintf("k%02d", i)
			_, err := st.Put(t.Context(), k, strings.NewReader(strings.Repeat(k, 1000*i)), nil)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	puts := srv.sent()
	require.Len(t, puts, 65)
	for _, p := range puts[1:] {
		assert.False(t, p.viaSDK())
		k := strings.TrimPrefix(p.path, "/b/")
		var i int
		_, err := fmt.Sscanf(k, "k%02d", &i)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat(k, 1000*i), string(p.body), k)
	}
}

// writeCounter is a connection that counts the writes made to it.
type writeCounter struct {
	net.Conn
	n *atomic.Int32
}

func (c writeCounter) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// TestFastPutOneWrite checks that the fast path sends a small object's
// request, head and body, in one write to the connection: a write of its
// own for the head costs a request more CPU than the body's bytes do.
func TestFastPutOneWrite(t *testing.T) {
	t.Parallel()
	srv := &putServer{}
	st, _ := fakeS3(t, srv.handle, func(c *Config) { c.PrefixCheck = PrefixCheckOff })
	var writes atomic.Int32
	dial := st.d.transport.DialContext
	st.d.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{c, &writes}, nil
	}
	_, err := st.Put(t.Context(), "first", strings.NewReader("x"), nil)
	require.NoError(t, err)
	sizes := []int{1, 32 << 10, oneWriteMax}
	for i, size := range sizes {
		body := bytes.Repeat([]byte{byte('a' + i)}, size)
		before := writes.Load()
		_, err := st.Put(t.Context(), fmt.Sprintf("k%d", i), bytes.NewReader(body), nil)
		require.NoError(t, err)
		assert.Equal(t, int32(1), writes.Load()-before, "writes for an object of %d bytes", size)
	}
	puts := srv.sent()
	require.Len(t, puts, 1+len(sizes))
	for i, p := range puts[1:] {
		assert.False(t, p.viaSDK())
		assert.Equal(t, bytes.Repeat([]byte{byte('a' + i)}, sizes[i]), p.body)
	}
}
