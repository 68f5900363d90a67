package crossdriver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// canned is an S3 server on loopback that answers what a test tells it
// to, for the answers MinIO does not give: a 404 of another kind than a
// missing key, a HEAD 404 from a server that names no code (as AWS does),
// a copy whose source keeps changing.
type canned struct {
	bucketExists bool // what HEAD /bucket answers
	// object answers a request for an object (path /bucket/key).
	object func(w http.ResponseWriter, r *http.Request)
}

func (c *canned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	switch {
	case len(parts) == 1 || parts[1] == "":
		// The bucket: HEAD (exists?), or a listing (an empty one).
		if !c.bucketExists {
			s3Error(w, r, http.StatusNotFound, "NoSuchBucket")
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix>%s</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
			parts[0], r.URL.Query().Get("prefix"))
	default:
		c.object(w, r)
	}
}

// s3Error answers an S3 error: with its XML body, but for a HEAD, which
// has none (and no x-minio-error-code header: this is not MinIO).
func s3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>canned %s</Message><RequestId>1</RequestId></Error>`, code, code)
}

// objectHead answers a HEAD of a 10-byte object.
func objectHead(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "10")
	w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	w.Header().Set("Last-Modified", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat))
	w.Header().Set("Content-Type", "application/octet-stream")
}

// TestSameAnswersCanned puts to both drivers the situations MinIO does not
// produce, from a canned server, and checks that they answer alike.
func TestSameAnswersCanned(t *testing.T) {
	sections := []struct {
		name      string
		srv       *canned
		questions []question
		want      string
	}{
		{
			// NoSuchVersion, NoSuchUpload, ...: a 404, but not "no object
			// under this key".
			name: "404 that is not NoSuchKey",
			srv: &canned{bucketExists: true, object: func(w http.ResponseWriter, r *http.Request) {
				s3Error(w, r, http.StatusNotFound, "NoSuchVersion")
			}},
			questions: []question{{"get", get("k", nil)}, {"ranged get", get("k", &storage.Range{Offset: 1, Length: 2})}},
			want:      "unclassified",
		},
		{
			// A HEAD has no body: its 404 names neither the key nor the
			// bucket. With the bucket there, the key is missing.
			name: "HEAD 404 with the bucket there",
			srv: &canned{bucketExists: true, object: func(w http.ResponseWriter, r *http.Request) {
				s3Error(w, r, http.StatusNotFound, "NoSuchKey")
			}},
			questions: []question{{"stat", stat("k")}, {"copy from", cp("dst", "k")}},
			want:      "ErrNotFound",
		},
		{
			// Without it, the bucket is missing, which is never ErrNotFound.
			name: "HEAD 404 with the bucket missing",
			srv: &canned{bucketExists: false, object: func(w http.ResponseWriter, r *http.Request) {
				s3Error(w, r, http.StatusNotFound, "NoSuchBucket")
			}},
			questions: []question{{"stat", stat("k")}, {"copy", cp("dst", "k")}},
			want:      "ErrNoBucket+ErrInvalidArgument",
		},
		{
			// The source's ETag changes between the HEAD and every
			// CopyObject: 412 PreconditionFailed, which is not ErrExist
			// (Copy has no IfNotExists) but a store that would not hold
			// still: ErrUnavailable, as for other races the caller may
			// retry.
			name: "copy whose source keeps changing",
			srv: &canned{bucketExists: true, object: func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/src"):
					objectHead(w)
				case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
					s3Error(w, r, http.StatusPreconditionFailed, "PreconditionFailed")
				default:
					s3Error(w, r, http.StatusNotFound, "NoSuchKey")
				}
			}},
			questions: []question{{"copy", cp("dst", "src")}},
			want:      "ErrUnavailable",
		},
	}
	for _, sec := range sections {
		t.Run(sec.name, func(t *testing.T) {
			hs := httptest.NewServer(sec.srv)
			t.Cleanup(hs.Close)
			tg := target{endpoint: strings.TrimPrefix(hs.URL, "http://"), bucket: "bucket", access: "access", secret: "secret-secret", region: "us-east-1"}
			for _, q := range sec.questions {
				t.Run(q.name, func(t *testing.T) {
					got := make([]string, len(drivers))
					for i, d := range drivers {
						err := q.ask(t.Context(), d.open(t, tg))
						got[i] = kinds(err)
						assert.Equal(t, sec.want, got[i], "%s answered %v", d.name, err)
					}
					require.Equal(t, got[0], got[1], "the drivers disagree: %s %s, %s %s",
						drivers[0].name, got[0], drivers[1].name, got[1])
				})
			}
		})
	}
}
