package b2

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// The B2 file info entries of the HTTP attributes. B2 serves them as the
// response headers of the same names (without "b2-") on download.
const (
	infoCacheControl       = "b2-cache-control"
	infoContentDisposition = "b2-content-disposition"
	infoContentEncoding    = "b2-content-encoding"
	infoContentLanguage    = "b2-content-language"
)

// infoMetadata is the file info entry that holds all the user metadata of
// an object, packed (see packMetadata), when it does not fit in entries of
// its own.
const infoMetadata = "strata-metadata"

// maxInfoEntries is the most file info entries B2 allows on a file.
const maxInfoEntries = 10

// attrEntries returns the file info entries of the HTTP attributes of opts.
func attrEntries(opts *storage.PutOptions) map[string]string {
	e := map[string]string{}
	for k, v := range map[string]string{
		infoCacheControl: opts.CacheControl, infoContentDisposition: opts.ContentDisposition,
		infoContentEncoding: opts.ContentEncoding, infoContentLanguage: opts.ContentLanguage,
	} {
		if v != "" {
			e[k] = v
		}
	}
	return e
}

// fileInfoOf returns the B2 file info of an object with the user metadata,
// HTTP attributes and SHA-256 (or "") of opts and sha.
//
// B2 allows ten entries; the contract allows eight metadata entries and
// four attributes, and strata keeps its SHA-256 in one more. The
// attributes always get entries of their own, for B2 to serve them as
// headers. User metadata gets an entry per key when everything fits in
// ten and no key starts with "b2-" (a name B2 reserves); otherwise all of
// it goes, packed, into the one entry "strata-metadata". So no Put that
// storage.CheckPut accepts is refused for the number of entries, and
// objects written before the attributes existed read as they are.
func fileInfoOf(opts *storage.PutOptions, sha string) map[string]string {
	info := attrEntries(opts)
	if sha != "" {
		info[infoSHA256] = sha
	}
	pack := len(info)+len(opts.Metadata) > maxInfoEntries
	for k := range opts.Metadata {
		pack = pack || strings.HasPrefix(k, "b2-")
	}
	if pack {
		info[infoMetadata] = packMetadata(opts.Metadata)
	} else {
		maps.Copy(info, opts.Metadata)
	}
	return info
}

// packMetadata encodes md as one string: per key, in key order,
// "key=length:value", without escaping (values are printable ASCII and the
// length says where each ends).
func packMetadata(md map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(md)) {
		fmt.Fprintf(&b, "%s=%d:%s", k, len(md[k]), md[k])
	}
	return b.String()
}

// unpackMetadata decodes what packMetadata wrote.
func unpackMetadata(s string) (map[string]string, error) {
	md := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("packed metadata: no \"=\" after %q", k)
		}
		n, rest, ok := strings.Cut(rest, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size < 0 || size > len(rest) {
			return nil, fmt.Errorf("packed metadata: bad length of %q", k)
		}
		md[k], s = rest[:size], rest[size:]
	}
	if err := storage.ValidMetadata(md); err != nil {
		return nil, err
	}
	return md, nil
}

// setAttrs fills in the HTTP attributes of info from B2 file info.
func setAttrs(info *storage.Info, fileInfo map[string]string) {
	for k, v := range fileInfo {
		switch strings.ToLower(k) {
		case infoCacheControl:
			info.CacheControl = v
		case infoContentDisposition:
			info.ContentDisposition = v
		case infoContentEncoding:
			info.ContentEncoding = v
		case infoContentLanguage:
			info.ContentLanguage = v
		}
	}
}

// setAttrsFromHeader fills in the HTTP attributes of info that the file
// info of a download left out from the headers B2 turned them into.
func setAttrsFromHeader(info *storage.Info, h http.Header) {
	for _, a := range [...]struct {
		f      *string
		header string
	}{
		{&info.CacheControl, "Cache-Control"}, {&info.ContentDisposition, "Content-Disposition"},
		{&info.ContentEncoding, "Content-Encoding"}, {&info.ContentLanguage, "Content-Language"},
	} {
		if *a.f == "" {
			*a.f = h.Get(a.header)
		}
	}
}
