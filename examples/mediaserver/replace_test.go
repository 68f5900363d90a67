package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replace sends PUT /media/{key} with body and returns the status, the
// decoded JSON (on 200) and the body of the answer.
func replace(t *testing.T, base, key, token, ctype string, body []byte) (int, uploaded, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, base+"/media/"+key, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var u uploaded
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &u))
	}
	return resp.StatusCode, u, string(b)
}

// PUT /media/{key} replaces an existing object's bytes under the same key,
// for the admin only; a missing key, a bad key and a body over the limit
// are refused with clear answers and leave the object as it was.
func TestReplace(t *testing.T) {
	const token = "replace-admin-token"
	env := []string{"MEDIASERVER_ADMIN_TOKEN=" + token}
	for _, tc := range []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"local", func(*testing.T) []string { return nil }},
		{"tiered write-behind", func(t *testing.T) []string {
			return []string{"-remote", "file://" + t.TempDir(), "-write-mode", "behind", "-max-bytes", "64MiB"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, t.TempDir(), env, append(tc.args(t), "-max-upload", "64KiB")...)
			// The original, uploaded with a file name.
			var form bytes.Buffer
			mw := multipart.NewWriter(&form)
			fw, err := mw.CreateFormFile("file", "cat.png")
			require.NoError(t, err)
			png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 1000)...)
			fw.Write(png)
			mw.Close()
			resp, orig := upload(t, p.url, form.Bytes(), mw.FormDataContentType())
			require.Equal(t, http.StatusCreated, resp.StatusCode)

			// Not the admin: refused, the object unchanged.
			for _, tok := range []string{"", "wrong"} {
				code, _, _ := replace(t, p.url, orig.Key, tok, "image/png", []byte("nope"))
				assert.Equal(t, http.StatusUnauthorized, code, "token %q", tok)
			}
			r, b := get(t, p.url+orig.URL, nil)
			require.Equal(t, http.StatusOK, r.StatusCode)
			assert.Equal(t, png, b)

			// The replacement: the same key, the new bytes and type, the
			// old file name.
			jpeg := append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte{2}, 2000)...)
			code, u, text := replace(t, p.url, orig.Key, token, "image/jpeg", jpeg)
			require.Equal(t, http.StatusOK, code, text)
			assert.Equal(t, orig.Key, u.Key)
			assert.Equal(t, orig.URL, u.URL)
			assert.Equal(t, int64(len(jpeg)), u.Size)
			assert.Equal(t, "image/jpeg", u.ContentType)
			assert.NotEqual(t, orig.SHA256, u.SHA256)
			r, b = get(t, p.url+orig.URL, nil)
			require.Equal(t, http.StatusOK, r.StatusCode)
			assert.Equal(t, jpeg, b)
			assert.Equal(t, "image/jpeg", r.Header.Get("Content-Type"))
			assert.Contains(t, r.Header.Get("Content-Disposition"), `filename="cat.png"`)

			// Over the size limit: 413, and the replacement stays.
			code, _, _ = replace(t, p.url, orig.Key, token, "image/jpeg", make([]byte, 65<<10))
			assert.Equal(t, http.StatusRequestEntityTooLarge, code)
			_, b = get(t, p.url+orig.URL, nil)
			assert.Equal(t, jpeg, b)

			// A key no object has: 404, and nothing is created.
			missing := "2026/01/01/nosuchmediaid"
			code, _, text = replace(t, p.url, missing, token, "image/png", png)
			assert.Equal(t, http.StatusNotFound, code)
			assert.Contains(t, text, `"2026/01/01/nosuchmediaid"`)
			assert.Contains(t, text, "POST /upload")
			r, _ = get(t, p.url+"/media/"+missing, nil)
			assert.Equal(t, http.StatusNotFound, r.StatusCode)

			// A key no store accepts (a control character): 400, quoted.
			code, _, text = replace(t, p.url, "2026/a%01b", token, "image/png", png)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.Contains(t, text, `"2026/a\x01b"`)

			// After a delete, the key is gone for good.
			req, _ := http.NewRequest(http.MethodDelete, p.url+orig.URL, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			dresp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			dresp.Body.Close()
			require.Equal(t, http.StatusNoContent, dresp.StatusCode)
			code, _, _ = replace(t, p.url, orig.Key, token, "image/png", png)
			assert.Equal(t, http.StatusNotFound, code)

			p.stop(t)
			assert.NotContains(t, p.logs(), token, "the token never reaches the log")
			assert.NotContains(t, p.logs(), "level=ERROR")
		})
	}
}
