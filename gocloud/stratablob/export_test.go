package stratablob

import (
	"gocloud.dev/blob/driver"

	"github.com/strata-storage/strata/storage"
)

// NewDriver returns the driver.Bucket OpenBucket wraps, for drivertest.
func NewDriver(p storage.Provider, opts *Options) driver.Bucket { return newBucket(p, opts) }
