package b2test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// jsonCall runs a JSON API call: it decodes the request into Req, checks
// the account token for capability and calls f under e.mu, then writes f's
// reply.
func jsonCall[Req any](e *Emulator, w http.ResponseWriter, r *http.Request, capability string,
	f func(key *appKey, req *Req) (any, *apiError)) *apiError {
	var req Req
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	e.mu.Lock()
	key, err := e.accountAuthLocked(r, capability)
	var reply any
	if err == nil {
		reply, err = f(key, &req)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, reply)
	return nil
}

func (e *Emulator) authorizeAccount(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
	}
	id, secret, ok := basicAuth(r)
	e.mu.Lock()
	k := e.keys[id]
	if !ok || k == nil || k.secret != secret {
		e.mu.Unlock()
		return errorf(http.StatusUnauthorized, "unauthorized", "")
	}
	tok := e.newTokenLocked("4_")
	e.tokens[tok] = &authToken{key: k}
	var bucketID, bucketName any
	if k.bucketID != "" {
		bucketID = k.bucketID
		if b, ok := e.buckets[k.bucketID]; ok {
			bucketName = b.name
		}
	}
	e.mu.Unlock()
	base := baseURL(r)
	writeJSON(w, map[string]any{
		"accountId":          e.accountID,
		"authorizationToken": tok,
		"apiInfo": map[string]any{
			"storageApi": map[string]any{
				"absoluteMinimumPartSize": e.minPartSize,
				"apiUrl":                  base,
				"bucketId":                bucketID,
				"bucketName":              bucketName,
				"capabilities":            k.caps,
				"downloadUrl":             base,
				"infoType":                "storageApi",
				"namePrefix":              nil,
				"recommendedPartSize":     e.partSize,
				"s3ApiUrl":                base,
			},
		},
		"applicationKeyExpirationTimestamp": nil,
	})
	return nil
}

type listBucketsRequest struct {
	AccountID   string   `json:"accountId"`
	BucketID    string   `json:"bucketId"`
	BucketName  string   `json:"bucketName"`
	BucketTypes []string `json:"bucketTypes"`
}

func (e *Emulator) listBuckets(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "listBuckets", func(key *appKey, req *listBucketsRequest) (any, *apiError) {
		if req.AccountID != e.accountID {
			return nil, badRequest("accountId is missing or wrong")
		}
		if key.bucketID != "" {
			// A key restricted to a bucket must name it.
			named := req.BucketID != "" || req.BucketName != ""
			if !named || req.BucketID != "" && req.BucketID != key.bucketID {
				return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is restricted to a bucket: name it with bucketId or bucketName")
			}
			if req.BucketName != "" {
				if b, ok := e.byName[req.BucketName]; !ok || b.id != key.bucketID {
					return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is restricted to another bucket")
				}
			}
		}
		var names []string
		for name := range e.byName {
			names = append(names, name)
		}
		sort.Strings(names)
		buckets := []map[string]any{}
		for _, name := range names {
			b := e.byName[name]
			if req.BucketID != "" && b.id != req.BucketID || req.BucketName != "" && b.name != req.BucketName {
				continue
			}
			buckets = append(buckets, e.bucketJSON(b))
		}
		return map[string]any{"buckets": buckets}, nil
	})
}

type createBucketRequest struct {
	AccountID  string `json:"accountId"`
	BucketName string `json:"bucketName"`
	BucketType string `json:"bucketType"`
}

// bucketNameRE is B2's rule for bucket names: 6 to 63 letters, digits and
// hyphens.
var bucketNameRE = regexp.MustCompile(`^[A-Za-z0-9-]{6,63}$`)

// createBucket serves b2_create_bucket: a key with the writeBuckets
// capability makes a private or public bucket (the emulator keeps every
// bucket private); a name in use answers 400 duplicate_bucket_name.
func (e *Emulator) createBucket(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeBuckets", func(key *appKey, req *createBucketRequest) (any, *apiError) {
		switch {
		case req.AccountID != e.accountID:
			return nil, badRequest("accountId is missing or wrong")
		case !bucketNameRE.MatchString(req.BucketName) || strings.HasPrefix(strings.ToLower(req.BucketName), "b2-"):
			return nil, badRequest("Invalid bucketName: %s", req.BucketName)
		case req.BucketType != "allPrivate" && req.BucketType != "allPublic":
			return nil, badRequest("Invalid bucketType: %s", req.BucketType)
		}
		if _, ok := e.byName[req.BucketName]; ok {
			return nil, errorf(http.StatusBadRequest, "duplicate_bucket_name", "Bucket name is already in use.")
		}
		return e.bucketJSON(e.newBucketLocked(req.BucketName)), nil
	})
}

func (e *Emulator) bucketJSON(b *bucket) map[string]any {
	return map[string]any{
		"accountId":      e.accountID,
		"bucketId":       b.id,
		"bucketName":     b.name,
		"bucketType":     "allPrivate",
		"bucketInfo":     map[string]string{},
		"corsRules":      []any{},
		"lifecycleRules": []any{},
		"options":        []string{},
		"revision":       1,
		"fileLockConfiguration": map[string]any{
			"isClientAuthorizedToRead": true,
			"value": map[string]any{
				"defaultRetention":  map[string]any{"mode": nil, "period": nil},
				"isFileLockEnabled": false,
			},
		},
		"defaultServerSideEncryption": map[string]any{
			"isClientAuthorizedToRead": true,
			"value":                    map[string]any{"mode": nil},
		},
		"replicationConfiguration": map[string]any{"isClientAuthorizedToRead": true, "value": nil},
	}
}

type bucketIDRequest struct {
	BucketID string `json:"bucketId"`
}

func (e *Emulator) getUploadURL(w http.ResponseWriter, r *http.Request) *apiError {
	base := baseURL(r)
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *bucketIDRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		u := &uploadURL{id: randomHex(8), token: e.newTokenLocked("2_"), bucketID: b.id}
		e.uploadURLs[u.id] = u
		return map[string]any{
			"bucketId":           b.id,
			"uploadUrl":          base + APIPrefix + APIUploadFile + "/" + b.id + "/" + u.id,
			"authorizationToken": u.token,
		}, nil
	})
}

// claimUploadLocked checks an upload to the upload URL with ID urlID for
// target (a bucket ID or a large file ID) and marks the URL in use. e.mu is
// held.
func (e *Emulator) claimUploadLocked(r *http.Request, urlID, target string, part bool) (*uploadURL, *apiError) {
	u := e.uploadURLs[urlID]
	if u == nil || part && u.fileID != target || !part && u.bucketID != target {
		return nil, errorf(http.StatusUnauthorized, "bad_auth_token", "invalid upload URL")
	}
	if r.Header.Get("Authorization") != u.token {
		return nil, errorf(http.StatusUnauthorized, "bad_auth_token", "Invalid authorization token")
	}
	if u.expired {
		return nil, errorf(http.StatusUnauthorized, "expired_auth_token", "Authorization token has expired")
	}
	if u.busy {
		return nil, errorf(http.StatusServiceUnavailable, "service_unavailable", "c000_v0001000_t0000 no tomes available")
	}
	if e.faults.uploads > 0 {
		e.faults.uploads--
		u.busy = true
		return nil, errorf(http.StatusServiceUnavailable, "service_unavailable", "c000_v0001000_t0000 too busy")
	}
	if u.inUse {
		return nil, badRequest("more than one upload using auth token")
	}
	u.inUse = true
	return u, nil
}

func (e *Emulator) releaseUpload(u *uploadURL) {
	e.mu.Lock()
	u.inUse = false
	e.mu.Unlock()
}

// readUploadBody reads the body of an upload, which must have a
// Content-Length.
func readUploadBody(r *http.Request) ([]byte, *apiError) {
	if r.ContentLength < 0 {
		return nil, errorf(http.StatusLengthRequired, "length_required", "Content-Length is required")
	}
	if r.ContentLength > maxPartBytes+40 {
		return nil, badRequest("upload is larger than 5 GB")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength+1))
	if err != nil {
		return nil, badRequest("reading upload: %v", err)
	}
	if int64(len(body)) != r.ContentLength {
		return nil, badRequest("upload has %d bytes, Content-Length says %d", len(body), r.ContentLength)
	}
	return body, nil
}

// checkSHA1 checks body against the X-Bz-Content-Sha1 header h and returns
// the content and the SHA1 to store.
func checkSHA1(body []byte, h string) ([]byte, string, *apiError) {
	data, want := body, strings.ToLower(h)
	switch {
	case h == "":
		return nil, "", badRequest("X-Bz-Content-Sha1 header is required")
	case h == "do_not_verify":
		sum := sha1.Sum(data)
		return data, "unverified:" + hex.EncodeToString(sum[:]), nil
	case h == "hex_digits_at_end":
		if len(body) < 40 {
			return nil, "", badRequest("upload is too short to end with a SHA1")
		}
		data, want = body[:len(body)-40], strings.ToLower(string(body[len(body)-40:]))
	}
	if _, err := hex.DecodeString(want); err != nil || len(want) != 40 {
		return nil, "", badRequest("X-Bz-Content-Sha1 is not a SHA1 in hex: %q", want)
	}
	sum := sha1.Sum(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, "", badRequest("Sha1 did not match data received")
	}
	return data, want, nil
}

// resolveContentType turns "b2/x-auto" into a type guessed from the file
// name's extension.
func resolveContentType(ct, name string) (string, *apiError) {
	if ct == "" {
		return "", badRequest("Content-Type is required")
	}
	if ct != "b2/x-auto" {
		return ct, nil
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}

// infoFromHeaders collects the X-Bz-Info-* headers of an upload.
func infoFromHeaders(h http.Header) (map[string]string, *apiError) {
	info := map[string]string{}
	for k, vs := range h {
		if !strings.HasPrefix(k, "X-Bz-Info-") || len(vs) == 0 {
			continue
		}
		v, err := decodeHeader(vs[0])
		if err != nil {
			return nil, badRequest("header %s is not percent-encoded: %v", k, err)
		}
		info[strings.ToLower(strings.TrimPrefix(k, "X-Bz-Info-"))] = v
	}
	return info, nil
}

func (e *Emulator) uploadFile(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method != http.MethodPost {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
	}
	bucketID, urlID, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, APIPrefix+APIUploadFile+"/"), "/")
	e.mu.Lock()
	u, aerr := e.claimUploadLocked(r, urlID, bucketID, false)
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	defer e.releaseUpload(u)

	rawName := r.Header.Get("X-Bz-File-Name")
	if rawName == "" {
		return badRequest("X-Bz-File-Name header is required")
	}
	name, err := decodeHeader(rawName)
	if err != nil {
		return badRequest("X-Bz-File-Name is not percent-encoded: %v", err)
	}
	if aerr := checkFileName(name); aerr != nil {
		return aerr
	}
	ct, aerr := resolveContentType(r.Header.Get("Content-Type"), name)
	if aerr != nil {
		return aerr
	}
	info, aerr := infoFromHeaders(r.Header)
	if aerr != nil {
		return aerr
	}
	if aerr := checkInfo(name, info); aerr != nil {
		return aerr
	}
	body, aerr := readUploadBody(r)
	if aerr != nil {
		return aerr
	}
	data, sum, aerr := checkSHA1(body, r.Header.Get("X-Bz-Content-Sha1"))
	if aerr != nil {
		return aerr
	}

	e.mu.Lock()
	b, ok := e.buckets[bucketID]
	if !ok {
		e.mu.Unlock()
		return badRequest("Invalid bucketId: %s", bucketID)
	}
	f := &file{
		id: e.newFileIDLocked(b), name: name, bucketID: b.id, action: "upload",
		contentType: ct, sha1: sum, info: info, data: data, stamp: e.stampLocked(),
	}
	b.addVersion(f)
	e.files[f.id] = f
	reply := e.fileJSON(f)
	e.mu.Unlock()
	writeJSON(w, reply)
	return nil
}

type startLargeFileRequest struct {
	BucketID    string            `json:"bucketId"`
	FileName    string            `json:"fileName"`
	ContentType string            `json:"contentType"`
	FileInfo    map[string]string `json:"fileInfo"`
}

func (e *Emulator) startLargeFile(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *startLargeFileRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		if err := checkFileName(req.FileName); err != nil {
			return nil, err
		}
		if err := checkInfo(req.FileName, req.FileInfo); err != nil {
			return nil, err
		}
		ct, err := resolveContentType(req.ContentType, req.FileName)
		if err != nil {
			return nil, err
		}
		info := map[string]string{}
		for k, v := range req.FileInfo {
			info[strings.ToLower(k)] = v
		}
		f := &file{
			id: e.newFileIDLocked(b), name: req.FileName, bucketID: b.id, action: "start",
			contentType: ct, sha1: "none", info: info, stamp: e.stampLocked(), parts: map[int]*part{},
		}
		b.unfinished[f.id] = f
		e.files[f.id] = f
		return e.fileJSON(f), nil
	})
}

type fileIDRequest struct {
	FileID string `json:"fileId"`
}

// unfinishedLocked returns the unfinished large file with ID id. e.mu is
// held.
func (e *Emulator) unfinishedLocked(key *appKey, id string) (*file, *apiError) {
	f, err := e.fileLocked(key, id)
	if err != nil {
		if err.Status == http.StatusNotFound {
			return nil, badRequest("No active upload for: %s", id)
		}
		return nil, err
	}
	if f.action != "start" {
		return nil, badRequest("No active upload for: %s", id)
	}
	return f, nil
}

func (e *Emulator) getUploadPartURL(w http.ResponseWriter, r *http.Request) *apiError {
	base := baseURL(r)
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *fileIDRequest) (any, *apiError) {
		f, err := e.unfinishedLocked(key, req.FileID)
		if err != nil {
			return nil, err
		}
		u := &uploadURL{id: randomHex(8), token: e.newTokenLocked("2_"), fileID: f.id}
		e.uploadURLs[u.id] = u
		return map[string]any{
			"fileId":             f.id,
			"uploadUrl":          base + APIPrefix + APIUploadPart + "/" + f.id + "/" + u.id,
			"authorizationToken": u.token,
		}, nil
	})
}

func (e *Emulator) uploadPart(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method != http.MethodPost {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
	}
	fileID, urlID, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, APIPrefix+APIUploadPart+"/"), "/")
	e.mu.Lock()
	u, aerr := e.claimUploadLocked(r, urlID, fileID, true)
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	defer e.releaseUpload(u)

	n, err := strconv.Atoi(r.Header.Get("X-Bz-Part-Number"))
	if err != nil || n < 1 || n > maxParts {
		return badRequest("X-Bz-Part-Number must be 1 to %d", maxParts)
	}
	body, aerr := readUploadBody(r)
	if aerr != nil {
		return aerr
	}
	data, sum, aerr := checkSHA1(body, r.Header.Get("X-Bz-Content-Sha1"))
	if aerr != nil {
		return aerr
	}

	e.mu.Lock()
	f, ok := e.files[fileID]
	if !ok || f.action != "start" {
		e.mu.Unlock()
		return badRequest("No active upload for: %s", fileID)
	}
	p := &part{number: n, data: data, sha1: sum, stamp: e.stampLocked()}
	f.parts[n] = p
	e.mu.Unlock()
	writeJSON(w, map[string]any{
		"fileId": fileID, "partNumber": n, "contentLength": len(data), "contentSha1": sum,
		"uploadTimestamp": p.stamp,
	})
	return nil
}

type finishLargeFileRequest struct {
	FileID        string   `json:"fileId"`
	PartSha1Array []string `json:"partSha1Array"`
}

func (e *Emulator) finishLargeFile(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *finishLargeFileRequest) (any, *apiError) {
		f, err := e.unfinishedLocked(key, req.FileID)
		if err != nil {
			return nil, err
		}
		n := len(req.PartSha1Array)
		if n < 2 {
			return nil, badRequest("large files must have at least 2 parts")
		}
		if len(f.parts) != n {
			return nil, badRequest("partSha1Array has %d entries, but %d parts were uploaded", n, len(f.parts))
		}
		size := 0
		for i, want := range req.PartSha1Array {
			p, ok := f.parts[i+1]
			if !ok {
				return nil, badRequest("Part number %d has not been uploaded", i+1)
			}
			if !strings.EqualFold(want, strings.TrimPrefix(p.sha1, "unverified:")) {
				return nil, badRequest("Part number %d: sha1 does not match the uploaded part", i+1)
			}
			if i < n-1 && int64(len(p.data)) < e.minPartSize {
				return nil, badRequest("Part number %d is smaller than the minimum part size of %d bytes", i+1, e.minPartSize)
			}
			size += len(p.data)
		}
		data := make([]byte, 0, size)
		for i := 1; i <= n; i++ {
			data = append(data, f.parts[i].data...)
		}
		b := e.buckets[f.bucketID]
		delete(b.unfinished, f.id)
		f.parts = nil
		f.data = data
		f.action = "upload"
		f.stamp = e.stampLocked()
		b.addVersion(f)
		return e.fileJSON(f), nil
	})
}

func (e *Emulator) cancelLargeFile(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *fileIDRequest) (any, *apiError) {
		f, err := e.unfinishedLocked(key, req.FileID)
		if err != nil {
			return nil, err
		}
		delete(e.buckets[f.bucketID].unfinished, f.id)
		delete(e.files, f.id)
		return map[string]any{"accountId": e.accountID, "bucketId": f.bucketID, "fileId": f.id, "fileName": f.name}, nil
	})
}

type listUnfinishedRequest struct {
	BucketID     string `json:"bucketId"`
	NamePrefix   string `json:"namePrefix"`
	StartFileID  string `json:"startFileId"`
	MaxFileCount int    `json:"maxFileCount"`
}

func (e *Emulator) listUnfinishedLargeFiles(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "listFiles", func(key *appKey, req *listUnfinishedRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		limit, err := countParam(req.MaxFileCount, 100, maxUnfinished, "maxFileCount")
		if err != nil {
			return nil, err
		}
		files := []fileJSON{}
		var next any
		for _, f := range b.sortedUnfinished() {
			if f.id < req.StartFileID || !strings.HasPrefix(f.name, req.NamePrefix) {
				continue
			}
			if len(files) == limit {
				next = f.id
				break
			}
			files = append(files, e.fileJSON(f))
		}
		return map[string]any{"files": files, "nextFileId": next}, nil
	})
}

type listPartsRequest struct {
	FileID          string `json:"fileId"`
	StartPartNumber int    `json:"startPartNumber"`
	MaxPartCount    int    `json:"maxPartCount"`
}

func (e *Emulator) listParts(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *listPartsRequest) (any, *apiError) {
		f, err := e.unfinishedLocked(key, req.FileID)
		if err != nil {
			return nil, err
		}
		limit, err := countParam(req.MaxPartCount, 100, 1000, "maxPartCount")
		if err != nil {
			return nil, err
		}
		start := max(req.StartPartNumber, 1)
		parts := []map[string]any{}
		var next any
		for n := start; n <= maxParts; n++ {
			p, ok := f.parts[n]
			if !ok {
				continue
			}
			if len(parts) == limit {
				next = n
				break
			}
			parts = append(parts, map[string]any{
				"fileId": f.id, "partNumber": n, "contentLength": len(p.data),
				"contentSha1": p.sha1, "uploadTimestamp": p.stamp,
			})
		}
		return map[string]any{"parts": parts, "nextPartNumber": next}, nil
	})
}

// countParam checks a maxFileCount-like parameter.
func countParam(v, def, limit int, name string) (int, *apiError) {
	switch {
	case v == 0:
		return def, nil
	case v < 0 || v > limit:
		return 0, badRequest("%s must be 1 to %d", name, limit)
	}
	return v, nil
}

type listFilesRequest struct {
	BucketID      string `json:"bucketId"`
	StartFileName string `json:"startFileName"`
	StartFileID   string `json:"startFileId"`
	MaxFileCount  int    `json:"maxFileCount"`
	Prefix        string `json:"prefix"`
	Delimiter     string `json:"delimiter"`
}

// folderOf returns the folder name that name falls in when listing prefix
// with delimiter, or "" when it is not in a folder.
func folderOf(name, prefix, delimiter string) string {
	if delimiter == "" {
		return ""
	}
	rest := name[len(prefix):]
	if i := strings.Index(rest, delimiter); i >= 0 {
		return name[:len(prefix)+i+len(delimiter)]
	}
	return ""
}

// pastFolder returns the index of the first name after b.names[i] that is
// not in folder (the names in a folder are next to each other in b.names).
func (b *bucket) pastFolder(i int, folder string) int {
	return i + sort.Search(len(b.names)-i, func(j int) bool {
		n := b.names[i+j]
		return n > folder && !strings.HasPrefix(n, folder)
	})
}

// namesFrom returns the index in b.names where a listing of prefix from
// start begins.
func (b *bucket) namesFrom(start, prefix string) int {
	return sort.SearchStrings(b.names, max(start, prefix))
}

func (e *Emulator) listFileNames(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "listFiles", func(key *appKey, req *listFilesRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		limit, err := countParam(req.MaxFileCount, 100, maxListCount, "maxFileCount")
		if err != nil {
			return nil, err
		}
		files := []fileJSON{}
		var next any
		for i := b.namesFrom(req.StartFileName, req.Prefix); i < len(b.names); i++ {
			name := b.names[i]
			if !strings.HasPrefix(name, req.Prefix) {
				break
			}
			f := b.visible(name)
			if f == nil {
				continue
			}
			if len(files) == limit {
				next = name
				break
			}
			if folder := folderOf(name, req.Prefix, req.Delimiter); folder != "" {
				files = append(files, e.folderJSON(b, folder))
				i = b.pastFolder(i, folder) - 1
				continue
			}
			files = append(files, e.fileJSON(f))
		}
		e.listed["b2_list_file_names"] += len(files)
		return map[string]any{"files": files, "nextFileName": next}, nil
	})
}

func (e *Emulator) listFileVersions(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "listFiles", func(key *appKey, req *listFilesRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		limit, err := countParam(req.MaxFileCount, 100, maxListCount, "maxFileCount")
		if err != nil {
			return nil, err
		}
		files := []fileJSON{}
		var nextName, nextID any
	names:
		for i := b.namesFrom(req.StartFileName, req.Prefix); i < len(b.names); i++ {
			name := b.names[i]
			if !strings.HasPrefix(name, req.Prefix) {
				break
			}
			vs := b.versions[name]
			if name == req.StartFileName && req.StartFileID != "" {
				i := 0
				for i < len(vs) && vs[i].id != req.StartFileID {
					i++
				}
				if i == len(vs) {
					return nil, badRequest("startFileId %s is not a version of %q", req.StartFileID, name)
				}
				vs = vs[i:]
			}
			if folder := folderOf(name, req.Prefix, req.Delimiter); folder != "" {
				if len(files) == limit {
					nextName = name
					break
				}
				files = append(files, e.folderJSON(b, folder))
				i = b.pastFolder(i, folder) - 1
				continue
			}
			for _, f := range vs {
				if len(files) == limit {
					nextName, nextID = f.name, f.id
					break names
				}
				files = append(files, e.fileJSON(f))
			}
		}
		e.listed["b2_list_file_versions"] += len(files)
		return map[string]any{"files": files, "nextFileName": nextName, "nextFileId": nextID}, nil
	})
}

func (e *Emulator) getFileInfo(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "readFiles", func(key *appKey, req *fileIDRequest) (any, *apiError) {
		f, err := e.fileLocked(key, req.FileID)
		if err != nil {
			return nil, err
		}
		return e.fileJSON(f), nil
	})
}

type hideFileRequest struct {
	BucketID string `json:"bucketId"`
	FileName string `json:"fileName"`
}

func (e *Emulator) hideFile(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *hideFileRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		vs := b.versions[req.FileName]
		if len(vs) == 0 {
			return nil, errorf(http.StatusNotFound, "not_found", "File not present: %s", req.FileName)
		}
		if vs[0].action == "hide" {
			return nil, errorf(http.StatusBadRequest, "already_hidden", "File already hidden: %s", req.FileName)
		}
		f := &file{
			id: e.newFileIDLocked(b), name: req.FileName, bucketID: b.id, action: "hide",
			info: map[string]string{}, stamp: e.stampLocked(),
		}
		b.addVersion(f)
		e.files[f.id] = f
		return e.fileJSON(f), nil
	})
}

type deleteFileVersionRequest struct {
	FileName string `json:"fileName"`
	FileID   string `json:"fileId"`
}

func (e *Emulator) deleteFileVersion(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "deleteFiles", func(key *appKey, req *deleteFileVersionRequest) (any, *apiError) {
		f, ok := e.files[req.FileID]
		if !ok || f.name != req.FileName {
			return nil, errorf(http.StatusBadRequest, "file_not_present", "File not present: %s %s", req.FileName, req.FileID)
		}
		if key.bucketID != "" && key.bucketID != f.bucketID {
			return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is restricted to another bucket")
		}
		b := e.buckets[f.bucketID]
		if f.action == "start" {
			delete(b.unfinished, f.id)
		} else {
			b.removeVersion(f)
		}
		delete(e.files, f.id)
		return map[string]any{"fileId": f.id, "fileName": f.name}, nil
	})
}

type downloadAuthRequest struct {
	BucketID               string `json:"bucketId"`
	FileNamePrefix         string `json:"fileNamePrefix"`
	ValidDurationInSeconds int    `json:"validDurationInSeconds"`
}

func (e *Emulator) getDownloadAuthorization(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "shareFiles", func(key *appKey, req *downloadAuthRequest) (any, *apiError) {
		b, err := e.bucketLocked(key, req.BucketID)
		if err != nil {
			return nil, err
		}
		if req.ValidDurationInSeconds < 1 || req.ValidDurationInSeconds > 604800 {
			return nil, badRequest("validDurationInSeconds must be 1 to 604800")
		}
		tok := e.newTokenLocked("3_")
		e.dlTokens[tok] = &downloadTok{
			bucketID: b.id, prefix: req.FileNamePrefix,
			expires: e.clock().Add(time.Duration(req.ValidDurationInSeconds) * time.Second),
		}
		return map[string]any{"bucketId": b.id, "fileNamePrefix": req.FileNamePrefix, "authorizationToken": tok}, nil
	})
}

// downloadAuthLocked checks the authorization of a download of name from
// b: an account token that may read files, or a download authorization for
// a prefix of name. e.mu is held.
func (e *Emulator) downloadAuthLocked(r *http.Request, b *bucket, name string) *apiError {
	tok := r.Header.Get("Authorization")
	if tok == "" {
		tok = r.URL.Query().Get("Authorization")
	}
	if tok == "" {
		return errorf(http.StatusUnauthorized, "unauthorized", "the bucket is private: an Authorization header or parameter is required")
	}
	if t, ok := e.tokens[tok]; ok {
		if t.expired {
			return errorf(http.StatusUnauthorized, "expired_auth_token", "Authorization token has expired")
		}
		if !slices.Contains(t.key.caps, "readFiles") || t.key.bucketID != "" && t.key.bucketID != b.id {
			return errorf(http.StatusUnauthorized, "unauthorized", "application key may not read this bucket")
		}
		return nil
	}
	if d, ok := e.dlTokens[tok]; ok {
		if !e.clock().Before(d.expires) {
			return errorf(http.StatusUnauthorized, "expired_auth_token", "Authorization token has expired")
		}
		if d.bucketID != b.id || !strings.HasPrefix(name, d.prefix) {
			return errorf(http.StatusUnauthorized, "unauthorized", "download authorization does not cover this file")
		}
		return nil
	}
	return errorf(http.StatusUnauthorized, "bad_auth_token", "Invalid authorization token")
}

func (e *Emulator) downloadByName(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
	}
	rawBucket, rawName, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/file/"), "/")
	bucketName, err1 := decodeHeader(rawBucket)
	name, err2 := decodeHeader(rawName)
	if err := errors.Join(err1, err2); err != nil {
		return badRequest("bad download URL: %v", err)
	}
	e.mu.Lock()
	b, ok := e.byName[bucketName]
	if !ok {
		e.mu.Unlock()
		return errorf(http.StatusNotFound, "not_found", "Bucket does not exist: %s", bucketName)
	}
	if err := e.downloadAuthLocked(r, b, name); err != nil {
		e.mu.Unlock()
		return err
	}
	f := b.visible(name)
	if f == nil {
		e.mu.Unlock()
		return errorf(http.StatusNotFound, "not_found", "File with such name does not exist.")
	}
	snap := *f
	snap.info = maps.Clone(f.info)
	e.mu.Unlock()
	return serveFile(w, r, &snap)
}

func (e *Emulator) downloadByID(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
	}
	id := r.URL.Query().Get("fileId")
	e.mu.Lock()
	f, ok := e.files[id]
	if !ok || f.action != "upload" {
		e.mu.Unlock()
		return errorf(http.StatusNotFound, "not_found", "File not present: %s", id)
	}
	if err := e.downloadAuthLocked(r, e.buckets[f.bucketID], f.name); err != nil {
		e.mu.Unlock()
		return err
	}
	snap := *f
	snap.info = maps.Clone(f.info)
	e.mu.Unlock()
	return serveFile(w, r, &snap)
}

var errUnsatisfiable = errors.New("range not satisfiable")

// parseRange parses a single-range Range header against an object of size
// bytes and returns the first and last byte offsets.
func parseRange(h string, size int64) (first, last int64, err error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, fmt.Errorf("unsupported Range %q", h)
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, fmt.Errorf("bad Range %q", h)
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("bad Range %q", h)
		}
		if n == 0 || size == 0 {
			return 0, 0, errUnsatisfiable
		}
		n = min(n, size)
		return size - n, size - 1, nil
	}
	first, err = strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, fmt.Errorf("bad Range %q", h)
	}
	last = size - 1
	if b != "" {
		last, err = strconv.ParseInt(b, 10, 64)
		if err != nil || last < first {
			return 0, 0, fmt.Errorf("bad Range %q", h)
		}
	}
	if first >= size {
		return 0, 0, errUnsatisfiable
	}
	return first, min(last, size-1), nil
}

// infoHeaders maps the file info names B2 turns into plain response
// headers.
var infoHeaders = map[string]string{
	"b2-content-disposition": "Content-Disposition",
	"b2-content-language":    "Content-Language",
	"b2-expires":             "Expires",
	"b2-cache-control":       "Cache-Control",
	"b2-content-encoding":    "Content-Encoding",
}

// serveFile writes f (a snapshot no one else changes) as a download
// response, honouring a Range header.
func serveFile(w http.ResponseWriter, r *http.Request, f *file) *apiError {
	size := int64(len(f.data))
	first, last, status := int64(0), size-1, http.StatusOK
	if h := r.Header.Get("Range"); h != "" {
		var err error
		first, last, err = parseRange(h, size)
		if errors.Is(err, errUnsatisfiable) {
			e := errorf(http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "The range requested is not satisfiable")
			e.header = http.Header{"Content-Range": {fmt.Sprintf("bytes */%d", size)}}
			return e
		}
		if err != nil {
			return badRequest("%v", err)
		}
		status = http.StatusPartialContent
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.FormatInt(last-first+1, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Bz-File-Id", f.id)
	h.Set("X-Bz-File-Name", encodeHeader(f.name))
	h.Set("X-Bz-Content-Sha1", f.sha1)
	h.Set("X-Bz-Upload-Timestamp", strconv.FormatInt(f.stamp, 10))
	for k, v := range f.info {
		if std, ok := infoHeaders[k]; ok {
			h.Set(std, v)
			continue
		}
		h.Set("X-Bz-Info-"+k, encodeHeader(v))
	}
	if status == http.StatusPartialContent {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead || size == 0 {
		return nil
	}
	_, _ = w.Write(f.data[first : last+1])
	return nil
}

type copyFileRequest struct {
	SourceFileID        string            `json:"sourceFileId"`
	DestinationBucketID string            `json:"destinationBucketId"`
	FileName            string            `json:"fileName"`
	Range               string            `json:"range"`
	MetadataDirective   string            `json:"metadataDirective"`
	ContentType         string            `json:"contentType"`
	FileInfo            map[string]string `json:"fileInfo"`
}

// copySource returns the bytes of the source of a copy: the file with ID
// id, or the range rng ("bytes=a-b") of it. e.mu is held.
func (e *Emulator) copySourceLocked(key *appKey, id, rng string) (*file, []byte, *apiError) {
	src, err := e.fileLocked(key, id)
	if err != nil {
		return nil, nil, err
	}
	if src.action != "upload" {
		return nil, nil, errorf(http.StatusNotFound, "not_found", "File not present: %s", id)
	}
	data := src.data
	if rng != "" {
		first, last, perr := parseRange(rng, int64(len(data)))
		if errors.Is(perr, errUnsatisfiable) {
			return nil, nil, errorf(http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "The range requested is not satisfiable")
		}
		if perr != nil {
			return nil, nil, badRequest("%v", perr)
		}
		data = data[first : last+1]
	}
	return src, data, nil
}

func (e *Emulator) copyFile(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *copyFileRequest) (any, *apiError) {
		if !slices.Contains(key.caps, "readFiles") {
			return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is not allowed to readFiles")
		}
		src, data, err := e.copySourceLocked(key, req.SourceFileID, req.Range)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > maxPartBytes {
			return nil, badRequest("Copy source too big: %d", len(data))
		}
		dstID := req.DestinationBucketID
		if dstID == "" {
			dstID = src.bucketID
		}
		b, err := e.bucketLocked(key, dstID)
		if err != nil {
			return nil, err
		}
		if err := checkFileName(req.FileName); err != nil {
			return nil, err
		}
		ct, info := src.contentType, maps.Clone(src.info)
		switch req.MetadataDirective {
		case "", "COPY":
			if req.ContentType != "" || req.FileInfo != nil {
				return nil, badRequest("contentType and fileInfo must not be given with metadataDirective COPY")
			}
		case "REPLACE":
			if ct, err = resolveContentType(req.ContentType, req.FileName); err != nil {
				return nil, err
			}
			info = map[string]string{}
			for k, v := range req.FileInfo {
				info[strings.ToLower(k)] = v
			}
			if err := checkInfo(req.FileName, info); err != nil {
				return nil, err
			}
		default:
			return nil, badRequest("metadataDirective must be COPY or REPLACE")
		}
		sum := sha1.Sum(data)
		f := &file{
			id: e.newFileIDLocked(b), name: req.FileName, bucketID: b.id, action: "upload",
			contentType: ct, sha1: hex.EncodeToString(sum[:]), info: info, data: data, stamp: e.stampLocked(),
		}
		b.addVersion(f)
		e.files[f.id] = f
		reply := e.fileJSON(f)
		reply.Action = "copy"
		return reply, nil
	})
}

type copyPartRequest struct {
	SourceFileID string `json:"sourceFileId"`
	LargeFileID  string `json:"largeFileId"`
	PartNumber   int    `json:"partNumber"`
	Range        string `json:"range"`
}

func (e *Emulator) copyPart(w http.ResponseWriter, r *http.Request) *apiError {
	return jsonCall(e, w, r, "writeFiles", func(key *appKey, req *copyPartRequest) (any, *apiError) {
		if !slices.Contains(key.caps, "readFiles") {
			return nil, errorf(http.StatusUnauthorized, "unauthorized", "application key is not allowed to readFiles")
		}
		_, data, err := e.copySourceLocked(key, req.SourceFileID, req.Range)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > maxPartBytes {
			return nil, badRequest("part is larger than 5 GB")
		}
		f, err := e.unfinishedLocked(key, req.LargeFileID)
		if err != nil {
			return nil, err
		}
		if req.PartNumber < 1 || req.PartNumber > maxParts {
			return nil, badRequest("partNumber must be 1 to %d", maxParts)
		}
		sum := sha1.Sum(data)
		p := &part{number: req.PartNumber, data: data, sha1: hex.EncodeToString(sum[:]), stamp: e.stampLocked()}
		f.parts[p.number] = p
		return map[string]any{
			"fileId": f.id, "partNumber": p.number, "contentLength": len(data), "contentSha1": p.sha1,
			"uploadTimestamp": p.stamp,
		}, nil
	})
}
