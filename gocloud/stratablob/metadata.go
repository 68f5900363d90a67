package stratablob

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/strata-storage/strata/storage"
)

// Metadata.
//
// gocloud metadata that strata can store as it is (storage.ValidMetadata:
// a few lower-case keys of letters, digits and "-", printable ASCII
// values) is stored as it is. Any other (keys with "_" or spaces, values
// with non-ASCII text, more entries than strata allows) is packed into one
// string, "key=value&key=value" with "%", "&", "=" and every byte outside
// printable ASCII written as "%XX", cut into entries named packedKey0,
// packedKey1, ..., of at most storage.MaxMetadataValueLen bytes each.
// User metadata that itself holds a key starting with packedPrefix is
// always packed, so that reading it back is never ambiguous.

// packedPrefix starts the names of the entries packed metadata is kept in.
const packedPrefix = "gocloud-md-"

// encodeMetadata returns the strata metadata that stores md.
func encodeMetadata(md map[string]string) (map[string]string, error) {
	if len(md) == 0 {
		return nil, nil
	}
	native := storage.ValidMetadata(md) == nil
	keys := make([]string, 0, len(md))
	for k, v := range md {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, metaErr("metadata keys and values must be valid UTF-8")
		}
		if strings.HasPrefix(k, packedPrefix) {
			native = false
		}
		keys = append(keys, k)
	}
	if native {
		out := make(map[string]string, len(md))
		for k, v := range md {
			out[k] = v
		}
		return out, nil
	}
	slices.Sort(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, '&')
		}
		b = appendPacked(b, k)
		b = append(b, '=')
		b = appendPacked(b, md[k])
	}
	out := map[string]string{}
	for i := 0; len(b) > 0; i++ {
		n := min(len(b), storage.MaxMetadataValueLen)
		out[packedPrefix+strconv.Itoa(i)] = string(b[:n])
		b = b[n:]
	}
	if err := storage.ValidMetadata(out); err != nil {
		return nil, metaErr(fmt.Sprintf("metadata is too large to store, %d entries packed into %d bytes (%v)", len(md), packedLen(out), err))
	}
	return out, nil
}

func packedLen(md map[string]string) int {
	n := 0
	for k, v := range md {
		n += len(k) + len(v)
	}
	return n
}

func metaErr(reason string) error {
	return &storage.Error{Op: "put", Provider: "stratablob", Kind: storage.ErrInvalidArgument, Err: reasonError(reason)}
}

// appendPacked appends s with "%", "&", "=" and every byte outside
// printable ASCII written as "%XX".
func appendPacked(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || c == '%' || c == '&' || c == '=' {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// decodeMetadata returns the gocloud metadata that the strata metadata md
// stores. Entries outside the packed ones are kept as they are.
func decodeMetadata(md map[string]string) map[string]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string]string, len(md))
	var packed strings.Builder
	for i := 0; ; i++ {
		v, ok := md[packedPrefix+strconv.Itoa(i)]
		if !ok {
			break
		}
		packed.WriteString(v)
	}
	for k, v := range md {
		if !strings.HasPrefix(k, packedPrefix) {
			out[k] = v
		}
	}
	if packed.Len() > 0 {
		for kv := range strings.SplitSeq(packed.String(), "&") {
			k, v, _ := strings.Cut(kv, "=")
			out[unpack(k)] = unpack(v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

const upperHex = "0123456789ABCDEF"

func isUpperHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// unpack reverses appendPacked.
func unpack(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
