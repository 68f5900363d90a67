package stratablob

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/strata-storage/strata/storage"
)

// Key escaping.
//
// gocloud.dev/blob accepts any UTF-8 key; strata's keys follow
// storage.ValidKey. The bucket maps one onto the other reversibly, and is
// the identity on every valid strata key that holds no "%" followed by two
// upper-case hex digits, "-" or the end of its segment. The mapping keeps
// the segments: every "/" of a gocloud key is a "/" of its strata key, so
// that a delimiter listing by "/" is done by the provider. Within a
// segment:
//
//   - a backslash, a control character (U+0000 to U+001F, U+007F to
//     U+009F) and a "%" that could be read as an escape (one followed by
//     two upper-case hex digits, by "-" or by the end of the segment) are
//     written as "%XX", one per UTF-8 byte;
//   - an empty segment (a leading "/", "//", a trailing "/") is written
//     "%", and a "." or ".." segment "%2E" or "%2E%2E";
//   - a segment whose escaped form is longer than storage.MaxSegmentLen is
//     cut into pieces of at most maxPiece bytes, each but the last
//     followed by "%-" and a "/".
//
// Unescaping joins the pieces of a segment (a segment ending in "%-" goes
// on in the next), reads "%" alone as an empty segment and decodes every
// "%XX"; any other "%" is itself.

// maxPiece is the longest piece, before its "%-", of a segment cut because
// its escaped form is longer than storage.MaxSegmentLen.
const maxPiece = storage.MaxSegmentLen - len(continued)

// continued ends a piece of a segment that goes on after the next "/".
const continued = "%-"

// emptySegment is how an empty segment is written.
const emptySegment = "%"

const upperHex = "0123456789ABCDEF"

// isUpperHex reports whether r is one of the digits an escape is written in.
func isUpperHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'A' && r <= 'F'
}

// mustEscape reports whether r, the rune of seg at byte offset i, must be
// escaped.
func mustEscape(seg string, i int, r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == '\\':
		return true
	case r != '%':
		return false
	}
	next, n := utf8.DecodeRuneInString(seg[i+1:])
	if n == 0 || next == '-' || isUpperHex(next) {
		return true
	}
	return false
}

// appendEscapedRune appends r as "%XX", one per byte of its UTF-8 form.
func appendEscapedRune(b []byte, r rune) []byte {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, c := range buf[:n] {
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
}

// escapeUnits returns the escaped form of seg's runes, one string per rune,
// for a segment that is neither empty nor "." nor "..".
func escapeUnits(seg string) []string {
	units := make([]string, 0, len(seg))
	for i, r := range seg {
		if mustEscape(seg, i, r) {
			units = append(units, string(appendEscapedRune(nil, r)))
		} else {
			units = append(units, string(r))
		}
	}
	return units
}

// escapeSegment writes the escaped form of one segment of a key to b.
func escapeSegment(b *strings.Builder, seg string) {
	switch seg {
	case "":
		b.WriteString(emptySegment)
		return
	case ".":
		b.WriteString("%2E")
		return
	case "..":
		b.WriteString("%2E%2E")
		return
	}
	units := escapeUnits(seg)
	total := 0
	for _, u := range units {
		total += len(u)
	}
	// Cut the segment into pieces while what is left is too long for one.
	for total > storage.MaxSegmentLen {
		n := 0
		for len(units) > 0 && n+len(units[0]) <= maxPiece {
			b.WriteString(units[0])
			n += len(units[0])
			units = units[1:]
		}
		b.WriteString(continued)
		b.WriteByte('/')
		total -= n
	}
	for _, u := range units {
		b.WriteString(u)
	}
}

// escapeKey returns the strata key that stores the gocloud key k. It fails
// with an error that matches storage.ErrInvalidKey when k is not valid
// UTF-8, is empty, or is too long even escaped.
func escapeKey(k string) (string, error) {
	if k == "" {
		return "", keyErr(k, "key is empty")
	}
	if !utf8.ValidString(k) {
		return "", keyErr(k, "key is not valid UTF-8")
	}
	var b strings.Builder
	for i, seg := range strings.Split(k, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		escapeSegment(&b, seg)
	}
	nk := b.String()
	if err := storage.ValidKey(nk); err != nil {
		// What escaping cannot fix: the length of the whole key.
		return "", keyErr(k, fmt.Sprintf("escaped key is not a valid strata key (%v)", err))
	}
	return nk, nil
}

// keyErr is the error of a gocloud key that cannot be stored.
func keyErr(k, reason string) error {
	return &storage.Error{Op: "escape", Provider: "stratablob", Key: k, Kind: storage.ErrInvalidKey, Err: reasonError(reason)}
}

type reasonError string

func (e reasonError) Error() string { return string(e) }

// escapePrefix returns a strata prefix under which every key that escapes
// a gocloud key starting with p lies. It may be shorter than that: the
// listing keeps only the keys whose unescaped form starts with p.
func escapePrefix(p string) string {
	if p == "" {
		return ""
	}
	var b strings.Builder
	last := strings.LastIndexByte(p, '/')
	if last >= 0 {
		// The whole segments before the last "/" escape as in a key.
		for i, seg := range strings.Split(p[:last], "/") {
			if i > 0 {
				b.WriteByte('/')
			}
			escapeSegment(&b, seg)
		}
		b.WriteByte('/')
	}
	part := p[last+1:]
	if part == "" || part == "." || part == ".." || !utf8.ValidString(part) {
		// "." may go on as "." ("%2E"), ".." or ".x": leave it out.
		return b.String()
	}
	// The escaped form of part's runes, but for a "%" at its end, whose
	// form depends on what follows; at most maxPiece bytes, so that it is
	// a prefix of a segment both when the whole segment is cut into pieces
	// and when it is not.
	n := 0
	for i, r := range part {
		if r == '%' && i == len(part)-1 {
			break
		}
		var u []byte
		if mustEscape(part+"x", i, r) { // "x": part goes on
			u = appendEscapedRune(nil, r)
		} else {
			u = utf8.AppendRune(nil, r)
		}
		if n+len(u) > maxPiece {
			break
		}
		b.Write(u)
		n += len(u)
	}
	return b.String()
}

// unescapeKey returns the gocloud key a strata key (or common prefix,
// ending in "/") stores. A key that no gocloud key escapes to (one written
// by another program, such as "a%41") is returned decoded all the same.
func unescapeKey(nk string) string {
	var b strings.Builder
	b.Grow(len(nk))
	var seg strings.Builder // the pieces of the current segment
	segs := strings.Split(nk, "/")
	first := true
	for i, piece := range segs {
		if strings.HasSuffix(piece, continued) && i < len(segs)-1 {
			seg.WriteString(piece[:len(piece)-len(continued)])
			continue
		}
		seg.WriteString(piece)
		if !first {
			b.WriteByte('/')
		}
		first = false
		decodeSegment(&b, seg.String())
		seg.Reset()
	}
	return b.String()
}

// decodeSegment writes the segment s stands for to b.
func decodeSegment(b *strings.Builder, s string) {
	if s == emptySegment {
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isUpperHex(rune(s[i+1])) && isUpperHex(rune(s[i+2])) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// isContinued reports whether the common prefix np (ending in "/") ends
// in a piece of a segment that goes on, rather than a whole segment.
func isContinued(np string) bool {
	return strings.HasSuffix(np, continued+"/")
}
