package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/strata-storage/strata/storage"
)

var _ storage.BucketCreator = (*Store)(nil)

// CreateBucket implements storage.BucketCreator: it creates the Store's
// bucket, in the Store's region (a LocationConstraint is sent for any
// region but us-east-1, as AWS asks). A bucket that is already the
// caller's fails with an error matching storage.ErrExist (AWS's us-east-1
// answers success instead, for historical reasons); a name another
// account holds fails with storage.ErrPermission.
func (s *Store) CreateBucket(ctx context.Context) error {
	const op = "create-bucket"
	if err := s.begin(ctx, op, "", false); err != nil {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: &s.set.Bucket}
	if region := s.client.Options().Region; region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err := s.client.CreateBucket(ctx, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "BucketAlreadyExists" {
			return newErr(op, "", storage.ErrPermission,
				fmt.Errorf("bucket name %q is another account's (all accounts share one space of names): %w", s.set.Bucket, scrub(err)))
		}
		return mapErr(ctx, op, "", err)
	}
	return nil
}
