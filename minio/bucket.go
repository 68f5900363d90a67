package minio

import (
	"context"
	"errors"
	"fmt"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/storage"
)

var _ storage.BucketCreator = (*Store)(nil)

// CreateBucket implements storage.BucketCreator: it creates the Store's
// bucket, in Config.Region (the server's default when empty). A bucket
// that is already the caller's fails with an error matching
// storage.ErrExist; a name another account holds (on a server with
// accounts) fails with storage.ErrPermission.
func (s *Store) CreateBucket(ctx context.Context) error {
	const op = "create-bucket"
	if err := s.live(ctx, op, ""); err != nil {
		return err
	}
	err := s.core.MakeBucket(ctx, s.bucket, miniogo.MakeBucketOptions{})
	if err != nil {
		var resp miniogo.ErrorResponse
		if errors.As(err, &resp) && resp.Code == "BucketAlreadyExists" {
			return &storage.Error{Op: op, Provider: providerName, Kind: storage.ErrPermission,
				Err: fmt.Errorf("bucket name %q is another account's: %w", s.bucket, err)}
		}
		return mapErr(ctx, op, "", err)
	}
	return nil
}
