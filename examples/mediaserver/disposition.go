package main

import (
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/strata-storage/strata/httpserve"
)

// maxNameBytes bounds the file name kept from an upload, in bytes of
// UTF-8, so that its encoded forms fit storage.MaxHTTPAttributeLen: the
// percent-encoded name takes at most three times as much, the ASCII
// fallback at most as much again.
const maxNameBytes = 200

// contentDisposition returns the Content-Disposition to store for an
// upload named filename (as the client sent it, perhaps hostile) of type
// ctype: "inline" for inert media (images, video, audio: httpserve.InertMedia),
// "attachment" for everything else, HTML, SVG, XML and scripts included,
// with the name both as RFC 6266's filename* (UTF-8, percent-encoded as
// RFC 8187 says) and as a quoted ASCII filename for clients that know
// only that one. Control characters, path separators and what is not
// valid UTF-8 are dropped from the name, which is cut to maxNameBytes
// (keeping a short extension). With no name left it returns "": nothing
// is stored, and httpserve's policy by type decides. The result is printable ASCII, as storage.ValidHTTPAttribute
// wants.
func contentDisposition(filename, ctype string) string {
	name := cleanName(filename)
	if name == "" {
		return ""
	}
	disp := "attachment"
	if httpserve.InertMedia(ctype) {
		disp = "inline"
	}
	return disp + `; filename="` + asciiName(name) + `"; filename*=UTF-8''` + encodeRFC8187(name)
}

// cleanName returns filename without control characters (C0, DEL, C1 and
// Unicode format characters such as the right-to-left override), path
// separators or invalid UTF-8, trimmed of spaces and dots at its ends,
// and cut to maxNameBytes at a character boundary, keeping an extension
// of up to 16 bytes.
func cleanName(filename string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(filename, "") {
		switch {
		case r == '/' || r == '\\':
			b.WriteByte('_')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
		default:
			b.WriteRune(r)
		}
	}
	name := strings.Trim(b.String(), " .")
	if len(name) <= maxNameBytes {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 16 || len(ext) == len(name) {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	stem = stem[:maxNameBytes-len(ext)]
	for !utf8.ValidString(stem) { // cut inside a character
		stem = stem[:len(stem)-1]
	}
	return stem + ext
}

// asciiName returns name for the quoted filename parameter: printable
// ASCII, with every other character, the quote, the backslash and "%"
// (which some browsers decode) replaced by "_".
func asciiName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < ' ' || r > '~' || r == '"' || r == '\\' || r == '%' {
			r = '_'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// encodeRFC8187 percent-encodes every byte of s that is not an attr-char
// of RFC 8187 (letters, digits and !#$&+-.^_`|~).
func encodeRFC8187(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// dispositionName returns the file name a stored Content-Disposition
// gives (its filename*, else its filename), or "" when it gives none.
func dispositionName(disp string) string {
	if disp == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(disp)
	if err != nil {
		return ""
	}
	return params["filename"]
}
