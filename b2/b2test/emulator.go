// Package b2test is an in-memory emulator of the Backblaze B2 native API
// (version 3, the version blazer speaks), for tests that must not reach the
// real service.
//
// An [Emulator] is an http.Handler. [NewServer] serves one with
// net/http/httptest for the length of a test; [Emulator.Start] does the same
// for code that manages its own lifetime. Point a client at the server's URL
// as its API base (blazer's b2.APIBase or base.SetAPIBase option, or
// strata's b2.Config.APIBase): b2_authorize_account answers with API,
// download and upload URLs on the same host, taken from each request.
//
//	srv := b2test.NewServer(t, nil)
//	keyID, key := srv.MasterKey()
//	store, err := b2.New(ctx, b2.Config{KeyID: keyID, ApplicationKey: key,
//		Bucket: srv.DefaultBucket(), APIBase: srv.URL})
//
// # What it emulates
//
// The calls are built from Backblaze's published documentation of the native
// API: b2_authorize_account, b2_list_buckets, b2_create_bucket (with the
// master key, which alone has the writeBuckets capability), b2_get_upload_url, uploads to
// the upload URL (X-Bz-File-Name, X-Bz-Content-Sha1 with a hex digest,
// "do_not_verify" or "hex_digits_at_end", X-Bz-Info-* headers, Content-Type
// "b2/x-auto"), b2_start_large_file, b2_get_upload_part_url, part uploads,
// b2_finish_large_file, b2_cancel_large_file, b2_list_unfinished_large_files,
// b2_list_parts, b2_list_file_names and b2_list_file_versions (prefix,
// startFileName, startFileId, maxFileCount, delimiter), downloads by name
// (/file/BUCKET/NAME, with Range giving 206 and Content-Range, or 416) and by
// id, b2_get_file_info, b2_hide_file, b2_delete_file_version,
// b2_get_download_authorization, and server-side copies with b2_copy_file
// (metadataDirective COPY or REPLACE, an optional range) and b2_copy_part.
//
// Files are kept in memory with all their versions: every upload is a new
// version with its own file ID, a hide marker is a version too, and the
// newest version of a name decides whether the name is visible. Uploads are
// checked against their SHA1. A large file needs at least two parts, and
// every part but the last must be at least Options.MinPartSize bytes.
//
// Errors have B2's JSON body {"status": ..., "code": "...", "message":
// "..."} and its status codes: 400 bad_request, 401 unauthorized,
// bad_auth_token and expired_auth_token, 404 not_found, 416
// range_not_satisfiable, 503 service_unavailable, and so on.
//
// Application keys may be restricted to one bucket ([Emulator.CreateKey]):
// such a key may call b2_list_buckets only with that bucket's bucketId or
// bucketName, and any call on another bucket answers 401 unauthorized, as on
// B2.
//
// Only version 3 of the API is served; calls other than
// b2_authorize_account and downloads must be POSTs with a JSON body (B2
// also accepts GETs with query parameters); buckets are always private;
// and name-prefix restrictions of keys, server-side encryption, object lock
// and bucket management over the API (but b2_create_bucket) are not
// emulated. An unfinished large
// file is not listed by b2_list_file_versions. A finished large file is
// stamped with the time it was finished, so versions of a name are always
// listed in the order they became visible.
//
// # Faults
//
// Tests make the emulator misbehave on demand, and may do so while requests
// are in flight: [Emulator.ExpireTokens] expires every authorization token
// issued so far, [Emulator.FailUploads] makes the next uploads answer 503 and
// retires their upload URLs (so a client must ask for a new one),
// [Emulator.FailNext] and [Emulator.InjectFault] fail the next calls of one
// API, [Emulator.FailAll] fails every call until cleared, and
// [Emulator.SetLatency] delays every answer. [Emulator.Calls] counts the
// calls of each API, and [Emulator.Listed] the entries the list calls
// returned (what B2 bills them by).
//
// Tests can also look inside: [Emulator.Versions] and [Emulator.Unfinished]
// list what is stored, and [Emulator.IssuedTokens] returns every token handed
// out, to check that none leaks into a log or an error. All methods are safe
// for concurrent use.
package b2test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// APIPrefix is the path prefix of every API call the emulator serves.
const APIPrefix = "/b2api/v3/"

// API names used by Calls, FailNext and InjectFault for the calls that are
// not made under APIPrefix.
const (
	APIUploadFile     = "b2_upload_file"
	APIUploadPart     = "b2_upload_part"
	APIDownloadByName = "b2_download_file_by_name"
	APIDownloadByID   = "b2_download_file_by_id"
)

// Defaults of Options.
const (
	DefaultKeyID       = "b2test-master-key-id"
	DefaultKey         = "b2test-master-application-key"
	DefaultBucket      = "test-bucket"
	DefaultMinPartSize = 5_000_000
	DefaultPartSize    = 100_000_000
)

// allCapabilities are the capabilities a key has unless told otherwise.
var allCapabilities = []string{
	"listBuckets", "listFiles", "readFiles", "shareFiles", "writeFiles", "deleteFiles",
}

// Options configure an Emulator. The zero value is ready to use.
type Options struct {
	// KeyID and Key are the master application key, allowed everything on
	// every bucket. Defaults: DefaultKeyID and DefaultKey.
	KeyID, Key string
	// Buckets are created when the emulator is. Default: one bucket named
	// DefaultBucket.
	Buckets []string
	// MinPartSize is the absoluteMinimumPartSize reported by
	// b2_authorize_account and enforced by b2_finish_large_file. Default:
	// DefaultMinPartSize (5 MB, as B2). Tests lower it to keep large files
	// small.
	MinPartSize int64
	// PartSize is the recommendedPartSize reported by b2_authorize_account.
	// Default: DefaultPartSize.
	PartSize int64
	// Clock returns the current time, for upload timestamps and the expiry
	// of download authorizations. Default: time.Now.
	Clock func() time.Time
}

// Emulator is an in-memory B2 native API server. It implements
// http.Handler; see the package documentation.
type Emulator struct {
	clock       func() time.Time
	minPartSize int64
	partSize    int64
	accountID   string
	masterID    string
	masterKey   string
	defBucket   string

	mu         sync.Mutex
	keys       map[string]*appKey      // by key ID
	tokens     map[string]*authToken   // account authorization tokens
	uploadURLs map[string]*uploadURL   // by URL id
	dlTokens   map[string]*downloadTok // download authorizations
	buckets    map[string]*bucket      // by bucket ID
	byName     map[string]*bucket      // by bucket name
	files      map[string]*file        // every version and unfinished large file, by file ID
	seq        uint64
	lastStamp  int64
	issued     []string // every token handed out, for tests that look for leaks
	calls      map[string]int
	listed     map[string]int // entries returned by the list calls, per API
	faults     faultState
}

type appKey struct {
	id, secret string
	bucketID   string // "" = every bucket
	caps       []string
}

type authToken struct {
	key     *appKey
	expired bool
}

type uploadURL struct {
	id, token string
	bucketID  string // for b2_upload_file
	fileID    string // for b2_upload_part
	expired   bool
	busy      bool // answered 503; answers 503 from now on
	inUse     bool
}

type downloadTok struct {
	bucketID string
	prefix   string
	expires  time.Time
}

// New returns an emulator configured by opts, which may be nil.
func New(opts *Options) *Emulator {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.KeyID == "" {
		o.KeyID = DefaultKeyID
	}
	if o.Key == "" {
		o.Key = DefaultKey
	}
	if o.Buckets == nil {
		o.Buckets = []string{DefaultBucket}
	}
	if o.MinPartSize <= 0 {
		o.MinPartSize = DefaultMinPartSize
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	e := &Emulator{
		clock:       o.Clock,
		minPartSize: o.MinPartSize,
		partSize:    o.PartSize,
		accountID:   "b2test" + randomHex(6),
		masterID:    o.KeyID,
		masterKey:   o.Key,
		keys:        map[string]*appKey{},
		tokens:      map[string]*authToken{},
		uploadURLs:  map[string]*uploadURL{},
		dlTokens:    map[string]*downloadTok{},
		buckets:     map[string]*bucket{},
		byName:      map[string]*bucket{},
		files:       map[string]*file{},
		calls:       map[string]int{},
		listed:      map[string]int{},
		faults:      faultState{next: map[string][]Fault{}},
	}
	e.keys[o.KeyID] = &appKey{id: o.KeyID, secret: o.Key, caps: append(slices.Clone(allCapabilities), "writeBuckets")}
	for i, name := range o.Buckets {
		e.CreateBucket(name)
		if i == 0 {
			e.defBucket = name
		}
	}
	return e
}

// MasterKey returns the ID and secret of the master application key.
func (e *Emulator) MasterKey() (keyID, key string) { return e.masterID, e.masterKey }

// DefaultBucket returns the name of the first bucket of Options.Buckets, or
// "" when there was none.
func (e *Emulator) DefaultBucket() string { return e.defBucket }

// CreateBucket creates a private bucket named name, if there is none yet,
// and returns its ID.
func (e *Emulator) CreateBucket(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.byName[name]; ok {
		return b.id
	}
	return e.newBucketLocked(name).id
}

// newBucketLocked adds an empty private bucket named name. e.mu is held.
func (e *Emulator) newBucketLocked(name string) *bucket {
	b := &bucket{id: "b" + randomHex(12), name: name, versions: map[string][]*file{}, unfinished: map[string]*file{}}
	e.buckets[b.id] = b
	e.byName[name] = b
	return b
}

// HasBucket reports whether a bucket named name exists.
func (e *Emulator) HasBucket(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.byName[name]
	return ok
}

// CreateKey creates an application key with every file capability, restricted
// to the bucket named bucket (or allowed on every bucket when bucket is ""),
// and returns its ID and secret. It panics if the bucket does not exist.
func (e *Emulator) CreateKey(bucket string) (keyID, key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := &appKey{id: "k" + randomHex(12), secret: "K" + randomHex(15), caps: allCapabilities}
	if bucket != "" {
		b, ok := e.byName[bucket]
		if !ok {
			panic("b2test: CreateKey: no bucket " + bucket)
		}
		k.bucketID = b.id
	}
	e.keys[k.id] = k
	return k.id, k.secret
}

// IssuedTokens returns every authorization token the emulator has handed
// out (account, upload and download tokens), so a test can check that none
// of them shows up in an error message or a log.
func (e *Emulator) IssuedTokens() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.issued)
}

// newTokenLocked returns a fresh token and remembers it. e.mu is held.
func (e *Emulator) newTokenLocked(prefix string) string {
	t := prefix + randomHex(20)
	e.issued = append(e.issued, t)
	return t
}

// stampLocked returns the current time in milliseconds, never less than a
// timestamp returned before. e.mu is held.
func (e *Emulator) stampLocked() int64 {
	ms := e.clock().UnixMilli()
	if ms < e.lastStamp {
		ms = e.lastStamp
	}
	e.lastStamp = ms
	return ms
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// apiError is B2's error body.
type apiError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`

	retryAfter time.Duration
	header     http.Header // extra headers, such as Content-Range on a 416
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "bad_request", format, args...)
}

// defaultCode is the B2 error code that goes with an HTTP status when a
// fault does not name one.
func defaultCode(status int) string {
	switch status {
	case 400:
		return "bad_request"
	case 401:
		return "expired_auth_token"
	case 403:
		return "access_denied"
	case 404:
		return "not_found"
	case 405:
		return "method_not_allowed"
	case 408:
		return "request_timeout"
	case 409:
		return "conflict"
	case 416:
		return "range_not_satisfiable"
	case 429:
		return "too_many_requests"
	case 500:
		return "internal_error"
	case 503:
		return "service_unavailable"
	}
	return "internal_error"
}

func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	h.Set("Cache-Control", "max-age=0, no-cache, no-store")
	if e.retryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	body, _ := json.Marshal(e)
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, &http.Request{}, errorf(500, "internal_error", "encoding reply: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Cache-Control", "max-age=0, no-cache, no-store")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// maxJSONBody bounds the JSON body of an API call.
const maxJSONBody = 1 << 20

func decodeJSON(r *http.Request, v any) *apiError {
	if r.Method != http.MethodPost {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "the emulator accepts only POST for %s", r.URL.Path)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return badRequest("reading request body: %v", err)
	}
	if len(body) > maxJSONBody {
		return badRequest("request body is too large")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "bad_json", "request body is not valid JSON: %v", err)
	}
	return nil
}

// baseURL is the scheme and host the request came to, which the emulator
// hands out as its API, download and upload URLs.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// apiName returns the name of the API a request calls, for counting and
// faults, or "" when the path is not one the emulator serves.
func apiName(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, APIPrefix+APIUploadFile+"/"):
		return APIUploadFile
	case strings.HasPrefix(p, APIPrefix+APIUploadPart+"/"):
		return APIUploadPart
	case strings.HasPrefix(p, "/file/"):
		return APIDownloadByName
	case strings.HasPrefix(p, APIPrefix):
		name := strings.TrimPrefix(p, APIPrefix)
		if strings.Contains(name, "/") {
			return ""
		}
		return name
	}
	return ""
}

type handlerFunc func(e *Emulator, w http.ResponseWriter, r *http.Request) *apiError

var handlers map[string]handlerFunc

func init() {
	handlers = map[string]handlerFunc{
		"b2_authorize_account":           (*Emulator).authorizeAccount,
		"b2_list_buckets":                (*Emulator).listBuckets,
		"b2_create_bucket":               (*Emulator).createBucket,
		"b2_get_upload_url":              (*Emulator).getUploadURL,
		APIUploadFile:                    (*Emulator).uploadFile,
		"b2_start_large_file":            (*Emulator).startLargeFile,
		"b2_get_upload_part_url":         (*Emulator).getUploadPartURL,
		APIUploadPart:                    (*Emulator).uploadPart,
		"b2_finish_large_file":           (*Emulator).finishLargeFile,
		"b2_cancel_large_file":           (*Emulator).cancelLargeFile,
		"b2_list_unfinished_large_files": (*Emulator).listUnfinishedLargeFiles,
		"b2_list_parts":                  (*Emulator).listParts,
		"b2_list_file_names":             (*Emulator).listFileNames,
		"b2_list_file_versions":          (*Emulator).listFileVersions,
		APIDownloadByName:                (*Emulator).downloadByName,
		APIDownloadByID:                  (*Emulator).downloadByID,
		"b2_get_file_info":               (*Emulator).getFileInfo,
		"b2_hide_file":                   (*Emulator).hideFile,
		"b2_delete_file_version":         (*Emulator).deleteFileVersion,
		"b2_get_download_authorization":  (*Emulator).getDownloadAuthorization,
		"b2_copy_file":                   (*Emulator).copyFile,
		"b2_copy_part":                   (*Emulator).copyPart,
	}
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api := apiName(r)
	h := handlers[api]
	if h == nil {
		writeError(w, r, errorf(http.StatusNotFound, "not_found", "no such API: %s", r.URL.Path))
		return
	}
	e.mu.Lock()
	e.calls[api]++
	latency := e.faults.latency
	e.mu.Unlock()
	if latency > 0 {
		w = &slowWriter{ResponseWriter: w, r: r, d: latency}
	}
	if f := e.takeFault(api); f != nil {
		if api == APIUploadFile || api == APIUploadPart {
			drain(r)
		}
		writeError(w, r, f)
		return
	}
	if err := h(e, w, r); err != nil {
		if api == APIUploadFile || api == APIUploadPart {
			drain(r)
		}
		writeError(w, r, err)
	}
}

// drain reads what is left of an upload's body, so the client sees the
// error reply rather than a reset connection.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30))
}

// accountAuth checks the account authorization token of a call and that its
// key has capability. It returns the key. e.mu is held.
func (e *Emulator) accountAuthLocked(r *http.Request, capability string) (*appKey, *apiError) {
	tok := r.Header.Get("Authorization")
	if tok == "" {
		return nil, errorf(http.StatusUnauthorized, "bad_auth_token", "missing Authorization header")
	}
	t, ok := e.tokens[tok]
	if !ok {
		return nil, errorf(http.StatusUnauthorized, "bad_auth_token", "Invalid authorization token")
	}
	if t.expired {
		return nil, errorf(http.StatusUnauthorized, "expired_auth_token", "Authorization token has expired")
	}
	if capability != "" && !slices.Contains(t.key.caps, capability) {
		return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is not allowed to %s", capability)
	}
	return t.key, nil
}

// bucketLocked returns the bucket with ID id if key may use it. e.mu is
// held.
func (e *Emulator) bucketLocked(key *appKey, id string) (*bucket, *apiError) {
	if id == "" {
		return nil, badRequest("bucketId is required")
	}
	if key.bucketID != "" && key.bucketID != id {
		return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is restricted to another bucket")
	}
	b, ok := e.buckets[id]
	if !ok {
		return nil, badRequest("Invalid bucketId: %s", id)
	}
	return b, nil
}

// fileLocked returns the file with ID id if key may use its bucket. e.mu is
// held.
func (e *Emulator) fileLocked(key *appKey, id string) (*file, *apiError) {
	if id == "" {
		return nil, badRequest("fileId is required")
	}
	f, ok := e.files[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, "not_found", "File not present: %s", id)
	}
	if key.bucketID != "" && key.bucketID != f.bucketID {
		return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is restricted to another bucket")
	}
	return f, nil
}

func basicAuth(r *http.Request) (id, secret string, ok bool) {
	h := r.Header.Get("Authorization")
	const p = "Basic "
	if !strings.HasPrefix(h, p) {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(p):]))
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(dec), ":")
	return id, secret, ok
}
