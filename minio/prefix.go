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
			for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
				if oi.Err != nil {
					return "", s.fail(ctx, op, oi.Err)
				}
				return oi.Key, nil
			}
			return "", nil
		})
}

// livePrefixes drops the common prefixes of a delimiter listing under
// which no object is left, when the server may list them: MinIO rolls up
// the directories of a versioned bucket whose objects are all deleted (see
// s3proto.Versioning).
func (s *drv) livePrefixes(ctx context.Context, prefixes []storage.Info) ([]storage.Info, error) {
	const op = "list"
	confirm, err := s.versioning.Confirm(ctx, &s.server, func(ctx context.Context) (bool, error) {
		cfg, err := s.core.GetBucketVersioning(ctx, s.bucket)
		if err != nil {
			return false, err
		}
		return cfg.Status != "", nil
	})
	if err != nil || !confirm {
		return prefixes, err
	}
	return s3proto.LivePrefixes(ctx, prefixes, func(ctx context.Context, prefix string) (bool, error) {
		lo := miniogo.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: 1}
		for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
			if oi.Err != nil {
				return false, s.fail(ctx, op, oi.Err)
			}
			return true, nil
		}
		return false, ctx.Err()
	})
}
