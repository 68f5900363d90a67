package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

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
	if err := s.CheckOpen(ctx, op); err != nil {
		return err
	}
	d := s.d
	in := &s3.CreateBucketInput{Bucket: &d.set.Bucket}
	if region := d.client.Options().Region; region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err := d.client.CreateBucket(ctx, in)
	if _, code, _, _ := response(err); code == "BucketAlreadyExists" {
		// s3proto.Kind makes it ErrPermission.
		err = fmt.Errorf("bucket name %q is another account's (all accounts share one space of names): %w", d.set.Bucket, err)
	}
	return s.Wrap(op, "", d.fail(ctx, op, err))
}
