package b2

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	b2base "github.com/Backblaze/blazer/base"

	"github.com/strata-storage/strata/storage"
)

var _ storage.BucketCreator = (*Store)(nil)

// opCreateBucket is the operation of CreateBucket's errors.
const opCreateBucket = "create-bucket"

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
	if err := st.CheckOpen(ctx, opCreateBucket); err != nil {
		return err
	}
	return st.Wrap(opCreateBucket, "", fmt.Errorf("bucket %q exists: %w", st.c.cfg.Bucket, storage.ErrExist))
}

// missingBucket is the cause of New's error when the bucket does not
// exist (or the key may not see it); it matches storage.ErrNoBucket. B2
// finds a bucket when a Store is made, so there is no Store to ask: the
// error itself is the storage.BucketCreator that makes the bucket, with
// the authorization New obtained.
type missingBucket struct {
	c   *client
	api *b2base.B2
}

func (e *missingBucket) Error() string {
	return fmt.Sprintf("bucket %q does not exist (or the application key may not see it)", e.c.cfg.Bucket)
}

func (e *missingBucket) Unwrap() error { return storage.ErrNoBucket }

// CreateBucket implements storage.BucketCreator with one b2_create_bucket
// call: a private bucket. A name already in use (B2's names are shared by
// all accounts) fails with an error matching storage.ErrPermission, as
// does a key without the writeBuckets capability.
func (e *missingBucket) CreateBucket(ctx context.Context) error {
	p := e.c.p
	if err := p.CheckOpen(ctx, opCreateBucket); err != nil {
		return err
	}
	_, err := e.api.CreateBucket(ctx, e.c.cfg.Bucket, "allPrivate", nil, nil)
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return p.Wrap(opCreateBucket, "", cerr)
	}
	err = e.c.normalize(err)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Code == "duplicate_bucket_name" {
		// Not the caller's (New would have found it): another account's.
		err = fmt.Errorf("bucket name %q is in use by another account: %w (%w)", e.c.cfg.Bucket, storage.ErrPermission, err)
	}
	return p.Wrap(opCreateBucket, "", err)
}
