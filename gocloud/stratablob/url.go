package stratablob

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/blob"

	"github.com/strata-storage/strata/storage"
)

// SchemePrefix starts the URL schemes of strata buckets: "strata+file"
// opens what storage.Open opens for "file".
const SchemePrefix = "strata+"

// Schemes are the strata URL schemes registered with blob.DefaultURLMux,
// SchemePrefix included. storage.Open needs the driver's package imported
// to know its scheme.
var Schemes = []string{"strata+file", "strata+mem", "strata+s3", "strata+minio", "strata+b2"}

func init() {
	o := &URLOpener{}
	for _, s := range Schemes {
		blob.DefaultURLMux().RegisterBucket(s, o)
	}
}

// URLOpener opens buckets from "strata+" URLs: it drops SchemePrefix and
// opens the provider storage.Open returns for the rest, with Options.
// Register it under other schemes of a URLMux of your own for schemes
// strata does not know itself, such as "strata+test".
type URLOpener struct {
	// Options are given to OpenBucket; the bucket closes the provider
	// whatever CloseProvider says, since nobody else holds it.
	Options Options
}

// OpenBucketURL implements blob.BucketURLOpener.
func (o *URLOpener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	scheme := strings.ToLower(u.Scheme)
	if !strings.HasPrefix(scheme, SchemePrefix) || len(scheme) == len(SchemePrefix) {
		return nil, &storage.Error{Op: "open", Provider: "stratablob", Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("URL %s: scheme must be %s followed by a strata scheme, such as %sfile", storage.Redact(u), SchemePrefix, SchemePrefix)}
	}
	c := *u
	c.Scheme = scheme[len(SchemePrefix):]
	p, err := storage.Open(ctx, c.String())
	if err != nil {
		return nil, err
	}
	opts := o.Options
	opts.CloseProvider = true
	return OpenBucket(p, &opts), nil
}
