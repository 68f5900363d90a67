package memory

import (
	"context"

	"github.com/strata-storage/strata/storage"
)

var _ storage.BucketCreator = (*Store)(nil)

// CreateBucket implements storage.BucketCreator. A memory store exists
// from the moment it is made (or a mem://name URL is first opened), so
// there is never anything to create: it fails with an error matching
// storage.ErrExist, as for a bucket that is already the caller's.
func (s *Store) CreateBucket(ctx context.Context) error {
	const op = "create-bucket"
	if err := s.CheckOpen(ctx, op); err != nil {
		return err
	}
	return &storage.Error{Op: op, Provider: providerName, Kind: storage.ErrExist}
}
