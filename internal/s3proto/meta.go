package s3proto

import (
	"mime"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// MetaSHA256 is the user metadata key (sent as x-amz-meta-strata-sha256)
// under which both drivers record the lowercase hex SHA-256 of an
// object's content. It is reserved (storage.ReservedMetadataPrefix), so
// no user metadata can take it.
const MetaSHA256 = storage.ReservedMetadataPrefix + "sha256"

// encodedWord starts an RFC 2047 encoded-word.
const encodedWord = "=?"

// EncodeMetaValue returns v as it is stored in S3 user metadata, which
// travels in HTTP headers. HTTP drops spaces at either end of a header
// value, so a value with such spaces is written as an RFC 2047
// encoded-word ("=?UTF-8?Q?__padded__?="), the form S3 itself uses for
// values it cannot send as they are; so is a value that already starts
// like an encoded-word, so that every value round-trips. Any other value
// is stored as it is. DecodeMetaValue reads it back.
func EncodeMetaValue(v string) string {
	if v == strings.TrimSpace(v) && !strings.HasPrefix(v, encodedWord) {
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

// DecodeMetaValue returns the value a stored user metadata value v stands
// for: the RFC 2047 encoded-words of a value that starts with one are
// decoded (EncodeMetaValue's Q form, and the B form that older releases
// of the s3 driver wrote), and any other value, or one that does not
// decode, is kept as it is.
//
// This is exactly what minio-go does itself to every x-amz-meta- value it
// returns, so the minio driver must not call it again: a value would be
// decoded twice. The s3 driver, whose SDK returns values as stored, calls
// it.
func DecodeMetaValue(v string) string {
	if !strings.HasPrefix(v, encodedWord) {
		return v
	}
	var d mime.WordDecoder
	s, err := d.DecodeHeader(v)
	if err != nil {
		return v
	}
	return s
}
