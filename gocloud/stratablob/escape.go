package stratablob

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/strata-storage/strata/storage"
)

// Key escaping.
//
// gocloud.dev/blob accepts any UTF-8 key; strata's keys follow
// storage.ValidKey. The bucket maps one onto the other reversibly, with
// escapes of the form gocloud's own drivers use ("__0x5c__" for a
// backslash), and is the identity on every valid strata key that holds no
// "__0x". The mapping keeps the segments: every "/" of a gocloud key is a
// "/" of its strata key, so that a listing by "/" is done by the provider.
// Within a segment:
//
//   - a backslash, a control character (U+0000 to U+001F, U+007F to
//     U+009F) and the first "_" of every "__0x" are written "__0x<hex>__",
//     the rune's number in lower-case hex;
//   - an empty segment (a leading "/", "//", a trailing "/") is written
//     "__0x__", and a "." or ".." segment "__0x2e__" or
//     "__0x2e____0x2e__";
//   - a segment whose escaped form is longer than storage.MaxSegmentLen is
//     cut into pieces of at most maxPiece bytes, each but the last followed
//     by "__0x-__" and a "/".
//
// A strata segment is read from left to right: "__0x<hex>__" is the rune
// it names, "__0x-__" at the end says that the segment goes on after the
// next "/", "__0x__" alone is an empty segment, and anything else is
// itself. Since every "__0x" of a gocloud key is broken by the escape of
// its "_", the reading finds exactly the escapes and marks the writing
// made.

const (
	escStart = "__0x"
	escEnd   = "__"
	// continued ends a piece of a segment that goes on after the next "/".
	continued = "__0x-__"
	// emptySegment is how an empty segment is written.
	emptySegment = "__0x__"
	// maxPiece is the longest piece, before its continued mark, of a
	// segment cut because its escaped form is longer than
	// storage.MaxSegmentLen.
	maxPiece = storage.MaxSegmentLen - len(continued)
)

// mustEscape reports whether r, the rune of seg at byte offset i, must be
// escaped.
func mustEscape(seg string, i int, r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == '\\':
		return true
	case r == '_':
		return strings.HasPrefix(seg[i:], escStart)
	}
	return false
}

// escapeRune returns the escape of r.
func escapeRune(r rune) string {
	return escStart + strconv.FormatInt(int64(r), 16) + escEnd
}

// escapeUnits returns the escaped form of seg's runes, one string per rune,
// for a segment that is neither empty nor "." nor "..".
func escapeUnits(seg string) []string {
	units := make([]string, 0, len(seg))
	for i, r := range seg {
		if mustEscape(seg, i, r) {
			units = append(units, escapeRune(r))
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
	case ".", "..":
		for range len(seg) {
			b.WriteString(escapeRune('.'))
		}
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
	if part == "." || part == ".." || !utf8.ValidString(part) {
		// "." may go on as "." ("__0x2e__"), ".." or ".x": leave it out.
		return b.String()
	}
	// Leave out a "_", "__" or "__0" at the end: whether its "_" is
	// escaped depends on what follows.
	for j := max(0, len(part)-3); j < len(part); j++ {
		if part[j] == '_' && strings.HasPrefix(escStart, part[j:]) {
			part = part[:j]
			break
		}
	}
	// At most maxPiece bytes, so that it is a prefix of a segment both when
	// the whole segment is cut into pieces and when it is not.
	n := 0
	for _, u := range escapeUnits(part) {
		if n+len(u) > maxPiece {
			break
		}
		b.WriteString(u)
		n += len(u)
	}
	return b.String()
}

// scan reads the strata segment s: it writes the runes it stands for to b
// (when b is not nil) and reports whether it ends in the continued mark.
func scan(b *strings.Builder, s string) (cont bool) {
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], escStart) {
			if s[i:] == continued {
				return true
			}
			if r, n, ok := readEscape(s[i:]); ok {
				if b != nil {
					b.WriteRune(r)
				}
				i += n
				continue
			}
		}
		if b != nil {
			b.WriteByte(s[i])
		}
		i++
	}
	return false
}

// readEscape reads "__0x<hex>__" at the start of s and returns the rune
// and the escape's length.
func readEscape(s string) (rune, int, bool) {
	j := len(escStart)
	for j < len(s) && j < len(escStart)+8 && isHex(s[j]) {
		j++
	}
	if j == len(escStart) || !strings.HasPrefix(s[j:], escEnd) {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(s[len(escStart):j], 16, 32)
	if err != nil || v > utf8.MaxRune || !utf8.ValidRune(rune(v)) {
		return 0, 0, false
	}
	return rune(v), j + len(escEnd), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unescapeKey returns the gocloud key a strata key (or common prefix,
// ending in "/") stores. A key that no gocloud key escapes to (one written
// by another program that holds "__0x2e__", say) is returned decoded all
// the same.
func unescapeKey(nk string) string {
	if !strings.Contains(nk, escStart) {
		return nk
	}
	var b strings.Builder
	b.Grow(len(nk))
	var seg strings.Builder // the pieces of the current segment
	segs := strings.Split(nk, "/")
	first := true
	for i, piece := range segs {
		if i < len(segs)-1 && scan(nil, piece) {
			seg.WriteString(piece[:len(piece)-len(continued)])
			continue
		}
		seg.WriteString(piece)
		if !first {
			b.WriteByte('/')
		}
		first = false
		if s := seg.String(); s != emptySegment {
			scan(&b, s)
		}
		seg.Reset()
	}
	return b.String()
}

// isContinued reports whether the common prefix np (ending in "/") ends
// in a piece of a segment that goes on, rather than in a whole segment.
func isContinued(np string) bool {
	s := strings.TrimSuffix(np, "/")
	return strings.HasSuffix(s, continued) && scan(nil, s[strings.LastIndexByte(s, '/')+1:])
}
