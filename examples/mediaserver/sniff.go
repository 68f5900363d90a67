package main

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
)

// sniffLen is how much of an upload's start uploadType looks at: what
// http.DetectContentType reads.
const sniffLen = 512

// uploadType returns the content type to store for an upload whose client
// said given (perhaps nothing), named filename (perhaps nothing), starting
// with head. The client's type is kept unless it is missing or
// application/octet-stream, which is what curl -F and many clients send
// for a file they do not recognise (curl knows no .mp4): a video stored
// under it would download rather than play. Then the content decides:
// the brand of an ISO base media file (MP4, QuickTime, M4A, 3GP, HEIF,
// AVIF; net/http's sniffer knows only the MP4s that list an mp4 brand),
// then net/http's sniffer, and last the file name's extension (through
// mime.TypeByExtension, which reads the system's mime.types). What none of them recognises stays
// application/octet-stream. The type stored is what the media server
// serves, and httpserve's policy by type applies to it: a sniffed HTML
// file is stored as text/html, and served sandboxed as an attachment.
func uploadType(given, filename string, head []byte) string {
	if len(head) == 0 {
		return given // nothing to sniff
	}
	if given != "" {
		if mt, _, err := mime.ParseMediaType(given); err == nil && mt != "application/octet-stream" {
			return given
		}
	}
	if ct := isoBMFF(head); ct != "" {
		return ct
	}
	if ct := http.DetectContentType(head); ct != "application/octet-stream" {
		return ct
	}
	if ext := path.Ext(filename); ext != "" {
		if ct := mime.TypeByExtension(ext); ct != "" {
			return ct
		}
	}
	return "application/octet-stream"
}

// isoBMFF returns the media type of an ISO base media file (MP4 and its
// relatives) from the major brand of its leading ftyp box, or "".
func isoBMFF(head []byte) string {
	if len(head) < 12 || !bytes.Equal(head[4:8], []byte("ftyp")) {
		return ""
	}
	switch brand := string(head[8:12]); {
	case brand == "qt  ":
		return "video/quicktime"
	case brand == "M4A " || brand == "M4B " || brand == "M4P ":
		return "audio/mp4"
	case strings.HasPrefix(brand, "3gp") || strings.HasPrefix(brand, "3ge") || strings.HasPrefix(brand, "3gg"):
		return "video/3gpp"
	case strings.HasPrefix(brand, "3g2"):
		return "video/3gpp2"
	case brand == "avif" || brand == "avis":
		return "image/avif"
	case brand == "heic" || brand == "heix" || brand == "heim" || brand == "heis":
		return "image/heic"
	case brand == "mif1" || brand == "msf1":
		return "image/heif"
	case strings.HasPrefix(brand, "iso"), strings.HasPrefix(brand, "mp4"), strings.HasPrefix(brand, "M4V"),
		brand == "avc1", brand == "dash", brand == "f4v ", brand == "mmp4", brand == "MSNV", brand == "XAVC":
		return "video/mp4"
	default:
		return "" // a brand of something else (Canon raw, JPEG 2000 video, ...)
	}
}

// peek reads up to n bytes from the start of r and returns them, with a
// reader that yields the whole of r, those bytes first. A read error is
// not returned here but by that reader, in its place, so that the upload
// meets it where it meets every other.
func peek(r io.Reader, n int) ([]byte, io.Reader) {
	head := make([]byte, n)
	k := 0
	var err error
	for k < n && err == nil {
		var m int
		m, err = r.Read(head[k:])
		k += m
	}
	head = head[:k]
	if err != nil {
		return head, io.MultiReader(bytes.NewReader(head), errReader{err})
	}
	return head, io.MultiReader(bytes.NewReader(head), r)
}

// errReader fails every Read with its error.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
