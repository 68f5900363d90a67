package s3

import (
	"context"

	"github.com/strata-storage/strata/storage/driver"
)

// mapErr is what a Store makes of err, an error of a request for op on key
// made with ctx: the driver's fail, then the shared layer's Wrap.
func mapErr(ctx context.Context, op, key string, err error) error {
	d := &drv{}
	return driver.New(providerName, d, nil).Wrap(op, key, d.fail(ctx, op, err))
}
