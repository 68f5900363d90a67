package s3proto

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-storage/strata/storage"
)

// Server tells, from the Server header of the first response a Store gets,
// whether its server is MinIO, for PrefixCheckAuto. It is detected once;
// looking costs one header lookup per response until then. The zero value
// knows nothing yet. A Server is safe for concurrent use.
type Server struct {
	state atomic.Int32 // serverUnknown, serverMinIO or serverOther
	asked atomic.Bool  // Ask has run its probe
}

// Ask runs probe, a request whose answer tells what the server is, when s
// knows nothing yet and no Ask has run one before. A server whose answers
// carry no Server header (a proxy drops it) is so asked once per Store,
// not before every upload; its later answers are observed all the same.
func (s *Server) Ask(ctx context.Context, probe func(context.Context)) {
	if s.state.Load() != serverUnknown || !s.asked.CompareAndSwap(false, true) {
		return
	}
	probe(ctx)
}

const (
	serverUnknown int32 = iota
	serverMinIO
	serverOther
)

// Observe records what the response headers h say of the server, if it is
// not known yet.
func (s *Server) Observe(h http.Header) {
	if s.state.Load() != serverUnknown {
		return
	}
	v := h.Get("Server")
	if v == "" {
		return // a proxy's error page, say: ask the next response
	}
	state := serverOther
	if strings.HasPrefix(strings.ToLower(v), "minio") {
		state = serverMinIO
	}
	s.state.CompareAndSwap(serverUnknown, state)
}

// MinIO reports whether the server is MinIO (minio), and whether that is
// known yet (known).
func (s *Server) MinIO() (minio, known bool) {
	switch s.state.Load() {
	case serverMinIO:
		return true, true
	case serverOther:
		return false, true
	}
	return false, false
}

// Transport returns rt (http.DefaultTransport when nil) with every
// response observed, and the requests of a context from [CountRequests]
// counted. It keeps CloseIdleConnections.
func (s *Server) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &observer{rt: rt, s: s}
}

type observer struct {
	rt http.RoundTripper
	s  *Server
}

func (o *observer) RoundTrip(r *http.Request) (*http.Response, error) {
	if n, ok := r.Context().Value(requestsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	resp, err := o.rt.RoundTrip(r)
	if resp != nil {
		o.s.Observe(resp.Header)
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of the transport
// underneath, when it has any.
func (o *observer) CloseIdleConnections() {
	if c, ok := o.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Unwrap returns the transport underneath.
func (o *observer) Unwrap() http.RoundTripper { return o.rt }

// On reports whether a Put or Copy must check for prefix conflicts, with
// the server as far as srv knows it.
func (p PrefixCheck) On(srv *Server) bool {
	switch p {
	case PrefixCheckOn:
		return true
	case PrefixCheckOff:
		return false
	}
	minio, known := srv.MinIO()
	return minio || !known
}

// CheckPrefixes is the prefix-conflict check of both drivers (see
// PrefixCheck) for a write of key. It fails with an error matching
// storage.ErrExist when exists reports an object under one of key's
// parents ("a" for "a/b") or first finds a key under key+"/". exists is a
// HEAD of one key (false, nil for a 404 that is a missing key); first is a
// LIST of at most one key under a prefix ("" when there is none). They run
// at once; the first conflict or error cancels the others and is returned,
// as the driver's function returned it. The check is not atomic with the
// upload: two racing writers of "a" and "a/b" can both pass it.
func CheckPrefixes(ctx context.Context, key string,
	exists func(ctx context.Context, key string) (bool, error),
	first func(ctx context.Context, prefix string) (string, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() {
			firstErr = err
			cancel()
		})
	}
	for i := strings.IndexByte(key, '/'); i >= 0; {
		parent := key[:i]
		wg.Go(func() {
			ok, err := exists(ctx, parent)
			switch {
			case err != nil && ctx.Err() == nil:
				fail(err)
			case err == nil && ok:
				fail(fmt.Errorf("an object exists under %q, a parent of the key: %w", parent, storage.ErrExist))
			}
		})
		j := strings.IndexByte(key[i+1:], '/')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if len(key)+1 < storage.MaxKeyLen {
		// A longer key could not be stored, so none is under key+"/".
		wg.Go(func() {
			k, err := first(ctx, key+"/")
			switch {
			case err != nil && ctx.Err() == nil:
				fail(err)
			case err == nil && k != "":
				fail(fmt.Errorf("objects exist under the prefix %q, such as %q: %w", key+"/", k, storage.ErrExist))
			}
		})
	}
	wg.Wait()
	once.Do(func() {
		// No conflict and no error: only the caller's context can have
		// ended (cancel runs on failure).
		firstErr = ctx.Err()
	})
	return firstErr
}
