package local

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// record is what strata keeps beside the bytes of an object it wrote: the
// content's SHA-256, content type and user metadata, plus the size and
// modification time of the file it was written for. A record whose size or
// modification time does not match the file it is found with belongs to
// other content (the file was changed in place by another program, or a
// crash came between a data file and its sidecar) and is ignored.
type record struct {
	size        int64
	mtime       int64 // nanoseconds since the Unix epoch
	sha256      string
	contentType string
	metadata    map[string]string
	attrs       httpAttrs
}

// httpAttrs are the HTTP attributes of an object, in the order of
// attrNames.
type httpAttrs [4]string

// attrNames are the record fields of the HTTP attributes.
var attrNames = [4]string{"cache-control", "content-disposition", "content-encoding", "content-language"}

// attrsOf returns the HTTP attributes of opts.
func attrsOf(opts *storage.PutOptions) httpAttrs {
	return httpAttrs{opts.CacheControl, opts.ContentDisposition, opts.ContentEncoding, opts.ContentLanguage}
}

// set fills in the HTTP attributes of info.
func (a *httpAttrs) set(info *storage.Info) {
	info.CacheControl, info.ContentDisposition, info.ContentEncoding, info.ContentLanguage = a[0], a[1], a[2], a[3]
}

// recordVersion starts every encoded record.
const recordVersion = "strata-record 1"

// encode renders r as lines of "name=value", readable with getfattr or cat.
// Values never hold a newline: storage.ValidMetadata and
// storage.ValidContentType and storage.ValidHTTPAttribute allow printable
// ASCII only. Records written before HTTP attributes existed read as they
// are: a missing attribute is "".
func (r *record) encode() []byte {
	var b strings.Builder
	b.WriteString(recordVersion)
	fmt.Fprintf(&b, "\nsize=%d\nmtime=%d\nsha256=%s", r.size, r.mtime, r.sha256)
	if r.contentType != "" {
		b.WriteString("\ncontent-type=")
		b.WriteString(r.contentType)
	}
	for i, v := range r.attrs {
		if v != "" {
			b.WriteString("\n")
			b.WriteString(attrNames[i])
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.metadata)) {
		b.WriteString("\nm.")
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(r.metadata[k])
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// maxRecord bounds an encoded record: metadata, content type, HTTP
// attributes, checksum and a little framing.
const maxRecord = storage.MaxMetadataBytes + storage.MaxMetadataEntries*4 + 256 + 256 +
	len(attrNames)*(storage.MaxHTTPAttributeLen+24)

// decodeRecord parses what encode wrote. It returns an error for anything
// else, so a damaged record is ignored rather than half believed.
func decodeRecord(data []byte) (*record, error) {
	version, rest, ok := strings.Cut(string(data), "\n")
	if !ok || version != recordVersion || !strings.HasSuffix(rest, "\n") {
		return nil, fmt.Errorf("not a strata record")
	}
	r := &record{}
	// seen has a bit for each field but metadata: fieldSize, fieldMtime,
	// fieldSHA256, fieldType, then one per attrNames.
	var seen uint
	for line := range strings.SplitSeq(rest[:len(rest)-1], "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("bad record line %q", line)
		}
		var bit uint
		var err error
		switch {
		case name == "size":
			bit = fieldSize
			r.size, err = strconv.ParseInt(value, 10, 64)
		case name == "mtime":
			bit = fieldMtime
			r.mtime, err = strconv.ParseInt(value, 10, 64)
		case name == "sha256":
			bit = fieldSHA256
			if len(value) != 64 || strings.Trim(value, "0123456789abcdef") != "" {
				err = fmt.Errorf("bad sha256")
			}
			r.sha256 = value
		case name == "content-type":
			bit = fieldType
			r.contentType = value
			err = storage.ValidContentType(value)
		case attrIndex(name) >= 0:
			bit = fieldType << (1 + attrIndex(name))
			r.attrs[attrIndex(name)] = value
			err = storage.ValidHTTPAttribute(name, value)
		case strings.HasPrefix(name, "m."):
			if _, dup := r.metadata[name[2:]]; dup {
				return nil, fmt.Errorf("bad record line %q", line)
			}
			if r.metadata == nil {
				r.metadata = map[string]string{}
			}
			r.metadata[name[2:]] = value
		default:
			err = fmt.Errorf("unknown record field %q", name)
		}
		if seen&bit != 0 {
			return nil, fmt.Errorf("bad record line %q", line)
		}
		seen |= bit
		if err != nil {
			return nil, err
		}
	}
	if need := uint(fieldSize | fieldMtime | fieldSHA256); seen&need != need {
		return nil, fmt.Errorf("record lacks size, mtime or sha256")
	}
	if err := storage.ValidMetadata(r.metadata); err != nil {
		return nil, err
	}
	return r, nil
}

// The fields of a record decodeRecord looks for once each.
const (
	fieldSize = 1 << iota
	fieldMtime
	fieldSHA256
	fieldType
)

// matches reports whether r was written for a file of this size and
// modification time.
func (r *record) matches(size, mtime int64) bool {
	return r != nil && r.size == size && r.mtime == mtime
}

// attrIndex returns the index in attrNames of the record field name, or -1.
func attrIndex(name string) int {
	for i, n := range attrNames {
		if n == name {
			return i
		}
	}
	return -1
}
