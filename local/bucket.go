package local

import (
	"context"

	"github.com/strata-storage/strata/storage"
)

var _ storage.BucketCreator = (*Store)(nil)

// CreateBucket implements storage.BucketCreator for the root directory,
// as mkdir -p would. New already creates a missing root and its parents,
// so there is nothing left to do: CreateBucket succeeds when this Store's
// New created the root, and fails with an error matching storage.ErrExist
// when the root was there before.
func (s *Store) CreateBucket(ctx context.Context) error {
	const op = "create-bucket"
	if err := s.CheckOpen(ctx, op); err != nil {
		return err
	}
	if !s.d.createdRoot {
		return s.Wrap(op, "", storage.ErrExist)
	}
	return nil
}
