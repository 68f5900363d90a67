package minio

import (
	"mime"
	"strings"
)

// HTTP drops spaces at either end of a header value, and S3 keeps user
// metadata in headers, so a value such as "  padded  " would come back as
// "padded". encodeMetaValue writes such a value as an RFC 2047 encoded-word
// ("=?UTF-8?Q?__padded__?="), the form S3 itself uses for values it cannot
// send as they are, and decodeMetaValue reads it back. Values that already
// look like an encoded-word are encoded too, so every value round-trips.
// All other values are sent unchanged.

const encodedWordPrefix = "=?"

func needsEncoding(v string) bool {
	return v != strings.TrimSpace(v) || strings.HasPrefix(v, encodedWordPrefix)
}

func encodeMetaValue(v string) string {
	if !needsEncoding(v) {
		return v
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString("=?UTF-8?Q?")
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('_')
		default:
			b.WriteByte('=')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	b.WriteString("?=")
	return b.String()
}

func decodeMetaValue(v string) string {
	if !strings.HasPrefix(v, encodedWordPrefix) || !strings.HasSuffix(v, "?=") {
		return v
	}
	var d mime.WordDecoder
	s, err := d.Decode(v)
	if err != nil {
		return v // not an encoded-word after all: keep what the server has
	}
	return s
}
