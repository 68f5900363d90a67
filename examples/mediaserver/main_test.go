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
	"mime/multipart"
	"net/http"
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
