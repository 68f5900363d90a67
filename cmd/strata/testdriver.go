//go:build strata_testdriver

package main

import (
	"context"
	"net/url"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
)

// The test:// scheme, only in binaries built for the command's tests (with
// the build tag strata_testdriver; no released binary has it): a location
// wrapped by faults.OpenURL, whose parameters (inner, delay,
// fail_puts_after, fail_get, log) let the tests count what the binary
// sends and make its destination fail.
func init() { storage.Register("test", openTestLocation) }

// openTestLocation opens a test:// location. It has none of the optional
// abilities (copy, presign, flush, create bucket): the tests use it as a
// location of a driver that has none, to check the command's refusals
// and fallbacks.
func openTestLocation(ctx context.Context, u *url.URL) (storage.Provider, error) {
	p, err := faults.OpenURL(ctx, u)
	if err != nil {
		return nil, err
	}
	return noAbilities{p}, nil
}

// noAbilities has the methods of storage.Provider only.
type noAbilities struct{ storage.Provider }
