package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes, that any provider accepts.
const MaxKeyLen = 1024

// MaxSegmentLen is the longest segment of a key (the part between two "/"),
// in bytes. File systems refuse names over 255 bytes and MinIO refuses
// segments over 251, so no provider accepts longer ones.
const MaxSegmentLen = 250

// Limits on user metadata, chosen so that the same metadata fits every
// backend: S3 allows 2 KiB of user metadata in headers, and B2 allows ten
// file-info entries (strata keeps two of them for itself).
const (
	MaxMetadataEntries  = 8
	MaxMetadataKeyLen   = 50
	MaxMetadataValueLen = 1024
	MaxMetadataBytes    = 2048
	// ReservedMetadataPrefix starts metadata keys strata keeps for itself
	// (such as the content checksum); user metadata may not use it.
	ReservedMetadataPrefix = "strata-"
)

// ValidKey reports whether key is a valid object key, and if not, returns an
// error that matches ErrInvalidKey and says why.
//
// A valid key is valid UTF-8, 1 to MaxKeyLen bytes long, made of segments
// separated by "/"; it has no leading "/", no empty, "." or ".." segment (so
// no trailing "/" and no "//"), and no NUL or other control characters
// (U+0000 to U+001F and U+007F to U+009F), and no segment is longer than
// MaxSegmentLen bytes. Backslashes are not allowed
// either, so that a key means the same path on every operating system.
//
// Every provider applies this same rule, so a key one accepts, all accept.
func ValidKey(key string) error {
	reason := keyProblem(key)
	if reason == "" {
		return nil
	}
	return &Error{Op: "validate", Provider: "storage", Key: key, Kind: ErrInvalidKey, Err: keyError(reason)}
}

type keyError string

func (e keyError) Error() string { return string(e) }

func keyProblem(key string) string {
	switch {
	case key == "":
		return "key is empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("key is %d bytes, longer than %d", len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return "key is not valid UTF-8"
	case key[0] == '/':
		return "key starts with /"
	}
	for _, r := range key {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return "key contains a control character"
		}
		if r == '\\' {
			return "key contains a backslash"
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return "key has an empty segment"
		case ".", "..":
			return "key has a . or .. segment"
		}
		if len(seg) > MaxSegmentLen {
			return fmt.Sprintf("key has a segment of %d bytes, longer than %d", len(seg), MaxSegmentLen)
		}
	}
	return ""
}

// ValidMetadata reports whether md is acceptable user metadata, and if not,
// returns an error that matches ErrInvalidArgument and says why.
//
// Keys are 1 to MaxMetadataKeyLen bytes of lower-case ASCII letters, digits
// and "-", starting with a letter, and do not start with
// ReservedMetadataPrefix. Values are printable ASCII (space to "~"), at most
// MaxMetadataValueLen bytes. There are at most MaxMetadataEntries entries,
// and keys plus values add up to at most MaxMetadataBytes. These limits are
// what every backend (S3 headers, B2 file info) can carry unchanged.
func ValidMetadata(md map[string]string) error {
	if len(md) > MaxMetadataEntries {
		return metaErr(fmt.Sprintf("%d metadata entries, more than %d", len(md), MaxMetadataEntries))
	}
	total := 0
	for k, v := range md {
		if len(k) == 0 || len(k) > MaxMetadataKeyLen {
			return metaErr(fmt.Sprintf("metadata key %q must be 1 to %d bytes", k, MaxMetadataKeyLen))
		}
		if k[0] < 'a' || k[0] > 'z' {
			return metaErr(fmt.Sprintf("metadata key %q must start with a lower-case letter", k))
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return metaErr(fmt.Sprintf("metadata key %q may hold only a-z, 0-9 and -", k))
			}
		}
		if strings.HasPrefix(k, ReservedMetadataPrefix) {
			return metaErr(fmt.Sprintf("metadata key %q uses the reserved prefix %q", k, ReservedMetadataPrefix))
		}
		if len(v) > MaxMetadataValueLen {
			return metaErr(fmt.Sprintf("metadata value of %q is %d bytes, longer than %d", k, len(v), MaxMetadataValueLen))
		}
		for i := 0; i < len(v); i++ {
			if v[i] < ' ' || v[i] > '~' {
				return metaErr(fmt.Sprintf("metadata value of %q may hold only printable ASCII", k))
			}
		}
		total += len(k) + len(v)
	}
	if total > MaxMetadataBytes {
		return metaErr(fmt.Sprintf("metadata is %d bytes, more than %d", total, MaxMetadataBytes))
	}
	return nil
}

func metaErr(reason string) error {
	return &Error{Op: "validate", Provider: "storage", Kind: ErrInvalidArgument, Err: keyError(reason)}
}

// ValidContentType reports whether ct can be stored as a content type: at
// most 256 bytes of printable ASCII. The empty string is valid and means
// none.
func ValidContentType(ct string) error {
	if len(ct) > 256 {
		return metaErr("content type is longer than 256 bytes")
	}
	for i := 0; i < len(ct); i++ {
		if ct[i] < ' ' || ct[i] > '~' {
			return metaErr("content type may hold only printable ASCII")
		}
	}
	return nil
}

// MaxHTTPAttributeLen is the longest HTTP attribute (PutOptions.CacheControl
// and the others), in bytes.
const MaxHTTPAttributeLen = 1024

// ValidHTTPAttribute reports whether v can be stored as the HTTP attribute
// name (such as "Cache-Control"): at most MaxHTTPAttributeLen bytes of
// printable ASCII, not starting or ending with a space, as a header value
// that every store keeps as it is. A
// file name with other characters goes in Content-Disposition encoded as
// RFC 6266's filename* says. The empty string is valid and means none.
func ValidHTTPAttribute(name, v string) error {
	if len(v) > MaxHTTPAttributeLen {
		return metaErr(fmt.Sprintf("%s is %d bytes, longer than %d", name, len(v), MaxHTTPAttributeLen))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return metaErr(fmt.Sprintf("%s may hold only printable ASCII", name))
		}
	}
	if v != "" && (v[0] == ' ' || v[len(v)-1] == ' ') {
		// HTTP drops them, so an S3 store would return another value.
		return metaErr(fmt.Sprintf("%s may not start or end with a space", name))
	}
	return nil
}

// CheckPut validates the key and the options of a Put in one call, as every
// provider does before writing anything. opts may be nil.
func CheckPut(key string, opts *PutOptions) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if opts == nil {
		return nil
	}
	if err := ValidMetadata(opts.Metadata); err != nil {
		return err
	}
	if err := ValidContentType(opts.ContentType); err != nil {
		return err
	}
	for _, a := range [...]struct{ name, v string }{
		{"Cache-Control", opts.CacheControl},
		{"Content-Disposition", opts.ContentDisposition},
		{"Content-Encoding", opts.ContentEncoding},
		{"Content-Language", opts.ContentLanguage},
	} {
		if err := ValidHTTPAttribute(a.name, a.v); err != nil {
			return err
		}
	}
	if opts.Size < 0 {
		return metaErr("size must not be negative")
	}
	return nil
}

// CheckRange validates r against an object of the given size and returns
// the offset and the number of bytes to read. A nil r is the whole object.
func CheckRange(r *Range, size int64) (offset, length int64, err error) {
	if r == nil {
		return 0, size, nil
	}
	if r.Offset < 0 {
		return 0, 0, ErrInvalidRange
	}
	if r.Offset > 0 && r.Offset >= size {
		return 0, 0, ErrInvalidRange
	}
	length = size - r.Offset
	if r.Length > 0 && r.Length < length {
		length = r.Length
	}
	return r.Offset, length, nil
}
