package httpserve

import (
	"mime"
	"testing"
)

// FuzzMediaType checks that mediaType, with its shortcut for plain types,
// answers as mime.ParseMediaType does for every Content-Type.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{
		"image/jpeg", "video/mp4", "image/svg+xml", "application/vnd.ms-excel", "text/plain",
		"text/plain; charset=utf-8", "Image/JPEG", "image/", "/jpeg", "image", "", "image//jpeg",
		"image/jpeg/x", "a/b", "x-foo/bar.baz", "image/jpeg ", " image/jpeg", "image/jp eg",
		"text/html;", "image/x_y", "IMAGE/png; q=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ctype string) {
		got, ok := mediaType(ctype)
		want, _, err := mime.ParseMediaType(ctype)
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("mediaType(%q) = %q, %v; mime.ParseMediaType: %q, %v", ctype, got, ok, want, err)
		}
	})
}
