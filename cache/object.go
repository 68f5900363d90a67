package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/storage"
)

// An object file holds the object's bytes followed by a trailer: a header
// and an 8-byte footer. Content first keeps it page-aligned, so reads of it
// cost what reads of a plain file cost; the index knows the content size,
// so a Get finds the header at once. The header carries everything Get and
// Stat report besides the size the index keeps, so that content type and
// metadata never take index memory:
//
//	0  magic "SCO1"
//	4  header length (u32, little endian), content starts there
//	8  CRC-32C of bytes 12..header length
//	12 key length u16, content type length u16, metadata pairs u16,
//	   format u16 (2; 0 in format 1)
//	20 CRC-32C of the content u32 (format 2; 0 in format 1)
//	24 size i64, 32 generation u64, 40 modification time (Unix ns) i64
//	48 SHA-256 of the content, 32 bytes
//	80 key, content type, then per metadata pair: u16 length, name,
//	   u16 length, value
//
// The footer is the header's length (u32) and "SCOT", so that a file can
// be read without the index (recovery) from its end.
//
// The SHA-256 is the object's identity (Info.SHA256, the ETag); the
// CRC-32C of the content, computed in the same pass as Put streams it, is
// what a whole read checks, at a fraction of the SHA-256's cost. Format 1
// files, written before the content CRC existed, are read as they are
// and checked against their SHA-256; every Put writes format 2. The
// format is a field, not a new magic, because format 2 only fills bytes
// format 1 wrote as zeros and never read: a cache of an older version
// still reads format 2 files (checking their SHA-256), so going back to
// it loses nothing, pinned uploads included. A layout older versions
// cannot read must change the magic.

const (
	objMagic    = "SCO1"
	objFormat2  = 2 // the format field of a header with a content CRC
	footerMagic = "SCOT"
	hdrFixed    = 80
	footerLen   = 8
	maxHeader   = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hkey is the 128-bit hash of a key (the first half of its SHA-256). Object
// files are named by it, so the index need not hold keys in memory; the key
// in the object header guards against the (2^-64 per pair) chance of two
// keys sharing a hash.
type hkey struct{ a, b uint64 }

func hashKey(key string) hkey {
	s := sha256.Sum256([]byte(key))
	return hkey{binary.LittleEndian.Uint64(s[0:]), binary.LittleEndian.Uint64(s[8:])}
}

func (h hkey) bytes() [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], h.a)
	binary.LittleEndian.PutUint64(b[8:], h.b)
	return b
}

func hkeyFrom(b []byte) hkey {
	return hkey{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])}
}

// name is the object's file name: 32 hex digits.
func (h hkey) name() string {
	b := h.bytes()
	return hex.EncodeToString(b[:])
}

// fan is the name of the fan-out directory the object file lives in.
func (h hkey) fan() string {
	b := h.bytes()
	return hex.EncodeToString(b[:1])
}

func parseName(s string) (hkey, bool) {
	if len(s) != 32 {
		return hkey{}, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return hkey{}, false
	}
	if hex.EncodeToString(b[:]) != s {
		return hkey{}, false
	}
	return hkeyFrom(b[:]), true
}

// header is the decoded header of an object file.
type header struct {
	size    int64
	gen     uint64
	modTime int64
	sha     [32]byte
	crc     uint32 // CRC-32C of the content, when hasCRC
	hasCRC  bool   // format 2; a format 1 header has no content CRC
	key     string
	ct      string
	meta    map[string]string
	hdrLen  int // the trailer's length: header and footer
}

// trailerLen is the length of the trailer trailer would produce.
func trailerLen(key, ct string, meta map[string]string) int {
	return headerLen(key, ct, meta) + footerLen
}

// trailer returns the header's bytes followed by the footer.
func (h *header) trailer() []byte {
	b := h.encode()
	n := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, footerMagic...)
}

// parseTrailer decodes a whole trailer.
func parseTrailer(b []byte) (header, error) {
	if len(b) < hdrFixed+footerLen || string(b[len(b)-4:]) != footerMagic ||
		int(binary.LittleEndian.Uint32(b[len(b)-8:])) != len(b)-footerLen {
		return header{}, errBadHeader
	}
	h, err := decodeHeader(b[:len(b)-footerLen])
	if err != nil {
		return header{}, err
	}
	h.hdrLen = len(b)
	return h, nil
}

// readTrailer reads the header of an object file. When size and tl (the
// trailer's length) come from the index, one read finds it; otherwise, or
// when the file has changed since, it is found from the file's end. Either
// way the file must end right after the trailer: a file longer or shorter
// than its header says is damaged (errBadHeader). The fast path asks for
// one byte more than the trailer, so it learns that without a stat.
func readTrailer(f *os.File, size int64, tl int) (header, error) {
	if size >= 0 && tl >= hdrFixed+footerLen && tl <= maxHeader+footerLen {
		b := make([]byte, tl+1)
		if n, err := f.ReadAt(b, size); n == tl && err == io.EOF {
			if h, err := parseTrailer(b[:tl]); err == nil && h.size == size {
				return h, nil
			}
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return header{}, err
	}
	fsz := fi.Size()
	var ft [footerLen]byte
	if fsz < hdrFixed+footerLen {
		return header{}, errBadHeader
	}
	if _, err := f.ReadAt(ft[:], fsz-footerLen); err != nil {
		return header{}, err
	}
	n := int64(binary.LittleEndian.Uint32(ft[:]))
	if string(ft[4:]) != footerMagic || n < hdrFixed || n > maxHeader || n+footerLen > fsz {
		return header{}, errBadHeader
	}
	b := make([]byte, n+footerLen)
	if _, err := f.ReadAt(b, fsz-n-footerLen); err != nil {
		return header{}, err
	}
	h, err := parseTrailer(b)
	if err != nil {
		return header{}, err
	}
	if h.size != fsz-n-footerLen {
		return header{}, errBadHeader
	}
	return h, nil
}

// headerLen is the length of the header encode would produce.
func headerLen(key, ct string, meta map[string]string) int {
	n := hdrFixed + len(key) + len(ct)
	for k, v := range meta {
		n += 4 + len(k) + len(v)
	}
	return n
}

// encode returns the header's bytes, CRC included: format 2 when the
// header has a content CRC (as every Put's has), format 1 otherwise.
func (h *header) encode() []byte {
	n := headerLen(h.key, h.ct, h.meta)
	b := make([]byte, n)
	copy(b, objMagic)
	if h.hasCRC {
		binary.LittleEndian.PutUint16(b[18:], objFormat2)
		binary.LittleEndian.PutUint32(b[20:], h.crc)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	binary.LittleEndian.PutUint16(b[12:], uint16(len(h.key)))
	binary.LittleEndian.PutUint16(b[14:], uint16(len(h.ct)))
	binary.LittleEndian.PutUint16(b[16:], uint16(len(h.meta)))
	binary.LittleEndian.PutUint64(b[24:], uint64(h.size))
	binary.LittleEndian.PutUint64(b[32:], h.gen)
	binary.LittleEndian.PutUint64(b[40:], uint64(h.modTime))
	copy(b[48:80], h.sha[:])
	p := hdrFixed
	p += copy(b[p:], h.key)
	p += copy(b[p:], h.ct)
	names := make([]string, 0, len(h.meta))
	for k := range h.meta {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := h.meta[k]
		binary.LittleEndian.PutUint16(b[p:], uint16(len(k)))
		p += 2
		p += copy(b[p:], k)
		binary.LittleEndian.PutUint16(b[p:], uint16(len(v)))
		p += 2
		p += copy(b[p:], v)
	}
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[12:], castagnoli))
	return b
}

var errBadHeader = errors.New("cache: damaged object header")

// peekHeaderLen returns the header length stated by the first bytes of an
// object header.
func peekHeaderLen(b []byte) (int, error) {
	if len(b) < 8 || string(b[:4]) != objMagic {
		return 0, errBadHeader
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n < hdrFixed || n > maxHeader {
		return 0, errBadHeader
	}
	return n, nil
}

// decodeHeader decodes a header from b, which holds at least the whole
// header. It never panics on damaged input.
func decodeHeader(b []byte) (header, error) {
	n, err := peekHeaderLen(b)
	if err != nil || len(b) < n {
		return header{}, errBadHeader
	}
	b = b[:n]
	if crc32.Checksum(b[12:], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return header{}, errBadHeader
	}
	h := header{hdrLen: n}
	// Any format but 2 (0 from format 1, or a later one this version
	// does not know) is read without a content CRC: its SHA-256 is
	// checked instead.
	if binary.LittleEndian.Uint16(b[18:]) == objFormat2 {
		h.hasCRC = true
		h.crc = binary.LittleEndian.Uint32(b[20:])
	}
	kl := int(binary.LittleEndian.Uint16(b[12:]))
	cl := int(binary.LittleEndian.Uint16(b[14:]))
	mn := int(binary.LittleEndian.Uint16(b[16:]))
	h.size = int64(binary.LittleEndian.Uint64(b[24:]))
	h.gen = binary.LittleEndian.Uint64(b[32:])
	h.modTime = int64(binary.LittleEndian.Uint64(b[40:]))
	copy(h.sha[:], b[48:80])
	if h.size < 0 || mn > storage.MaxMetadataEntries+len(attrNames) {
		return header{}, errBadHeader
	}
	p := hdrFixed
	if p+kl+cl > n || kl == 0 {
		return header{}, errBadHeader
	}
	h.key = string(b[p : p+kl])
	p += kl
	h.ct = string(b[p : p+cl])
	p += cl
	if mn > 0 {
		h.meta = make(map[string]string, mn)
	}
	for range mn {
		if p+2 > n {
			return header{}, errBadHeader
		}
		l := int(binary.LittleEndian.Uint16(b[p:]))
		p += 2
		if p+l+2 > n {
			return header{}, errBadHeader
		}
		k := string(b[p : p+l])
		p += l
		l = int(binary.LittleEndian.Uint16(b[p:]))
		p += 2
		if p+l > n {
			return header{}, errBadHeader
		}
		h.meta[k] = string(b[p : p+l])
		p += l
	}
	if p != n {
		return header{}, errBadHeader
	}
	return h, nil
}

// etag formats the ETag of a version, quoted as every provider's is: 16
// hex digits of its SHA-256 and its generation, which is unique to each
// Put the cache ever made.
func etag(sha *[32]byte, gen uint64) string {
	var b [1 + 16 + 1 + 16 + 1]byte
	b[0] = '"'
	hex.Encode(b[1:17], sha[:8])
	b[17] = '-'
	return string(append(strconv.AppendUint(b[:18], gen, 16), '"'))
}

// genOf returns the generation named by an ETag the cache made.
// It takes the ETag quoted, as the cache gives it, or bare, as versions
// before the quoted form gave it (a tiered store's journal may hold those).
func genOf(etag string) (uint64, bool) {
	etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	i := strings.LastIndexByte(etag, '-')
	if i < 0 {
		return 0, false
	}
	g, err := strconv.ParseUint(etag[i+1:], 16, 64)
	return g, err == nil && g != 0
}

func (h *header) info() storage.Info {
	info := storage.Info{
		Key:         h.key,
		Size:        h.size,
		ModTime:     time.Unix(0, h.modTime),
		ETag:        etag(&h.sha, h.gen),
		SHA256:      hex.EncodeToString(h.sha[:]),
		ContentType: h.ct,
		Metadata:    h.meta,
	}
	cloned := false
	for _, a := range attrNames {
		v, ok := h.meta[a.name]
		if !ok {
			continue
		}
		if !cloned {
			info.Metadata, cloned = maps.Clone(h.meta), true // h.meta is shared: split a copy
		}
		*a.field(&info) = v
		delete(info.Metadata, a.name)
	}
	if len(info.Metadata) == 0 {
		info.Metadata = nil
	}
	return info
}

// The HTTP attributes are kept in the header as metadata pairs under
// names users cannot give (storage.ReservedMetadataPrefix), so the header
// layout stays the one older versions read: they see the attributes as
// metadata. An object with more than storage.MaxMetadataEntries pairs in
// all is refused by versions that predate the attributes.
var attrNames = [...]struct {
	name  string
	field func(*storage.Info) *string
}{
	{"strata-cache-control", func(i *storage.Info) *string { return &i.CacheControl }},
	{"strata-content-disposition", func(i *storage.Info) *string { return &i.ContentDisposition }},
	{"strata-content-encoding", func(i *storage.Info) *string { return &i.ContentEncoding }},
	{"strata-content-language", func(i *storage.Info) *string { return &i.ContentLanguage }},
}

// withAttrs returns the metadata pairs a header keeps for o: its user
// metadata and its HTTP attributes.
func withAttrs(o *storage.PutOptions) map[string]string {
	m := maps.Clone(o.Metadata)
	var probe storage.Info
	probe.CacheControl, probe.ContentDisposition, probe.ContentEncoding, probe.ContentLanguage =
		o.CacheControl, o.ContentDisposition, o.ContentEncoding, o.ContentLanguage
	for _, a := range attrNames {
		if v := *a.field(&probe); v != "" {
			if m == nil {
				m = make(map[string]string, len(attrNames))
			}
			m[a.name] = v
		}
	}
	return m
}
