package httpserve

import (
	"errors"
	"strconv"
	"strings"
)

// byteRange is one resolved range of a Range header: length bytes from start.
type byteRange struct {
	start, length int64
}

var (
	errNoOverlap = errors.New("no range overlaps the object")
	errMalformed = errors.New("malformed Range header")
)

// parseRanges resolves a Range header value against an object of size bytes,
// following RFC 9110 section 14: unsatisfiable ranges are dropped, and if none
// is left the result is errNoOverlap. A malformed header is errMalformed; the
// caller then serves the whole object, as net/http does.
func parseRanges(s string, size int64) ([]byteRange, error) {
	const b = "bytes="
	if !strings.HasPrefix(s, b) {
		return nil, errMalformed
	}
	var out []byteRange
	noOverlap := false
	for part := range strings.SplitSeq(s[len(b):], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		first, last, ok := strings.Cut(part, "-")
		if !ok {
			return nil, errMalformed
		}
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)
		var r byteRange
		if first == "" {
			// Suffix range: the last N bytes.
			if last == "" || last[0] == '-' || last[0] == '+' {
				return nil, errMalformed
			}
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return nil, errMalformed
			}
			if n == 0 {
				noOverlap = true
				continue
			}
			n = min(n, size)
			if n == 0 {
				noOverlap = true
				continue
			}
			r = byteRange{start: size - n, length: n}
		} else {
			if first[0] == '-' || first[0] == '+' {
				return nil, errMalformed
			}
			start, err := strconv.ParseInt(first, 10, 64)
			if err != nil || start < 0 {
				return nil, errMalformed
			}
			if start >= size {
				noOverlap = true
				continue
			}
			r.start = start
			if last == "" {
				r.length = size - start
			} else {
				if last[0] == '-' || last[0] == '+' {
					return nil, errMalformed
				}
				end, err := strconv.ParseInt(last, 10, 64)
				if err != nil || end < start {
					return nil, errMalformed
				}
				end = min(end, size-1)
				r.length = end - start + 1
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		if noOverlap {
			return nil, errNoOverlap
		}
		return nil, errMalformed
	}
	return out, nil
}
