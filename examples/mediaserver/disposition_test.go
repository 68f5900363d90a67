package main

import (
	"mime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// TestContentDispositionOfHostileNames checks that any file name a client
// sends gives a Content-Disposition that stores (printable ASCII, short
// enough), cannot split or add a header or parameter, and that a browser
// decodes back to the name without what is dangerous in it.
func TestContentDispositionOfHostileNames(t *testing.T) {
	long := strings.Repeat("é", 400) + ".jpg"
	for _, tc := range []struct {
		name, ctype  string
		wantType     string
		wantName     string // as decoded from filename*
		wantFallback string // the quoted ASCII filename
	}{
		{"cat.png", "image/png", "inline", "cat.png", "cat.png"},
		{"clip.mp4", "video/mp4", "inline", "clip.mp4", "clip.mp4"},
		{"song.mp3", "audio/mpeg", "inline", "song.mp3", "song.mp3"},
		{"page.html", "text/html; charset=utf-8", "attachment", "page.html", "page.html"},
		{"pic.svg", "image/svg+xml", "attachment", "pic.svg", "pic.svg"},
		{"feed.xml", "application/xml", "attachment", "feed.xml", "feed.xml"},
		{"x.js", "text/javascript", "attachment", "x.js", "x.js"},
		{`a"b\c.png`, "image/png", "inline", `a"b_c.png`, `a_b_c.png`},
		{"evil\r\nSet-Cookie: a=b.png", "image/png", "inline", "evilSet-Cookie: a=b.png", "evilSet-Cookie: a=b.png"},
		{`x"; filename="y.html`, "image/png", "inline", `x"; filename="y.html`, `x_; filename=_y.html`},
		{"résumé 文件.jpg", "image/jpeg", "inline", "résumé 文件.jpg", "r_sum_ __.jpg"},
		{"100%25 off.png", "image/png", "inline", "100%25 off.png", "100_25 off.png"},
		{"gpj.\u202eexe", "application/octet-stream", "attachment", "gpj.exe", "gpj.exe"},
		{"../../etc/passwd", "text/plain", "attachment", "_.._etc_passwd", "_.._etc_passwd"},
		{"bad\xffutf8.png", "image/png", "inline", "badutf8.png", "badutf8.png"},
		{long, "image/jpeg", "inline", strings.Repeat("é", (maxNameBytes-4)/2) + ".jpg", strings.Repeat("_", (maxNameBytes-4)/2) + ".jpg"},
	} {
		cd := contentDisposition(tc.name, tc.ctype)
		require.NoError(t, storage.ValidHTTPAttribute("Content-Disposition", cd), "%q", tc.name)
		typ, params, err := mime.ParseMediaType(cd)
		require.NoError(t, err, "%q: %s", tc.name, cd)
		assert.Equal(t, tc.wantType, typ, "%q", tc.name)
		assert.Equal(t, tc.wantName, params["filename"], "%q: the name from filename*", tc.name)
		assert.Len(t, params, 1, "%q: only the file name: %s", tc.name, cd)
		// The fallback alone, as a client that knows no filename* reads it.
		i := strings.Index(cd, "; filename*=")
		require.Positive(t, i)
		_, fb, err := mime.ParseMediaType(cd[:i])
		require.NoError(t, err)
		assert.Equal(t, tc.wantFallback, fb["filename"], "%q: fallback", tc.name)
	}
	assert.Empty(t, contentDisposition("", "image/png"), "no name: nothing stored")
	assert.Empty(t, contentDisposition("\r\n\x00 ..", "image/png"), "nothing left of the name")
}

// A replacement without a file name of its own keeps the old one: the name
// read back from the stored Content-Disposition is the name stored.
func TestDispositionNameRoundTrip(t *testing.T) {
	for _, name := range []string{"cat.png", "été à la plage.jpg", `a "quoted"; name.txt`, "日本語.mp4"} {
		disp := contentDisposition(name, "image/png")
		assert.Equal(t, cleanName(name), dispositionName(disp), "%q", disp)
	}
	assert.Empty(t, dispositionName(""))
	assert.Empty(t, dispositionName("inline"))
	assert.Empty(t, dispositionName(`attachment; filename="unterminated`))
}
