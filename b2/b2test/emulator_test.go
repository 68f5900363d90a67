package b2test_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
)

// These tests talk to the emulator with plain HTTP requests shaped like the
// examples of Backblaze's B2 native API documentation, not through a
// client library.

type client struct {
	t         *testing.T
	srv       *b2test.Server
	accountID string
	token     string
	apiURL    string
	dlURL     string
	auth      map[string]any
}

func authorize(t *testing.T, srv *b2test.Server, keyID, key string) *client {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/b2api/v3/b2_authorize_account", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(keyID+":"+key)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var auth map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&auth))
	storage := auth["apiInfo"].(map[string]any)["storageApi"].(map[string]any)
	return &client{
		t: t, srv: srv, auth: auth,
		accountID: auth["accountId"].(string), token: auth["authorizationToken"].(string),
		apiURL: storage["apiUrl"].(string), dlURL: storage["downloadUrl"].(string),
	}
}

func master(t *testing.T, srv *b2test.Server) *client {
	id, key := srv.MasterKey()
	return authorize(t, srv, id, key)
}

// call POSTs a JSON API call and returns the status and decoded body.
func (c *client) call(name string, args any) (int, map[string]any) {
	c.t.Helper()
	body, err := json.Marshal(args)
	require.NoError(c.t, err)
	req, err := http.NewRequest(http.MethodPost, c.apiURL+"/b2api/v3/"+name, bytes.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Authorization", c.token)
	return do(c.t, req)
}

func (c *client) mustCall(name string, args any) map[string]any {
	c.t.Helper()
	status, body := c.call(name, args)
	require.Equal(c.t, http.StatusOK, status, "%s: %v", name, body)
	return body
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &m), "body %q", data)
	}
	return resp.StatusCode, m
}

// requireError checks B2's error body: exactly status, code and message.
func requireError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	require.Equal(t, wantStatus, status, "body %v", body)
	require.Len(t, body, 3, "status, code and message: %v", body)
	require.EqualValues(t, wantStatus, body["status"])
	require.Equal(t, wantCode, body["code"])
	require.Contains(t, body, "message")
}

func (c *client) bucketID(name string) string {
	c.t.Helper()
	body := c.mustCall("b2_list_buckets", map[string]any{"accountId": c.accountID, "bucketName": name})
	buckets := body["buckets"].([]any)
	require.Len(c.t, buckets, 1)
	return buckets[0].(map[string]any)["bucketId"].(string)
}

type uploadTarget struct{ url, token string }

func (c *client) uploadURL(bucketID string) uploadTarget {
	c.t.Helper()
	body := c.mustCall("b2_get_upload_url", map[string]any{"bucketId": bucketID})
	return uploadTarget{body["uploadUrl"].(string), body["authorizationToken"].(string)}
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// upload sends b2_upload_file. name is sent percent-encoded.
func upload(t *testing.T, u uploadTarget, encodedName, contentType, sha string, data []byte, info map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.url, bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Authorization", u.token)
	req.Header.Set("X-Bz-File-Name", encodedName)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Bz-Content-Sha1", sha)
	for k, v := range info {
		req.Header.Set("X-Bz-Info-"+k, v)
	}
	return do(t, req)
}

func (c *client) put(bucketID, name string, data []byte) map[string]any {
	c.t.Helper()
	status, body := upload(c.t, c.uploadURL(bucketID), name, "text/plain", sha1Hex(data), data, nil)
	require.Equal(c.t, http.StatusOK, status, "%v", body)
	return body
}

func (c *client) download(path string, header ...string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.dlURL+path, nil)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", c.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestAuthorizeAccount(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	storage := c.auth["apiInfo"].(map[string]any)["storageApi"].(map[string]any)
	require.Equal(t, srv.URL, storage["apiUrl"])
	require.Equal(t, srv.URL, storage["downloadUrl"])
	require.EqualValues(t, 5_000_000, storage["absoluteMinimumPartSize"])
	require.EqualValues(t, 100_000_000, storage["recommendedPartSize"])
	require.Equal(t, "storageApi", storage["infoType"])
	require.Nil(t, storage["bucketId"], "the master key is not restricted")
	require.Contains(t, storage["capabilities"], "writeFiles")
	require.True(t, strings.HasPrefix(c.token, "4_"))

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/b2api/v3/b2_authorize_account", nil)
	req.SetBasicAuth("b2test-master-key-id", "wrong")
	status, b := do(t, req)
	requireError(t, status, b, http.StatusUnauthorized, "unauthorized")

	status, b = c.call("b2_no_such_call", map[string]any{})
	requireError(t, status, b, http.StatusNotFound, "not_found")
	c.token = "4_bogus"
	status, b = c.call("b2_list_buckets", map[string]any{"accountId": c.accountID})
	requireError(t, status, b, http.StatusUnauthorized, "bad_auth_token")
}

func TestUploadAndDownloadByName(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	data := []byte("hello, B2 world")
	// Name and info values are percent-encoded, "+" decodes as a space.
	status, f := upload(t, c.uploadURL(bid), "dir/a%20b%2Bc+d.txt", "b2/x-auto", sha1Hex(data), data,
		map[string]string{"author": "J%C3%BCrgen", "src_last_modified_millis": "1700000000000"})
	require.Equal(t, http.StatusOK, status, "%v", f)
	require.Equal(t, "dir/a b+c d.txt", f["fileName"])
	require.Equal(t, "upload", f["action"])
	require.EqualValues(t, len(data), f["contentLength"])
	require.Equal(t, sha1Hex(data), f["contentSha1"])
	require.Equal(t, "text/plain; charset=utf-8", f["contentType"], "b2/x-auto guesses from the extension")
	require.Equal(t, map[string]any{"author": "Jürgen", "src_last_modified_millis": "1700000000000"}, f["fileInfo"])
	require.Equal(t, bid, f["bucketId"])
	require.NotZero(t, f["uploadTimestamp"])
	id := f["fileId"].(string)

	path := "/file/" + b2test.DefaultBucket + "/dir/a%20b%2Bc%20d.txt"
	resp := c.download(path)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, string(data), body(t, resp))
	require.Equal(t, id, resp.Header.Get("X-Bz-File-Id"))
	require.Equal(t, "dir/a%20b%2Bc%20d.txt", resp.Header.Get("X-Bz-File-Name"))
	require.Equal(t, sha1Hex(data), resp.Header.Get("X-Bz-Content-Sha1"))
	require.Equal(t, "J%C3%BCrgen", resp.Header.Get("X-Bz-Info-author"))
	require.NotEmpty(t, resp.Header.Get("X-Bz-Upload-Timestamp"))
	require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))

	resp = c.download(path, "Range", "bytes=7-8")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, "B2", body(t, resp))
	require.Equal(t, "bytes 7-8/15", resp.Header.Get("Content-Range"))

	resp = c.download(path, "Range", "bytes=-5")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, "world", body(t, resp))

	resp = c.download(path, "Range", "bytes=10-100")
	require.Equal(t, "world", body(t, resp), "a range past the end is cut")

	resp = c.download(path, "Range", "bytes=15-")
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	require.Equal(t, "bytes */15", resp.Header.Get("Content-Range"))
	var e map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, "range_not_satisfiable", e["code"])

	req, _ := http.NewRequest(http.MethodHead, c.dlURL+path, nil)
	req.Header.Set("Authorization", c.token)
	hresp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	hresp.Body.Close()
	require.Equal(t, http.StatusOK, hresp.StatusCode)
	require.Equal(t, "15", hresp.Header.Get("Content-Length"))

	resp = c.download("/file/" + b2test.DefaultBucket + "/missing")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp = c.download("/b2api/v3/b2_download_file_by_id?fileId=" + id)
	require.Equal(t, string(data), body(t, resp))

	// No authorization: the bucket is private.
	anon, err := http.Get(c.dlURL + path)
	require.NoError(t, err)
	anon.Body.Close()
	require.Equal(t, http.StatusUnauthorized, anon.StatusCode)
}

func TestUploadChecksums(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	data := []byte("checked content")
	u := c.uploadURL(bid)

	status, f := upload(t, u, "a", "text/plain", "do_not_verify", data, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "unverified:"+sha1Hex(data), f["contentSha1"])

	withSum := append(append([]byte{}, data...), sha1Hex(data)...)
	status, f = upload(t, u, "b", "text/plain", "hex_digits_at_end", withSum, nil)
	require.Equal(t, http.StatusOK, status, "%v", f)
	require.EqualValues(t, len(data), f["contentLength"])
	require.Equal(t, sha1Hex(data), f["contentSha1"])

	status, f = upload(t, u, "c", "text/plain", sha1Hex([]byte("other")), data, nil)
	requireError(t, status, f, http.StatusBadRequest, "bad_request")
	status, f = upload(t, u, "c", "text/plain", "", data, nil)
	requireError(t, status, f, http.StatusBadRequest, "bad_request")
	status, f = upload(t, u, "bad//name", "text/plain", sha1Hex(data), data, nil)
	requireError(t, status, f, http.StatusBadRequest, "bad_request")
	info := map[string]string{}
	for i := range 11 {
		info[string(rune('a'+i))] = "v"
	}
	status, f = upload(t, u, "c", "text/plain", sha1Hex(data), data, info)
	requireError(t, status, f, http.StatusBadRequest, "bad_request")
	names := map[string]bool{}
	for _, v := range srv.Versions(b2test.DefaultBucket) {
		names[v.Name] = true
	}
	require.Equal(t, map[string]bool{"a": true, "b": true}, names, "refused uploads store nothing")
}

func TestUploadURLRules(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	data := []byte("x")
	u := c.uploadURL(bid)

	// One upload at a time per upload URL.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		req, _ := http.NewRequest(http.MethodPost, u.url, pr)
		req.ContentLength = 1
		req.Header.Set("Authorization", u.token)
		req.Header.Set("X-Bz-File-Name", "slow")
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("X-Bz-Content-Sha1", sha1Hex(data))
		resp, err := http.DefaultClient.Do(req)
		if assert.NoError(t, err) {
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		}
	})
	require.Eventually(t, func() bool { return srv.Calls(b2test.APIUploadFile) == 1 }, 5*time.Second, time.Millisecond)
	// The first upload is waiting for its body; this one must be refused.
	status, f := upload(t, u, "fast", "text/plain", sha1Hex(data), data, nil)
	requireError(t, status, f, http.StatusBadRequest, "bad_request")
	require.Contains(t, f["message"], "more than one upload")
	_, _ = pw.Write(data)
	_ = pw.Close()
	wg.Wait()

	// A busy upload URL answers 503 for good; a new one works.
	srv.FailUploads(1)
	status, f = upload(t, u, "k", "text/plain", sha1Hex(data), data, nil)
	requireError(t, status, f, http.StatusServiceUnavailable, "service_unavailable")
	status, f = upload(t, u, "k", "text/plain", sha1Hex(data), data, nil)
	requireError(t, status, f, http.StatusServiceUnavailable, "service_unavailable")
	status, _ = upload(t, c.uploadURL(bid), "k", "text/plain", sha1Hex(data), data, nil)
	require.Equal(t, http.StatusOK, status)

	// Expired tokens: the upload URL's and the account's.
	u = c.uploadURL(bid)
	srv.ExpireTokens()
	status, f = upload(t, u, "k", "text/plain", sha1Hex(data), data, nil)
	requireError(t, status, f, http.StatusUnauthorized, "expired_auth_token")
	status, f = c.call("b2_get_upload_url", map[string]any{"bucketId": bid})
	requireError(t, status, f, http.StatusUnauthorized, "expired_auth_token")
	c = master(t, srv)
	status, _ = upload(t, c.uploadURL(bid), "k", "text/plain", sha1Hex(data), data, nil)
	require.Equal(t, http.StatusOK, status)
}

func TestLargeFile(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, &b2test.Options{MinPartSize: 10})
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	start := func(name string) string {
		f := c.mustCall("b2_start_large_file", map[string]any{
			"bucketId": bid, "fileName": name, "contentType": "video/mp4", "fileInfo": map[string]string{"owner": "bob"},
		})
		require.Equal(t, "start", f["action"])
		return f["fileId"].(string)
	}
	uploadPart := func(fileID string, n int, data []byte) (int, map[string]any) {
		p := c.mustCall("b2_get_upload_part_url", map[string]any{"fileId": fileID})
		req, _ := http.NewRequest(http.MethodPost, p["uploadUrl"].(string), bytes.NewReader(data))
		req.Header.Set("Authorization", p["authorizationToken"].(string))
		req.Header.Set("X-Bz-Part-Number", strings.TrimSpace(string(rune('0'+n))))
		req.Header.Set("X-Bz-Content-Sha1", sha1Hex(data))
		return do(t, req)
	}
	parts := [][]byte{[]byte("0123456789ab"), []byte("cdefghijklmn"), []byte("op")}
	id := start("movie.mp4")
	var shas []string
	for i, p := range parts {
		status, r := uploadPart(id, i+1, p)
		require.Equal(t, http.StatusOK, status, "%v", r)
		require.Equal(t, sha1Hex(p), r["contentSha1"])
		shas = append(shas, sha1Hex(p))
	}
	lp := c.mustCall("b2_list_parts", map[string]any{"fileId": id, "maxPartCount": 2})
	require.Len(t, lp["parts"], 2)
	require.EqualValues(t, 3, lp["nextPartNumber"])
	un := c.mustCall("b2_list_unfinished_large_files", map[string]any{"bucketId": bid})
	require.Len(t, un["files"], 1)
	require.Empty(t, srv.Versions(b2test.DefaultBucket), "an unfinished large file is not a version")

	status, e := c.call("b2_finish_large_file", map[string]any{"fileId": id, "partSha1Array": []string{shas[0], shas[2], shas[1]}})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")
	f := c.mustCall("b2_finish_large_file", map[string]any{"fileId": id, "partSha1Array": shas})
	require.Equal(t, "upload", f["action"])
	require.EqualValues(t, 26, f["contentLength"])
	require.Equal(t, "none", f["contentSha1"])
	require.Equal(t, map[string]any{"owner": "bob"}, f["fileInfo"])
	resp := c.download("/file/" + b2test.DefaultBucket + "/movie.mp4")
	require.Equal(t, "0123456789abcdefghijklmnop", body(t, resp))
	require.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))

	// A part below the minimum size (but the last), one part only.
	id = start("small-parts")
	uploadPart(id, 1, []byte("short"))
	uploadPart(id, 2, []byte("0123456789ab"))
	status, e = c.call("b2_finish_large_file", map[string]any{"fileId": id, "partSha1Array": []string{sha1Hex([]byte("short")), sha1Hex([]byte("0123456789ab"))}})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")
	id2 := start("one-part")
	uploadPart(id2, 1, []byte("0123456789ab"))
	status, e = c.call("b2_finish_large_file", map[string]any{"fileId": id2, "partSha1Array": []string{sha1Hex([]byte("0123456789ab"))}})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")

	for _, id := range []string{id, id2} {
		r := c.mustCall("b2_cancel_large_file", map[string]any{"fileId": id})
		require.Equal(t, id, r["fileId"])
	}
	un = c.mustCall("b2_list_unfinished_large_files", map[string]any{"bucketId": bid})
	require.Empty(t, un["files"])
	require.Nil(t, un["nextFileId"])
	status, e = c.call("b2_cancel_large_file", map[string]any{"fileId": id})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")
}

func names(files any) []string {
	var out []string
	for _, f := range files.([]any) {
		m := f.(map[string]any)
		out = append(out, m["action"].(string)+":"+m["fileName"].(string))
	}
	return out
}

func TestListFileNamesAndVersions(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	for _, n := range []string{"a", "b/1", "b/2", "b/3/x", "c", "d"} {
		c.put(bid, n, []byte(n))
	}
	c.mustCall("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "c"})
	second := c.put(bid, "a", []byte("a2"))

	page := c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 2})
	require.Equal(t, []string{"upload:a", "upload:b/1"}, names(page["files"]))
	require.Equal(t, "b/2", page["nextFileName"])
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "startFileName": "b/2", "maxFileCount": 10})
	require.Equal(t, []string{"upload:b/2", "upload:b/3/x", "upload:d"}, names(page["files"]), "hidden c is not listed")
	require.Nil(t, page["nextFileName"])
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "prefix": "b/"})
	require.Equal(t, []string{"upload:b/1", "upload:b/2", "upload:b/3/x"}, names(page["files"]))
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/"})
	require.Equal(t, []string{"upload:a", "folder:b/", "upload:d"}, names(page["files"]))
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "prefix": "b/", "delimiter": "/"})
	require.Equal(t, []string{"upload:b/1", "upload:b/2", "folder:b/3/"}, names(page["files"]))
	status, e := c.call("b2_list_file_names", map[string]any{"bucketId": bid, "maxFileCount": 10001})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")

	v := c.mustCall("b2_list_file_versions", map[string]any{"bucketId": bid, "maxFileCount": 3})
	require.Equal(t, []string{"upload:a", "upload:a", "upload:b/1"}, names(v["files"]))
	require.Equal(t, second["fileId"], v["files"].([]any)[0].(map[string]any)["fileId"], "newest version first")
	v = c.mustCall("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "c", "maxFileCount": 1})
	require.Equal(t, []string{"hide:c"}, names(v["files"]))
	require.Equal(t, "c", v["nextFileName"])
	v = c.mustCall("b2_list_file_versions", map[string]any{"bucketId": bid, "startFileName": "c", "startFileId": v["nextFileId"], "maxFileCount": 1})
	require.Equal(t, []string{"upload:c"}, names(v["files"]))
}

// With a delimiter, b2_list_file_names returns one "folder" entry for the
// visible names under a common prefix, counted as one entry against
// maxFileCount and by Listed; a folder whose names are all hidden is not
// listed; nextFileName resumes past the folders already returned; and a
// listing that starts inside a folder returns that folder.
func TestListFileNamesDelimiter(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	for _, n := range []string{"a", "b/1", "b/2", "b/3/x", "c/1", "d", "e/1", "e/2"} {
		c.put(bid, n, []byte(n))
	}
	c.mustCall("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "c/1"})
	srv.ResetCalls()

	page := c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/", "maxFileCount": 2})
	require.Equal(t, []string{"upload:a", "folder:b/"}, names(page["files"]))
	require.Equal(t, "d", page["nextFileName"], "past b/ and the hidden c/1")
	require.Equal(t, 2, srv.Listed("b2_list_file_names"))
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/", "maxFileCount": 2, "startFileName": "d"})
	require.Equal(t, []string{"upload:d", "folder:e/"}, names(page["files"]))
	require.Nil(t, page["nextFileName"])
	require.Equal(t, 4, srv.Listed("b2_list_file_names"))

	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/", "startFileName": "b/2"})
	require.Equal(t, []string{"folder:b/", "upload:d", "folder:e/"}, names(page["files"]), "a start inside a folder")
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/", "startFileName": "b0"})
	require.Equal(t, []string{"upload:d", "folder:e/"}, names(page["files"]), "a start past a folder")
	page = c.mustCall("b2_list_file_names", map[string]any{"bucketId": bid, "delimiter": "/", "prefix": "c/"})
	require.Empty(t, names(page["files"]), "all hidden")
	require.Equal(t, 9, srv.Listed("b2_list_file_names"))
	require.Equal(t, 5, srv.Calls("b2_list_file_names"))

	v := c.mustCall("b2_list_file_versions", map[string]any{"bucketId": bid, "delimiter": "/"})
	require.Equal(t, []string{"upload:a", "folder:b/", "folder:c/", "upload:d", "folder:e/"}, names(v["files"]),
		"versions list hidden names too")
	require.Equal(t, 5, srv.Listed("b2_list_file_versions"))
	srv.ResetCalls()
	require.Zero(t, srv.Listed("b2_list_file_names"))
}

func TestHideAndDelete(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	f := c.put(bid, "k", []byte("v"))
	h := c.mustCall("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "k"})
	require.Equal(t, "hide", h["action"])
	status, e := c.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "k"})
	requireError(t, status, e, http.StatusBadRequest, "already_hidden")
	status, e = c.call("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "never"})
	requireError(t, status, e, http.StatusNotFound, "not_found")
	require.Equal(t, http.StatusNotFound, c.download("/file/"+b2test.DefaultBucket+"/k").StatusCode)

	// Deleting the hide marker makes the file visible again.
	c.mustCall("b2_delete_file_version", map[string]any{"fileName": "k", "fileId": h["fileId"]})
	require.Equal(t, http.StatusOK, c.download("/file/"+b2test.DefaultBucket+"/k").StatusCode)
	status, e = c.call("b2_delete_file_version", map[string]any{"fileName": "other", "fileId": f["fileId"]})
	requireError(t, status, e, http.StatusBadRequest, "file_not_present")
	c.mustCall("b2_delete_file_version", map[string]any{"fileName": "k", "fileId": f["fileId"]})
	require.Empty(t, srv.Versions(b2test.DefaultBucket))
	status, e = c.call("b2_get_file_info", map[string]any{"fileId": f["fileId"]})
	requireError(t, status, e, http.StatusNotFound, "not_found")
}

func TestRestrictedKey(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, &b2test.Options{Buckets: []string{"mine", "theirs"}})
	m := master(t, srv)
	theirs := m.bucketID("theirs")
	id, key := srv.CreateKey("mine")
	c := authorize(t, srv, id, key)
	storage := c.auth["apiInfo"].(map[string]any)["storageApi"].(map[string]any)
	require.Equal(t, "mine", storage["bucketName"])
	require.NotEmpty(t, storage["bucketId"])

	status, e := c.call("b2_list_buckets", map[string]any{"accountId": c.accountID})
	requireError(t, status, e, http.StatusUnauthorized, "unauthorized")
	status, e = c.call("b2_list_buckets", map[string]any{"accountId": c.accountID, "bucketName": "theirs"})
	requireError(t, status, e, http.StatusUnauthorized, "unauthorized")
	mine := c.bucketID("mine")
	require.Equal(t, storage["bucketId"], mine)
	c.put(mine, "k", []byte("v"))
	status, e = c.call("b2_get_upload_url", map[string]any{"bucketId": theirs})
	requireError(t, status, e, http.StatusUnauthorized, "unauthorized")
	status, e = c.call("b2_list_file_names", map[string]any{"bucketId": theirs})
	requireError(t, status, e, http.StatusUnauthorized, "unauthorized")
}

func TestFaultInjection(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	args := map[string]any{"bucketId": bid}

	srv.ResetCalls()
	srv.FailNext("b2_list_file_names", 2, http.StatusInternalServerError)
	for range 2 {
		status, e := c.call("b2_list_file_names", args)
		requireError(t, status, e, http.StatusInternalServerError, "internal_error")
	}
	c.mustCall("b2_list_file_names", args)
	require.Equal(t, 3, srv.Calls("b2_list_file_names"))
	require.Equal(t, map[string]int{"b2_list_file_names": 3}, srv.CallCounts())

	srv.InjectFault("b2_list_file_names", 1, b2test.Fault{Status: 429, Code: "too_many_requests", RetryAfter: 1500 * time.Millisecond})
	body, _ := json.Marshal(args)
	req, _ := http.NewRequest(http.MethodPost, c.apiURL+"/b2api/v3/b2_list_file_names", bytes.NewReader(body))
	req.Header.Set("Authorization", c.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))

	srv.FailAll(http.StatusServiceUnavailable)
	status, e := c.call("b2_list_buckets", map[string]any{"accountId": c.accountID})
	requireError(t, status, e, http.StatusServiceUnavailable, "service_unavailable")
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/b2api/v3/b2_authorize_account", nil)
	id, key := srv.MasterKey()
	req.SetBasicAuth(id, key)
	status, e = do(t, req)
	requireError(t, status, e, http.StatusServiceUnavailable, "service_unavailable")
	srv.FailAll(0)
	c.mustCall("b2_list_file_names", args)

	srv.ExpireTokens()
	status, e = c.call("b2_list_file_names", args)
	requireError(t, status, e, http.StatusUnauthorized, "expired_auth_token")

	c = master(t, srv)
	srv.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, c.apiURL+"/b2api/v3/b2_list_file_names", bytes.NewReader(body))
	req.Header.Set("Authorization", c.token)
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	srv.ClearFaults()
	c.mustCall("b2_list_file_names", args)
}

func TestDownloadAuthorization(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	srv := b2test.NewServer(t, &b2test.Options{Clock: clock})
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	c.put(bid, "pub/x", []byte("public"))
	c.put(bid, "priv/y", []byte("private"))
	a := c.mustCall("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "pub/", "validDurationInSeconds": 60})
	tok := a["authorizationToken"].(string)
	get := func(path string) int {
		resp, err := http.Get(c.dlURL + "/file/" + b2test.DefaultBucket + "/" + path + "?Authorization=" + tok)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get("pub/x"))
	require.Equal(t, http.StatusUnauthorized, get("priv/y"), "outside the prefix")
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	require.Equal(t, http.StatusUnauthorized, get("pub/x"), "expired")
	status, e := c.call("b2_get_download_authorization", map[string]any{"bucketId": bid, "fileNamePrefix": "", "validDurationInSeconds": 0})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")
}

func TestCopyFile(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	c := master(t, srv)
	bid := c.bucketID(b2test.DefaultBucket)
	src := c.put(bid, "src", []byte("0123456789"))
	f := c.mustCall("b2_copy_file", map[string]any{"sourceFileId": src["fileId"], "fileName": "dst"})
	require.Equal(t, "copy", f["action"])
	require.Equal(t, "text/plain", f["contentType"])
	require.Equal(t, "0123456789", body(t, c.download("/file/"+b2test.DefaultBucket+"/dst")))
	f = c.mustCall("b2_copy_file", map[string]any{"sourceFileId": src["fileId"], "fileName": "part", "range": "bytes=2-4",
		"metadataDirective": "REPLACE", "contentType": "application/x-test", "fileInfo": map[string]string{"k": "v"}})
	require.EqualValues(t, 3, f["contentLength"])
	require.Equal(t, map[string]any{"k": "v"}, f["fileInfo"])
	require.Equal(t, "234", body(t, c.download("/file/"+b2test.DefaultBucket+"/part")))
	status, e := c.call("b2_copy_file", map[string]any{"sourceFileId": src["fileId"], "fileName": "x", "contentType": "a/b"})
	requireError(t, status, e, http.StatusBadRequest, "bad_request")
}
