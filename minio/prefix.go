package minio

import (
	"context"
	"errors"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// checkPrefixes implements Config.PrefixCheck for a write of key, with
// s3proto.CheckPrefixes: it fails with an error matching ErrExist when an
// object exists under one of key's parent "directories" (Put "a/b" over
// the object "a") or objects exist under key as a prefix (Put "d" over
// "d/e").
func (s *drv) checkPrefixes(ctx context.Context, key string) error {
	if !s.set.PrefixCheck.On(&s.server) {
		return nil
	}
	const op = "put"
	return s3proto.CheckPrefixes(ctx, key,
		func(ctx context.Context, parent string) (bool, error) {
			_, err := s.core.StatObject(ctx, s.bucket, parent, miniogo.StatObjectOptions(s.getOptions()))
			if err != nil && errors.Is(s.Kind(s3proto.OpStat, err), storage.ErrNotFound) {
				return false, nil
			}
			return err == nil, s.fail(ctx, op, err)
		},
		func(ctx context.Context, prefix string) (string, error) {
			lo := miniogo.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: 1}
			noOwner := false
			lo.FetchOwner = &noOwner
			for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
				if oi.Err != nil {
					return "", s.fail(ctx, op, oi.Err)
				}
				return oi.Key, nil
			}
			return "", nil
		})
}
