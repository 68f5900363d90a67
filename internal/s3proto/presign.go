package s3proto

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-storage/strata/storage"
)

// MaxPresignExpiry is the longest expiry of a presigned URL: SigV4 allows
// at most seven days.
const MaxPresignExpiry = 7 * 24 * time.Hour

// CheckExpiry returns an error matching storage.ErrInvalidArgument when
// expiry is not between one second and MaxPresignExpiry.
func CheckExpiry(expiry time.Duration) error {
	if expiry < time.Second || expiry > MaxPresignExpiry {
		return fmt.Errorf("expiry %v is outside 1s to 7 days (168h): %w", expiry, storage.ErrInvalidArgument)
	}
	return nil
}

// Headers of a presigned PUT besides the HTTP attributes.
const (
	// HeaderChecksumSHA256 carries the base64 SHA-256 of the body of a
	// PUT; S3 and MinIO refuse a body whose digest differs.
	HeaderChecksumSHA256 = "X-Amz-Checksum-Sha256"
	// HeaderMetaSHA256 is the user metadata header under which strata
	// records the hex SHA-256 of an object (MetaSHA256).
	HeaderMetaSHA256 = "X-Amz-Meta-" + MetaSHA256
	// HeaderStorageClass is the storage class of an upload.
	HeaderStorageClass = "X-Amz-Storage-Class"
)

// PresignPut is what a presigned PUT of both drivers signs, from
// storage.PresignPutOptions checked by CheckPresignPut.
type PresignPut struct {
	ContentType string
	Size        int64  // > 0: the Content-Length, signed
	SHA256      string // lowercase hex, or ""
	// ChecksumSHA256 is SHA256 in base64, the value of
	// x-amz-checksum-sha256, or "".
	ChecksumSHA256 string
}

// CheckPresignPut checks the expiry and the options of a PresignPut
// (nil: none) and returns what the request signs. Errors match
// storage.ErrInvalidArgument.
func CheckPresignPut(expiry time.Duration, opts *storage.PresignPutOptions) (PresignPut, error) {
	if err := CheckExpiry(expiry); err != nil {
		return PresignPut{}, err
	}
	if opts == nil {
		return PresignPut{}, nil
	}
	p := PresignPut{ContentType: opts.ContentType, Size: opts.Size, SHA256: opts.SHA256}
	if err := storage.ValidContentType(opts.ContentType); err != nil {
		return PresignPut{}, err
	}
	if opts.Size < 0 {
		return PresignPut{}, fmt.Errorf("size %d is negative: %w", opts.Size, storage.ErrInvalidArgument)
	}
	if opts.SHA256 != "" {
		sum, err := hex.DecodeString(opts.SHA256)
		if err != nil || len(sum) != 32 || hex.EncodeToString(sum) != opts.SHA256 {
			return PresignPut{}, fmt.Errorf("SHA256 %q is not 64 lowercase hex digits: %w", opts.SHA256, storage.ErrInvalidArgument)
		}
		p.ChecksumSHA256 = base64.StdEncoding.EncodeToString(sum)
	}
	return p, nil
}

// Header returns the headers a presigned PUT of p signs and the client
// must send: Content-Type, Content-Length (which HTTP clients set from
// the body; it is listed so that a client knows the length is fixed),
// the checksum and strata's SHA-256 metadata, and the storage class when
// class is not "".
func (p PresignPut) Header(class string) http.Header {
	h := make(http.Header)
	if p.ContentType != "" {
		h.Set("Content-Type", p.ContentType)
	}
	if p.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(p.Size, 10))
	}
	if p.SHA256 != "" {
		h.Set(HeaderChecksumSHA256, p.ChecksumSHA256)
		h.Set(HeaderMetaSHA256, p.SHA256)
	}
	if class != "" {
		h.Set(HeaderStorageClass, class)
	}
	return h
}
