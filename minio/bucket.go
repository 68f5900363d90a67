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
	if err := s.CheckOpen(ctx, op); err != nil {
		return err
	}
	d := s.d
	err := d.core.MakeBucket(ctx, d.bucket, miniogo.MakeBucketOptions{})
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) && resp.Code == "BucketAlreadyExists" {
		// s3proto.Kind makes it ErrPermission.
		err = fmt.Errorf("bucket name %q is another account's: %w", d.bucket, err)
	}
	return s.Wrap(op, "", d.fail(ctx, op, err))
}
