// Package wire has what the integration tests of the S3 drivers share
// about what goes over the wire: the checksum a part's header carries,
// computed here on its own rather than by the code under test, and a
// transport that hides what the server is.
package wire

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/http"
)

// CRC32C is the base64 of p's big-endian CRC32C (Castagnoli), as S3's
// x-amz-checksum-crc32c header carries it.
func CRC32C(p []byte) string {
	sum := crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
}

// HideServer is a transport that drops the Server header of every
// response, as a proxy in front of a server might: a Store behind it
// cannot tell what its server is.
type HideServer struct{ Next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (h HideServer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.Next.RoundTrip(r)
	if resp != nil {
		resp.Header.Del("Server")
	}
	return resp, err
}
