package s3

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// checkPrefixes implements Config.PrefixCheck for a write of key, with
// s3proto.CheckPrefixes: it fails with an error matching ErrExist when an
// object exists under one of key's parents or objects exist under key+"/".
func (s *drv) checkPrefixes(ctx context.Context, key string) error {
	if !s.set.PrefixCheck.On(&s.server) {
		return nil
	}
	const op = "put"
	return s3proto.CheckPrefixes(ctx, key,
		func(ctx context.Context, parent string) (bool, error) {
			in := &s3.HeadObjectInput{Bucket: &s.set.Bucket, Key: aws.String(parent)}
			s.sseCHead(in)
			_, err := s.client.HeadObject(ctx, in)
			if err != nil && errors.Is(s.Kind(s3proto.OpStat, err), storage.ErrNotFound) {
				return false, nil
			}
			return err == nil, s.fail(ctx, op, err)
		},
		func(ctx context.Context, prefix string) (string, error) {
			out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
				Bucket: &s.set.Bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(1),
			})
			if err != nil {
				return "", s.fail(ctx, op, err)
			}
			if len(out.Contents) == 0 {
				return "", nil
			}
			return aws.ToString(out.Contents[0].Key), nil
		})
}

// livePrefixes drops the common prefixes of a delimiter listing under
// which no object is left, when the server may list them: MinIO rolls up
// the directories of a versioned bucket whose objects are all deleted (see
// s3proto.Versioning).
func (s *drv) livePrefixes(ctx context.Context, prefixes []storage.Info) ([]storage.Info, error) {
	const op = "list"
	confirm, err := s.versioning.Confirm(ctx, &s.server, func(ctx context.Context) (bool, error) {
		out, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &s.set.Bucket})
		if err != nil {
			return false, err
		}
		return out.Status != "", nil
	})
	if err != nil || !confirm {
		return prefixes, err
	}
	return s3proto.LivePrefixes(ctx, prefixes, func(ctx context.Context, prefix string) (bool, error) {
		in := &s3.ListObjectsV2Input{Bucket: &s.set.Bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)}
		for {
			out, err := s.client.ListObjectsV2(ctx, in)
			if err != nil {
				return false, s.fail(ctx, op, err)
			}
			if len(out.Contents) > 0 {
				return true, nil
			}
			if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
				return false, nil
			}
			in.ContinuationToken = out.NextContinuationToken
		}
	})
}
