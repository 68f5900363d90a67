package cache

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// The index on disk is a snapshot file plus an append-only journal, both
// sequences of records:
//
//	0 length u32 (the whole record), 4 CRC-32C of bytes 8..length, 8 type
//
// An entry record (recEntry, recIntent) continues with the key hash (16
// bytes), generation u64, size i64, header length u32, flags u32, last
// access i64, modification time i64, SHA-256 (32 bytes), key length u16 and
// the key. A small record (commit, abort, delete, pin, unpin) continues
// with the key hash and the generation it applies to.

const (
	recEntry  = 'E' // a committed entry (snapshot, adoption)
	recIntent = 'P' // a Put about to rename its file into place
	recCommit = 'C' // the intent of that generation is done
	recAbort  = 'X' // the intent of that generation failed
	recDelete = 'D' // the entry of that generation is removed
	recPin    = 'I' // the entry of that generation is pinned
	recUnpin  = 'U' // ... and unpinned

	recHead       = 9
	entryFixed    = recHead + 16 + 8 + 8 + 4 + 4 + 8 + 8 + 32 + 2 // 99
	recSmall      = recHead + 16 + 8                              // 33
	maxRecord     = entryFixed + 1024
	maxRecordRead = 4096
)

func entryRecLen(key string) int64 { return int64(entryFixed + len(key)) }

// rec is a decoded record. key aliases the reader's buffer.
type rec struct {
	typ     byte
	h       hkey
	gen     uint64
	size    int64
	hdr     uint32
	flags   uint32
	access  int64
	modTime int64
	sha     [32]byte
	key     []byte
}

func (r *rec) entry() entry {
	return entry{h: r.h, size: r.size, gen: r.gen, access: r.access, hdr: r.hdr, flags: r.flags & flagPinned}
}

func appendEntryRec(b []byte, typ byte, e *entry, modTime int64, sha *[32]byte, key string) []byte {
	start := len(b)
	b = append(b, make([]byte, recHead)...)
	b[start+8] = typ
	hb := e.h.bytes()
	b = append(b, hb[:]...)
	b = binary.LittleEndian.AppendUint64(b, e.gen)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.size))
	b = binary.LittleEndian.AppendUint32(b, e.hdr)
	b = binary.LittleEndian.AppendUint32(b, e.flags&flagPinned)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.access))
	b = binary.LittleEndian.AppendUint64(b, uint64(modTime))
	b = append(b, sha[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	return finishRec(b, start)
}

func appendSmallRec(b []byte, typ byte, h hkey, gen uint64) []byte {
	start := len(b)
	b = append(b, make([]byte, recHead)...)
	b[start+8] = typ
	hb := h.bytes()
	b = append(b, hb[:]...)
	b = binary.LittleEndian.AppendUint64(b, gen)
	return finishRec(b, start)
}

func finishRec(b []byte, start int) []byte {
	r := b[start:]
	binary.LittleEndian.PutUint32(r[0:], uint32(len(r)))
	binary.LittleEndian.PutUint32(r[4:], crc32.Checksum(r[8:], castagnoli))
	return b
}

var errBadRecord = errors.New("cache: damaged index record")

// parseRec decodes one whole record whose CRC has been checked.
func parseRec(b []byte) (rec, error) {
	var r rec
	if len(b) < recHead+24 {
		return r, errBadRecord
	}
	r.typ = b[8]
	p := b[recHead:]
	r.h = hkeyFrom(p[0:16])
	r.gen = binary.LittleEndian.Uint64(p[16:])
	switch r.typ {
	case recCommit, recAbort, recDelete, recPin, recUnpin:
		if len(b) != recSmall {
			return r, errBadRecord
		}
		return r, nil
	case recEntry, recIntent:
	default:
		return r, errBadRecord
	}
	if len(b) < entryFixed {
		return r, errBadRecord
	}
	r.size = int64(binary.LittleEndian.Uint64(p[24:]))
	r.hdr = binary.LittleEndian.Uint32(p[32:])
	r.flags = binary.LittleEndian.Uint32(p[36:])
	r.access = int64(binary.LittleEndian.Uint64(p[40:]))
	r.modTime = int64(binary.LittleEndian.Uint64(p[48:]))
	copy(r.sha[:], p[56:88])
	kl := int(binary.LittleEndian.Uint16(p[88:]))
	if len(b) != entryFixed+kl || kl == 0 || r.size < 0 || r.hdr < hdrFixed || r.hdr > maxHeader || r.gen == 0 {
		return r, errBadRecord
	}
	r.key = p[90 : 90+kl]
	return r, nil
}

// recReader reads records one by one.
type recReader struct {
	br  *bufio.Reader
	buf []byte
	off int64 // offset of the next record, relative to where reading began
}

func newRecReader(r io.Reader, bufSize int) *recReader {
	return &recReader{br: bufio.NewReaderSize(r, bufSize), buf: make([]byte, maxRecordRead)}
}

// next returns the next record and its raw bytes (valid until the next
// call). It returns io.EOF at a clean end and errBadRecord for a damaged or
// partial record.
func (rr *recReader) next() (rec, []byte, error) {
	hd := rr.buf[:8]
	n, err := io.ReadFull(rr.br, hd)
	if err == io.EOF {
		return rec{}, nil, io.EOF
	}
	if err != nil {
		_ = n
		return rec{}, nil, errBadRecord
	}
	l := int(binary.LittleEndian.Uint32(hd))
	if l < recSmall || l > maxRecordRead {
		return rec{}, nil, errBadRecord
	}
	b := rr.buf[:l]
	if _, err := io.ReadFull(rr.br, b[8:]); err != nil {
		return rec{}, nil, errBadRecord
	}
	if crc32.Checksum(b[8:], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return rec{}, nil, errBadRecord
	}
	r, err := parseRec(b)
	if err != nil {
		return rec{}, nil, err
	}
	rr.off += int64(l)
	return r, b, nil
}

// Snapshot and journal files start with a header:
//
//	snapshot: "SCS1", sequence u64 (of the journal that follows it), next
//	          generation u64, entry count u64, CRC-32C of the 28 bytes before
//	journal:  "SCJ1", sequence u64, CRC-32C of the 12 bytes before
//
// and a snapshot ends with "SEND", the entry count u64 and a CRC-32C of
// the 12 bytes before, so a cut-short snapshot is seen as damaged.

const (
	snapMagic    = "SCS1"
	snapHeadLen  = 32
	snapEndMagic = "SEND"
	snapTailLen  = 16
	jrnMagic     = "SCJ1"
	jrnHeadLen   = 16
)

func snapHead(seq, nextGen, count uint64) []byte {
	b := make([]byte, 0, snapHeadLen)
	b = append(b, snapMagic...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, nextGen)
	b = binary.LittleEndian.AppendUint64(b, count)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func parseSnapHead(b []byte) (seq, nextGen, count uint64, err error) {
	if len(b) < snapHeadLen || string(b[:4]) != snapMagic ||
		crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:]) {
		return 0, 0, 0, errBadRecord
	}
	return binary.LittleEndian.Uint64(b[4:]), binary.LittleEndian.Uint64(b[12:]), binary.LittleEndian.Uint64(b[20:]), nil
}

func snapTail(count uint64) []byte {
	b := make([]byte, 0, snapTailLen)
	b = append(b, snapEndMagic...)
	b = binary.LittleEndian.AppendUint64(b, count)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func parseSnapTail(b []byte) (count uint64, err error) {
	if len(b) != snapTailLen || string(b[:4]) != snapEndMagic ||
		crc32.Checksum(b[:12], castagnoli) != binary.LittleEndian.Uint32(b[12:]) {
		return 0, errBadRecord
	}
	return binary.LittleEndian.Uint64(b[4:]), nil
}

func jrnHead(seq uint64) []byte {
	b := make([]byte, 0, jrnHeadLen)
	b = append(b, jrnMagic...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func parseJrnHead(b []byte) (seq uint64, err error) {
	if len(b) < jrnHeadLen || string(b[:4]) != jrnMagic ||
		crc32.Checksum(b[:12], castagnoli) != binary.LittleEndian.Uint32(b[12:]) {
		return 0, errBadRecord
	}
	return binary.LittleEndian.Uint64(b[4:]), nil
}
