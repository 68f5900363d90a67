package s3proto

import (
	"context"
	"time"
)

// Knobs are settings of an s3 or minio Store that no Config field offers:
// limits of S3 (1,000 keys a listing page, 5 GiB a single copy), delays
// between attempts, and the delimiter listing on the server. strata's own
// tests, which live in other modules (internal/integration), lower them so
// that paging, part-by-part copies and retries can be tested with a few
// keys, small objects and no waiting, and turn the native delimiter listing
// off to compare it with the layer's. Being internal, this package is out
// of users' reach, so no user can depend on them.
//
// A test hands them to New in its context with [WithKnobs]; New reads them
// once ([KnobsFrom]). The zero value of each field keeps the driver's own.
type Knobs struct {
	// ListPage is the MaxKeys of a ListObjectsV2 request.
	ListPage int
	// CopyThreshold is the size above which the s3 driver copies an object
	// part by part (UploadPartCopy), for Copy and the SHA-256 rewrite
	// after a multipart upload. The minio driver ignores it.
	CopyThreshold int64
	// RetryUnit and RetryCap are the backoff between attempts of a minio
	// request with a body. The s3 driver ignores them.
	RetryUnit, RetryCap time.Duration
	// FoldDelimiter leaves delimiter listings to the shared layer
	// (driver.Options.Delimiter false), as before the drivers listed by
	// delimiter on the server.
	FoldDelimiter bool
	// SDKPut sends every PutObject of the s3 driver through the SDK's
	// PutObject, never its fast path, to compare the two. The minio driver
	// ignores it.
	SDKPut bool
}

type knobsKey struct{}

// WithKnobs returns ctx carrying k, for New.
func WithKnobs(ctx context.Context, k Knobs) context.Context {
	return context.WithValue(ctx, knobsKey{}, k)
}

// KnobsFrom returns the Knobs ctx carries, or the zero Knobs.
func KnobsFrom(ctx context.Context) Knobs {
	k, _ := ctx.Value(knobsKey{}).(Knobs)
	return k
}
