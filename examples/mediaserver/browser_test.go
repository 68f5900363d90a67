package main

import (
	"context"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	// Every request for the video carried a Range header; one started past
	// the beginning of the file: the seek.
	re := regexp.MustCompile(`method=GET path=/media/` + regexp.QuoteMeta(u.Key) + ` status=(\d+) duration=\S+ range="?bytes=(\d+)-`)
	matches := re.FindAllStringSubmatch(logs, -1)
	require.NotEmpty(t, matches, "no range requests for the video reached the server:\n%s", logs)
	maxStart := 0
	for _, m := range matches {
		assert.Equal(t, "206", m[1])
		start, _ := strconv.Atoi(m[2])
		maxStart = max(maxStart, start)
	}
	t.Logf("%d range requests for the video; the furthest started at byte %d of %d", len(matches), maxStart, len(data))
	assert.Greater(t, maxStart, len(data)/3, "a range request past the first third shows the seek reached the server")

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
