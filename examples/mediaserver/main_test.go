package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mediaserver-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mediaserver")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		// -race needs cgo; fall back to a plain build.
		build = exec.Command("go", "build", "-o", binary, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building mediaserver:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running mediaserver.
type proc struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr bytes.Buffer
	stdout bytes.Buffer
	done   chan error
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func start(t *testing.T, dataDir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan error, 1)}
	p.cmd = exec.Command(binary, append([]string{"-addr", "127.0.0.1:0", "-data", dataDir, "-v"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stdout.WriteString(line + "\n")
			p.mu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				urls <- m[1]
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case p.url = <-urls:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("mediaserver did not start; stderr:\n%s", p.logs())
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "mediaserver exit; stderr:\n%s", p.logs())
	case <-time.After(60 * time.Second):
		t.Fatal("mediaserver did not stop after SIGTERM")
	}
}

type uploaded struct {
	Key, URL, SHA256 string
	Size             int64
	ContentType      string `json:"content_type"`
}

func upload(t *testing.T, base string, body []byte, ctype string) (*http.Response, uploaded) {
	t.Helper()
	resp, err := http.Post(base+"/upload", ctype, bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var u uploaded
	if resp.StatusCode == http.StatusCreated {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&u))
	}
	return resp, u
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestUploadRangeRevalidate(t *testing.T) {
	p := start(t, t.TempDir(), nil)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	resp, u := upload(t, p.url, data, "video/webm")
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Regexp(t, `^\d{4}/\d{2}/\d{2}/[a-z2-7]{26}$`, u.Key, "an unguessable key under the date")
	assert.Equal(t, int64(len(data)), u.Size)
	sum := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(sum[:]), u.SHA256)

	r, b := get(t, p.url+u.URL, nil)
	require.Equal(t, 200, r.StatusCode)
	assert.Equal(t, data, b)
	assert.Equal(t, "video/webm", r.Header.Get("Content-Type"))
	etag := r.Header.Get("ETag")
	require.NotEmpty(t, etag)

	r, b = get(t, p.url+u.URL, map[string]string{"Range": "bytes=1000-1999"})
	require.Equal(t, 206, r.StatusCode)
	assert.Equal(t, data[1000:2000], b)
	assert.Equal(t, fmt.Sprintf("bytes 1000-1999/%d", len(data)), r.Header.Get("Content-Range"))

	r, b = get(t, p.url+u.URL, map[string]string{"If-None-Match": etag})
	assert.Equal(t, http.StatusNotModified, r.StatusCode)
	assert.Empty(t, b)

	// A multipart form upload, as the page and curl -F send it.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "cat.png")
	require.NoError(t, err)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 1000)...)
	fw.Write(png)
	mw.Close()
	resp, u2 := upload(t, p.url, form.Bytes(), mw.FormDataContentType())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	r, b = get(t, p.url+u2.URL, nil)
	assert.Equal(t, png, b)
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))

	r, _ = get(t, p.url+"/media/2026/01/01/doesnotexist", nil)
	assert.Equal(t, 404, r.StatusCode)
	p.stop(t)
}

func TestUploadLimitCheckedWhileStreaming(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, nil, "-max-upload", "100KiB")
	resp, _ := upload(t, p.url, make([]byte, 100<<10), "application/octet-stream")
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "exactly the limit is accepted")

	// Over the limit with no Content-Length: refused while streaming.
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 32<<10)
		for i := 0; i < 10; i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest("POST", p.url+"/upload", pr)
	require.NoError(t, err)
	req.ContentLength = -1
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.StatusCode)

	// Over the limit by Content-Length: refused before reading.
	resp, _ = upload(t, p.url, make([]byte, 200<<10), "application/octet-stream")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	p.stop(t)

	// Only the one accepted upload is on disk.
	var files []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(path, ".strata") {
			files = append(files, path)
		}
		return nil
	})
	assert.Len(t, files, 1, "files: %v", files)
}

func TestDeleteNeedsAdminToken(t *testing.T) {
	p := start(t, t.TempDir(), []string{"MEDIASERVER_ADMIN_TOKEN=s3cret-admin-token"})
	_, u := upload(t, p.url, []byte("bye"), "text/plain")
	del := func(tok string) int {
		req, _ := http.NewRequest("DELETE", p.url+u.URL, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, del(""))
	assert.Equal(t, http.StatusUnauthorized, del("wrong"))
	r, _ := get(t, p.url+u.URL, nil)
	assert.Equal(t, 200, r.StatusCode)
	assert.Equal(t, http.StatusNoContent, del("s3cret-admin-token"))
	r, _ = get(t, p.url+u.URL, nil)
	assert.Equal(t, 404, r.StatusCode)
	p.stop(t)
	assert.NotContains(t, p.logs(), "s3cret-admin-token", "the token never reaches the log")
}

func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	_, b := get(t, base+"/metrics", nil)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, series+" "), 64)
			require.NoError(t, err)
			return v
		}
	}
	return 0
}

func TestMetricsFollowTraffic(t *testing.T) {
	p := start(t, t.TempDir(), nil)
	putSeries := `strata_operations_total{op="put",provider="media",result="ok"}`
	getSeries := `strata_operations_total{op="get",provider="media",result="ok"}`
	before := metricValue(t, p.url, putSeries)
	for i := 0; i < 3; i++ {
		_, u := upload(t, p.url, []byte(fmt.Sprintf("object %d", i)), "text/plain")
		get(t, p.url+u.URL, nil)
	}
	assert.Equal(t, before+3, metricValue(t, p.url, putSeries))
	assert.Equal(t, float64(3), metricValue(t, p.url, getSeries))
	assert.Equal(t, float64(3*len("object 0")), metricValue(t, p.url, `strata_bytes_total{direction="in",provider="media"}`))
	p.stop(t)
}

// TestSIGTERMDuringUploads sends SIGTERM while uploads stream in: every
// upload that was acknowledged (201) must be readable after a restart.
func TestSIGTERMDuringUploads(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, nil)
	const n = 12
	type result struct {
		code int
		u    uploaded
		body []byte
	}
	results := make(chan result, n)
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		go func() {
			body := bytes.Repeat([]byte{byte('A' + i)}, 256<<10)
			pr, pw := io.Pipe()
			go func() {
				// Stream slowly, so the signal lands mid-upload.
				for off := 0; off < len(body); off += 16 << 10 {
					if off == 32<<10 {
						started <- struct{}{}
					}
					if _, err := pw.Write(body[off : off+16<<10]); err != nil {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", p.url+"/upload", pr)
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- result{code: -1}
				return
			}
			defer resp.Body.Close()
			var u uploaded
			if resp.StatusCode == http.StatusCreated {
				json.NewDecoder(resp.Body).Decode(&u)
			}
			results <- result{code: resp.StatusCode, u: u, body: body}
		}()
	}
	for i := 0; i < n; i++ {
		<-started
	}
	p.stop(t)
	var acked []result
	for i := 0; i < n; i++ {
		r := <-results
		if r.code == http.StatusCreated {
			acked = append(acked, r)
		}
	}
	t.Logf("%d of %d uploads acknowledged before shutdown", len(acked), n)
	assert.NotEmpty(t, acked, "graceful shutdown lets uploads in progress finish")
	assert.Contains(t, p.stdout.String(), "shutting down")

	p2 := start(t, dir, nil)
	for _, r := range acked {
		resp, b := get(t, p2.url+r.u.URL, nil)
		require.Equal(t, 200, resp.StatusCode, r.u.Key)
		assert.Equal(t, r.body, b, r.u.Key)
	}
	p2.stop(t)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-write-mode", "sideways"}, {"-max-bytes", "lots"}, {"extra"}, {"-remote", "nosuch://x"}} {
		out, err := exec.CommandContext(context.Background(), binary, append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...)...).CombinedOutput()
		require.Error(t, err, "%v", args)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		assert.Len(t, lines, 1, "one clear line for %v, got:\n%s", args, out)
		assert.True(t, strings.HasPrefix(lines[0], "mediaserver: "), "%s", out)
	}
}

// TestTieredWriteBehindFlushesOnSIGTERM runs the server as a tiered store
// (cache in -data, a file:// remote) in write-behind mode: uploads are
// acknowledged from local disk, and SIGTERM flushes them to the remote.
func TestTieredWriteBehindFlushesOnSIGTERM(t *testing.T) {
	cacheDir, remoteDir := t.TempDir(), t.TempDir()
	p := start(t, cacheDir, nil, "-remote", "file://"+remoteDir, "-write-mode", "behind", "-max-bytes", "64MiB")
	var keys []uploaded
	for i := 0; i < 5; i++ {
		resp, u := upload(t, p.url, bytes.Repeat([]byte{byte(i)}, 10000+i), "application/octet-stream")
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		keys = append(keys, u)
	}
	r, b := get(t, p.url+keys[0].URL, map[string]string{"Range": "bytes=0-9"})
	assert.Equal(t, 206, r.StatusCode)
	assert.Equal(t, bytes.Repeat([]byte{0}, 10), b)
	assert.Contains(t, string(must(get(t, p.url+"/metrics", nil))), "strata_tiered_pending_uploads")
	p.stop(t)
	for i, u := range keys {
		data, err := os.ReadFile(filepath.Join(remoteDir, filepath.FromSlash(u.Key)))
		require.NoError(t, err, "upload %d reached the remote by shutdown", i)
		assert.Equal(t, bytes.Repeat([]byte{byte(i)}, 10000+i), data)
	}

	// A new server on an empty cache serves everything from the remote.
	p2 := start(t, t.TempDir(), nil, "-remote", "file://"+remoteDir)
	r, b = get(t, p2.url+keys[4].URL, nil)
	assert.Equal(t, 200, r.StatusCode)
	assert.Equal(t, bytes.Repeat([]byte{4}, 10004), b)
	p2.stop(t)
}

func must(_ *http.Response, b []byte) []byte { return b }

// TestShortBodyIs400 sends a body shorter than its Content-Length and
// closes the connection's write side: the client's mistake is a 400, not a
// server error, and nothing is logged as an ERROR or stored.
func TestShortBodyIs400(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, nil)
	for _, tc := range []struct{ name, ctype, body string }{
		{"raw", "video/mp4", strings.Repeat("x", 50)},
		{"sniffed", "application/octet-stream", strings.Repeat("x", 50)},
		{"multipart", "multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\nxxxxxxxx"},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
		require.NoError(t, err)
		fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100\r\n\r\n%s", tc.ctype, tc.body)
		conn.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, tc.name)
		msg, _ := io.ReadAll(resp.Body)
		conn.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", tc.name, msg)
	}
	p.stop(t)
	assert.NotContains(t, p.logs(), "level=ERROR")
	assert.Empty(t, storedFiles(t, dir), "nothing stored")
}

// storedFiles lists the regular files under dir, strata's own excepted.
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(path, ".strata") {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// TestUploadedVideoGetsItsType uploads real ffmpeg-made MP4 and QuickTime
// files the way curl -F file=@clip.mp4 does (a multipart part of type
// application/octet-stream: curl knows no .mp4) and as a raw body of that
// type: the server stores the video's real type, so that its direct link
// plays inline rather than downloads.
func TestUploadedVideoGetsItsType(t *testing.T) {
	ffmpeg := need(t, "ffmpeg")
	dir := t.TempDir()
	mk := func(name string, args ...string) []byte {
		out := filepath.Join(dir, name)
		cmd := exec.Command(ffmpeg, append(append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi",
			"-i", "testsrc=duration=1:size=64x64:rate=5", "-c:v", "libx264", "-pix_fmt", "yuv420p"}, args...), out)...)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "ffmpeg: %s", b)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		return data
	}
	mp4, mov := mk("clip.mp4"), mk("clip.mov")

	p := start(t, t.TempDir(), nil)
	curlForm := func(name string, data []byte) (*http.Response, uploaded) {
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, err := mw.CreateFormFile("file", name) // Content-Type: application/octet-stream, as curl
		require.NoError(t, err)
		fw.Write(data)
		mw.Close()
		return upload(t, p.url, form.Bytes(), mw.FormDataContentType())
	}
	check := func(how string, resp *http.Response, u uploaded, want string, data []byte) {
		t.Helper()
		require.Equal(t, http.StatusCreated, resp.StatusCode, how)
		assert.Equal(t, want, u.ContentType, how)
		r, b := get(t, p.url+u.URL, nil)
		assert.Equal(t, data, b, how)
		assert.Equal(t, want, r.Header.Get("Content-Type"), how)
		if strings.HasPrefix(how, "curl -F") {
			assert.True(t, strings.HasPrefix(r.Header.Get("Content-Disposition"), "inline; filename="), "%s: shown inline, not downloaded", how)
		} else {
			assert.Empty(t, r.Header.Get("Content-Disposition"), "%s: shown inline, not downloaded", how)
		}
		assert.NotContains(t, r.Header.Get("Content-Security-Policy"), "sandbox", how)
	}
	resp, u := curlForm("clip.mp4", mp4)
	check("curl -F file=@clip.mp4", resp, u, "video/mp4", mp4)
	resp, u = curlForm("clip.mov", mov)
	check("curl -F file=@clip.mov", resp, u, "video/quicktime", mov)
	resp, u = upload(t, p.url, mp4, "application/octet-stream")
	check("curl --data-binary @clip.mp4 -H 'Content-Type: application/octet-stream'", resp, u, "video/mp4", mp4)

	// An HTML file passed off as an image is stored as what it is, and
	// served sandboxed as an attachment.
	resp, u = curlForm("cat.jpg", []byte("<!DOCTYPE html><script>alert(document.cookie)</script>"))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", u.ContentType)
	r, _ := get(t, p.url+u.URL, nil)
	assert.Equal(t, `attachment; filename="cat.jpg"; filename*=UTF-8''cat.jpg`, r.Header.Get("Content-Disposition"))
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Security-Policy"), "sandbox;"))
	p.stop(t)
}

// TestFlagErrorsSayWhat: a flag that would be ignored is refused, and a
// bad value is quoted whole in the one line that says why.
func TestFlagErrorsSayWhat(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-write-mode", "behind"}, "-write-mode needs -remote"},
		{[]string{"-write-mode", "through"}, "-write-mode needs -remote"},
		{[]string{"-max-bytes", "1GiB"}, "-max-bytes needs -remote"},
		{[]string{"-max-idle", "1h"}, "-max-idle needs -remote"},
		{[]string{"-staleness", "5s"}, "-staleness needs -remote"},
		{[]string{"-staleness", "-1s", "-remote", "mem://"}, "-staleness must not be negative"},
		{[]string{"-max-upload", "10XB"}, `"10XB"`},
		{[]string{"-max-upload", "-5MiB"}, `"-5MiB"`},
		{[]string{"-max-bytes", "lots", "-remote", "mem://"}, `"lots"`},
	} {
		dir := t.TempDir()
		// A server that accepted the flags would run until killed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, binary, append([]string{"-addr", "127.0.0.1:0", "-data", dir}, tc.args...)...).CombinedOutput()
		cancel()
		require.Error(t, err, "%v", tc.args)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		assert.Len(t, lines, 1, "one clear line for %v, got:\n%s", tc.args, out)
		assert.True(t, strings.HasPrefix(lines[0], "mediaserver: "), "%s", out)
		assert.Contains(t, lines[0], tc.want, "%v", tc.args)
		entries, _ := os.ReadDir(dir)
		assert.Empty(t, entries, "%v: nothing written to -data", tc.args)
	}
}

// TestSymlinkInDataDirIs403 plants a symbolic link in -data that leads out
// of it: the server refuses to follow it with a 403, not a 500, and logs
// no ERROR.
func TestSymlinkInDataDirIs403(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "2026/01/01"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(dir, "2026/01/01/evil")))
	p := start(t, dir, nil)
	r, b := get(t, p.url+"/media/2026/01/01/evil", nil)
	assert.Equal(t, http.StatusForbidden, r.StatusCode)
	assert.NotContains(t, string(b), "root:x")
	p.stop(t)
	assert.NotContains(t, p.logs(), "level=ERROR")
}

// runFails runs the server with args and returns its output, requiring
// that it refuse to start.
func runFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, append([]string{"-addr", "127.0.0.1:0"}, args...)...).CombinedOutput()
	require.Error(t, err, "the server started with %v:\n%s", args, out)
	require.NoError(t, ctx.Err(), "the server started with %v:\n%s", args, out)
	return string(out)
}

// TestDataDirOfTheOtherMode: a -data directory a local-only server filled
// is not silently turned into a tiered store's cache (which would hide
// every file and write its folders among them); the server refuses and
// points at strata migrate. The other way round, a cache directory is not
// served as a local store. A directory that suits the mode still starts.
func TestDataDirOfTheOtherMode(t *testing.T) {
	dir, remote := t.TempDir(), t.TempDir()
	p := start(t, dir, nil)
	_, u := upload(t, p.url, []byte("an old cat picture"), "image/jpeg")
	p.stop(t)
	before := storedFiles(t, dir)

	out := runFails(t, "-data", dir, "-remote", "file://"+remote)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, 1, "one clear line:\n%s", out)
	assert.Contains(t, out, "strata migrate")
	assert.Contains(t, out, u.Key, "names a file it would hide")
	assert.Equal(t, before, storedFiles(t, dir), "nothing written to the media tree")
	for _, d := range []string{"lock", "objects", "index"} {
		assert.NoFileExists(t, filepath.Join(dir, d))
		assert.NoDirExists(t, filepath.Join(dir, d))
	}
	// The files are where they were: the local server still serves them.
	p = start(t, dir, nil)
	r, b := get(t, p.url+u.URL, nil)
	assert.Equal(t, 200, r.StatusCode)
	assert.Equal(t, "an old cat picture", string(b))
	p.stop(t)

	// A cache directory, used once with -remote, starts again with it and
	// is refused without it.
	cacheDir := t.TempDir()
	p = start(t, cacheDir, nil, "-remote", "file://"+remote)
	_, u = upload(t, p.url, []byte("a new one"), "image/jpeg")
	p.stop(t)
	out = runFails(t, "-data", cacheDir)
	assert.Contains(t, out, "disk cache of a tiered store")
	p = start(t, cacheDir, nil, "-remote", "file://"+remote)
	r, b = get(t, p.url+u.URL, nil)
	assert.Equal(t, 200, r.StatusCode)
	assert.Equal(t, "a new one", string(b))
	p.stop(t)

	// An empty or missing -data suits either mode.
	p = start(t, filepath.Join(t.TempDir(), "new"), nil, "-remote", "file://"+remote)
	p.stop(t)
}

// TestUploadKeepsFileName uploads files under hostile names (quotes, CR LF,
// a parameter of their own, non-ASCII, very long) as a browser's form
// does, and checks that the file is served with its name, cleaned, in one
// Content-Disposition header that a browser decodes, inline for an image
// and as an attachment for HTML.
func TestUploadKeepsFileName(t *testing.T) {
	p := start(t, t.TempDir(), nil)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...)
	html := []byte("<!DOCTYPE html><script>alert(document.cookie)</script>")
	for _, tc := range []struct {
		name     string
		data     []byte
		typ      string
		wantName string
	}{
		{"a \"b\" \\c.png", png, "inline", `a "b" _c.png`},
		{"x.png\"; filename=\"y.html", png, "inline", `x.png"; filename="y.html`},
		{"evil\r\nSet-Cookie: s=1.png", png, "inline", "evilSet-Cookie: s=1.png"},
		{"Ünïcødé 写真.png", png, "inline", "Ünïcødé 写真.png"},
		{strings.Repeat("long", 500) + ".png", png, "inline", strings.Repeat("long", 49) + ".png"},
		{"page.png", html, "attachment", "page.png"},
	} {
		// The name goes in filename*, as RFC 7578 allows, so that any byte
		// reaches the server (Go's multipart writer escapes only quotes).
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": tc.name})},
			"Content-Type":        {"application/octet-stream"},
		})
		require.NoError(t, err)
		fw.Write(tc.data)
		mw.Close()
		resp, u := upload(t, p.url, form.Bytes(), mw.FormDataContentType())
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%q", tc.name)
		r, b := get(t, p.url+u.URL, nil)
		require.Equal(t, tc.data, b)
		cds := r.Header.Values("Content-Disposition")
		require.Len(t, cds, 1, "%q", tc.name)
		assert.Empty(t, r.Header.Get("Set-Cookie"))
		typ, params, err := mime.ParseMediaType(cds[0])
		require.NoError(t, err, "%q: %s", tc.name, cds[0])
		assert.Equal(t, tc.typ, typ, "%q", tc.name)
		assert.Equal(t, tc.wantName, params["filename"], "%q: %s", tc.name, cds[0])
		assert.Len(t, params, 1, "%q: %s", tc.name, cds[0])
	}
	p.stop(t)
}
