package b2

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Backblaze/blazer/base"

	"github.com/strata-storage/strata/storage"
)

var _ storage.BucketCreator = (*Store)(nil)

// CreateBucket implements storage.BucketCreator. A Store exists only for a
// bucket New found, so it always fails with an error matching
// storage.ErrExist. To make a missing bucket, use the error New returned:
//
//	_, err := b2.New(ctx, cfg)
//	var bc storage.BucketCreator
//	if errors.Is(err, storage.ErrNoBucket) && errors.As(err, &bc) {
//		err = bc.CreateBucket(ctx) // a private bucket
//	}
func (st *Store) CreateBucket(ctx context.Context) error {
	const op = "create-bucket"
	if err := st.checkOpen(op, ""); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &storage.Error{Op: op, Provider: provider, Err: err}
	}
	return &storage.Error{Op: op, Provider: provider, Kind: storage.ErrExist,
		Err: fmt.Errorf("bucket %q exists", st.cfg.Bucket)}
}

// missingBucket is the cause of New's error when the bucket does not
// exist (or the key may not see it). B2 finds a bucket when a Store is
// made, so there is no Store to ask: the error itself is the
// storage.BucketCreator that makes the bucket, with the authorization New
// obtained.
type missingBucket struct {
	st  *Store
	api *base.B2
}

func (e *missingBucket) Error() string {
	return fmt.Sprintf("bucket %q does not exist (or the application key may not see it)", e.st.cfg.Bucket)
}

// CreateBucket implements storage.BucketCreator with one b2_create_bucket
// call: a private bucket. A name already in use (B2's names are shared by
// all accounts) fails with an error matching storage.ErrExist; a key
// without the writeBuckets capability with storage.ErrPermission.
func (e *missingBucket) CreateBucket(ctx context.Context) error {
	const op = "create-bucket"
	if err := ctx.Err(); err != nil {
		return &storage.Error{Op: op, Provider: provider, Err: err}
	}
	_, err := e.api.CreateBucket(ctx, e.st.cfg.Bucket, "allPrivate", nil, nil)
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return &storage.Error{Op: op, Provider: provider, Err: cerr}
	}
	err = e.st.normalize(err)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Code == "duplicate_bucket_name" {
		// Not the caller's (New would have found it): another account's.
		return &storage.Error{Op: op, Provider: provider, Kind: storage.ErrPermission,
			Err: fmt.Errorf("bucket name %q is in use by another account: %w", e.st.cfg.Bucket, err)}
	}
	return e.st.wrap(op, "", err)
}
