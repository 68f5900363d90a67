package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// readFromRecorder is a ResponseWriter that, like net/http's, has a
// ReadFrom (which sends a file with sendfile(2)), and notes its use.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom int64
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(r.ResponseRecorder, src)
	r.readFrom += n
	return n, err
}

// TestRequestLogKeepsReadFrom checks that the request log's writer passes
// a body copied with io.Copy to the server's own ReadFrom, so that media
// from local disk still go out with sendfile(2) rather than through a
// buffer of the process.
func TestRequestLogKeepsReadFrom(t *testing.T) {
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil))} // -v: requests logged
	h := s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("media bytes")}); err != nil {
			t.Error(err)
		}
	}))
	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/media/k", nil))
	if rec.readFrom != int64(len("media bytes")) || rec.Body.String() != "media bytes" {
		t.Errorf("ReadFrom of the server's writer copied %d bytes (body %q), want all %d", rec.readFrom, rec.Body.String(), len("media bytes"))
	}
}
