package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// need returns the path of a command the browser test needs. Without it the
// test skips with one line, except under CI=true, where it fails.
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := names[0] + " not found: install it (apt-get install " + names[0] + ") to run the browser test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestBrowserPlaysAndSeeks uploads a video to the example server, opens the
// player page in headless Chromium with a seek to 25 s, and checks that the
// browser fetched the video with range requests, that one of them started
// past the beginning (the seek), and that the page reports it played past
// the seek point. It saves a screenshot of the page and logs its path.
func TestBrowserPlaysAndSeeks(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := need(t, "chromium", "chromium-browser")
	ffmpeg := need(t, "ffmpeg")
	begin := time.Now()

	// A 30-second VP8 WebM of about 30 MB (noise does not compress) with a
	// keyframe every second: the browser cannot have buffered the point it
	// seeks to from its first request, so the seek is a new range request.
	video := filepath.Join(t.TempDir(), "clip.webm")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=duration=30:size=320x240:rate=25", "-vf", "noise=alls=60:allf=t",
		"-c:v", "libvpx", "-b:v", "8M", "-minrate", "8M", "-maxrate", "8M", "-bufsize", "8M",
		"-g", "25", "-deadline", "realtime", "-cpu-used", "8", "-an", video).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
	t.Logf("test video made in %v", time.Since(begin).Round(time.Millisecond))
	data, err := os.ReadFile(video)
	require.NoError(t, err)

	p := start(t, t.TempDir(), nil)
	resp, u := upload(t, p.url, data, "video/webm")
	require.Equal(t, 201, resp.StatusCode)
	page := p.url + "/?v=" + url.QueryEscape(u.Key) + "&t=25"

	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	browser := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--autoplay-policy=no-user-gesture-required", "--user-data-dir="+profile,
		"--remote-debugging-port=0", page)
	require.NoError(t, browser.Start())
	defer func() {
		browser.Process.Kill()
		browser.Wait()
	}()

	// Wait for the page to report that it played past the seek point.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.logs(), "played-past-seek") {
		if time.Now().After(deadline) {
			t.Fatalf("the player did not play past the seek point; server log:\n%s", p.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	browser.Process.Kill()
	browser.Wait()
	t.Logf("the page played past the seek point %v after the test began", time.Since(begin).Round(time.Millisecond))

	logs := p.logs()
	assert.Contains(t, logs, "event=\"seeked currentTime=25")
	checkRangeRequests(t, logs, u.Key, len(data), 25.0/30)

	// A screenshot of the player after the seek.
	shotDir := os.Getenv("STRATA_ARTIFACTS")
	if shotDir == "" {
		shotDir = os.TempDir()
	}
	shot := filepath.Join(shotDir, "strata-mediaserver-browser.png")
	out, err = exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--autoplay-policy=no-user-gesture-required",
		"--window-size=800,600", "--virtual-time-budget=8000", "--screenshot="+shot, page).CombinedOutput()
	require.NoError(t, err, "chromium --screenshot: %s", out)
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, 800, img.Bounds().Dx())
	t.Logf("screenshot of the player page after seeking: %s", shot)
}

// TestBrowserPlaysVideoOpenedDirectly uploads an MP4 and navigates headless
// Chromium straight to its /media/ URL, as a person opening a link does:
// the browser builds a media document of its own around the video, and
// that document must be able to load it. A Content-Security-Policy with
// sandbox gives the document an opaque origin, its request for the video
// is cross-origin, and the player stays black at 0:00. The test drives
// Chromium through the DevTools protocol (over --remote-debugging-pipe),
// checks that the video plays, seeks to 20 s and plays on from there, and
// that the seek reached the server as a range request past the first
// third of the file.
func TestBrowserPlaysVideoOpenedDirectly(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := need(t, "chromium", "chromium-browser")
	ffmpeg := need(t, "ffmpeg")

	// A 30-second H.264 MP4 of about 30 MB (noise does not compress), moov
	// first as a web server would serve it, a keyframe every second.
	video := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=duration=30:size=320x240:rate=25", "-vf", "noise=alls=60:allf=t",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-b:v", "8M", "-minrate", "8M", "-maxrate", "8M", "-bufsize", "8M",
		"-g", "25", "-movflags", "+faststart", "-an", video).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
	data, err := os.ReadFile(video)
	require.NoError(t, err)

	p := start(t, t.TempDir(), nil)
	resp, u := upload(t, p.url, data, "video/mp4")
	require.Equal(t, 201, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := startBrowser(ctx, t, chromium)
	page := b.open(ctx, t, p.url+u.URL)

	state := func() (videoState, error) {
		var s videoState
		err := page.eval(ctx, `(() => { const v = document.querySelector("video");
			if (!v) return JSON.stringify({missing: true});
			return JSON.stringify({t: v.currentTime, d: v.duration, paused: v.paused,
				ready: v.readyState, err: v.error ? v.error.code : 0}); })()`, &s)
		return s, err
	}
	waitFor := func(what string, ok func(videoState) bool) videoState {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			s, err := state()
			if err == nil && ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				// Under a sandbox the media document has no script context
				// at all, so DevTools cannot even read the player.
				t.Fatalf("%s: the video opened directly did not get there; its state: %+v, %v; response headers: %v; server log:\n%s",
					what, s, err, headersOf(t, p.url+u.URL), p.logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The media document autoplays (muted or not: the autoplay policy flag
	// allows it); ask it to play all the same in case it did not.
	s := waitFor("metadata", func(s videoState) bool { return s.Ready >= 1 || s.Err != 0 })
	require.Zero(t, s.Err, "the video failed to load; server log:\n%s", p.logs())
	assert.InDelta(t, 30, s.Duration, 0.5)
	require.NoError(t, page.eval(ctx, `document.querySelector("video").play().then(() => "{}", (e) => JSON.stringify(String(e)))`, nil))
	s = waitFor("playing from the start", func(s videoState) bool { return s.Time > 0.5 })
	t.Logf("playing: %+v", s)

	require.NoError(t, page.eval(ctx, `(() => { document.querySelector("video").currentTime = 20; return "{}"; })()`, nil))
	s = waitFor("playing past the seek to 20 s", func(s videoState) bool { return s.Time > 20.3 && s.Time < 29 })
	t.Logf("played past the seek: %+v", s)
	b.stop()

	checkRangeRequests(t, p.logs(), u.Key, len(data), 20.0/30)
}

// videoState is what the test reads of a <video> element.
type videoState struct {
	Missing  bool    `json:"missing"`
	Time     float64 `json:"t"`
	Duration float64 `json:"d"`
	Paused   bool    `json:"paused"`
	Ready    int     `json:"ready"`
	Err      int     `json:"err"`
}

// browser is a headless Chromium driven through the DevTools protocol over
// --remote-debugging-pipe: JSON messages ending in a NUL byte, commands on
// the browser's fd 3, answers and events on its fd 4.
type browser struct {
	cmd  *exec.Cmd
	in   *os.File // our end of fd 3
	mu   sync.Mutex
	next int
	wait map[int]chan cdpMessage
	done chan struct{}
}

type cdpMessage struct {
	ID     int             `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params any             `json:"params,omitempty"`
	Sess   string          `json:"sessionId,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startBrowser(ctx context.Context, t *testing.T, chromium string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	require.NoError(t, err)
	evR, evW, err := os.Pipe()
	require.NoError(t, err)
	b := &browser{in: cmdW, wait: map[int]chan cdpMessage{}, done: make(chan struct{})}
	b.cmd = exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--autoplay-policy=no-user-gesture-required", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, evW}
	var stderr bytes.Buffer
	b.cmd.Stderr = &stderr
	require.NoError(t, b.cmd.Start())
	cmdR.Close()
	evW.Close()
	go func() {
		defer close(b.done)
		rd := bufio.NewReader(evR)
		for {
			msg, err := rd.ReadBytes(0)
			if err != nil {
				return
			}
			var m cdpMessage
			if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
				continue // an event
			}
			b.mu.Lock()
			ch := b.wait[m.ID]
			delete(b.wait, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
	return b
}

func (b *browser) stop() {
	b.in.Close()
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
	}
	<-b.done
	b.cmd.Wait()
}

// call sends one command (to the browser, or to a page's session) and
// decodes its result into res, if res is not nil.
func (b *browser) call(ctx context.Context, session, method string, params, res any) error {
	ch := make(chan cdpMessage, 1)
	b.mu.Lock()
	b.next++
	id := b.next
	b.wait[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(cdpMessage{ID: id, Method: method, Params: params, Sess: session})
	if err != nil {
		return err
	}
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("sending %s to chromium: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if res != nil {
			return json.Unmarshal(m.Result, res)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("chromium exited during %s", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// page is a tab, attached through its own session.
type page struct {
	b       *browser
	session string
}

// open navigates a new tab straight to url, as typing it into the address
// bar does.
func (b *browser) open(ctx context.Context, t *testing.T, url string) *page {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	require.NoError(t, b.call(ctx, "", "Target.createTarget", map[string]any{"url": url}, &target))
	var att struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att))
	return &page{b: b, session: att.SessionID}
}

// eval evaluates a JavaScript expression in the page (awaiting it if it is
// a promise) and decodes its value, a JSON string, into res, if res is not
// nil. DevTools evaluates even where the page's policy forbids script, but
// not in a sandboxed document, which has no script context at all.
func (p *page) eval(ctx context.Context, expr string, res any) error {
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if r.Exception != nil {
		return fmt.Errorf("evaluating %s: %s", expr, r.Exception.Text)
	}
	if res == nil {
		return nil
	}
	s, ok := r.Result.Value.(string)
	if !ok {
		return fmt.Errorf("%s returned %v, not a JSON string", expr, r.Result.Value)
	}
	return json.Unmarshal([]byte(s), res)
}

// headersOf returns the headers of a HEAD of url, for failure messages.
func headersOf(t *testing.T, url string) http.Header {
	resp, err := http.Head(url)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	return resp.Header
}

// checkRangeRequests checks the server's log of the requests for the
// video key of size bytes: every one carried a Range header and was
// answered with the range (206) or, when Chromium revalidated bytes its
// media cache already held (If-None-Match, If-Modified-Since), with 304;
// and one started near the point the player seeked to, at the fraction
// seekAt of a video of constant bitrate: the seek reached the server.
func checkRangeRequests(t *testing.T, logs, key string, size int, seekAt float64) {
	t.Helper()
	re := regexp.MustCompile(`method=GET path=/media/` + regexp.QuoteMeta(key) + ` status=(\d+) duration=\S+ range="?bytes=(\d+)-[^ ]*( conditional=\S+)?`)
	matches := re.FindAllStringSubmatch(logs, -1)
	require.NotEmpty(t, matches, "no range requests for the video reached the server:\n%s", logs)
	partial, seek := 0, false
	for _, m := range matches {
		switch {
		case m[1] == "206":
			partial++
		case m[1] == "304" && m[3] != "":
		default:
			t.Errorf("a range request for the video was answered %s: %s", m[1], m[0])
		}
		start, _ := strconv.Atoi(m[2])
		// Within 20% of the file before the seek point (a player starts
		// a little early, at a keyframe or a cluster); the last few
		// percent hold the WebM cues, fetched before any seek.
		frac := float64(start) / float64(size)
		seek = seek || (frac > seekAt-0.2 && frac < seekAt+0.1 && frac < 0.95)
	}
	assert.Positive(t, partial, "the video was served with range requests (206)")
	assert.True(t, seek, "a range request near %.0f%% of the video shows the seek reached the server:\n%s", seekAt*100, logs)
	t.Logf("%d range requests for the video, %d answered 206", len(matches), partial)
}
