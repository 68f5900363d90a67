package s3driver_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// TestGetVerifiesContent replaces an object's bytes behind strata's back,
// keeping the SHA-256 strata recorded for the original, and reads it back.
func TestGetVerifiesContent(t *testing.T) {
	t.Parallel()
	st, srv := newTestStore(t, smallParts)
	ctx := t.Context()
	cfg := testConfig(srv, st.Bucket())
	cfg.SkipVerifyReads = true
	unverified, err := s3.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { unverified.Close() })

	// One PutObject, and a multipart upload of two parts.
	for _, size := range []int{1000, s3.MinPartSize + 5} {
		orig := conformance.RandomBytes(uint64(size), size)
		flipped := slices.Clone(orig)
		flipped[size/2] ^= 1
		tampered := []struct {
			name string
			data []byte
		}{
			{"one bit flipped", flipped},
			{"one byte longer", append(slices.Clone(orig), 'x')},
			{"one byte shorter", orig[:size-1]},
		}
		for _, tc := range tampered {
			t.Run(fmt.Sprintf("%d/%s", size, tc.name), func(t *testing.T) {
				key := fmt.Sprintf("%d/%s", size, strings.ReplaceAll(tc.name, " ", "-"))
				_, err := st.Put(ctx, key, bytes.NewReader(orig), &storage.PutOptions{Metadata: map[string]string{"owner": "alice"}})
				require.NoError(t, err)
				got, info := readAllGet(t, st, key, nil)
				require.True(t, bytes.Equal(orig, got), "an intact object reads back")
				require.Equal(t, sha(orig), info.SHA256)

				// Overwrite with the plain SDK, with the original's metadata.
				_, err = st.Client().PutObject(ctx, &awss3.PutObjectInput{
					Bucket: aws.String(st.Bucket()), Key: aws.String(key),
					Body: bytes.NewReader(tc.data), ContentLength: aws.Int64(int64(len(tc.data))),
					Metadata: map[string]string{s3proto.MetaSHA256: sha(orig), "owner": "alice"},
				})
				require.NoError(t, err)

				rc, info, err := st.Get(ctx, key, nil)
				require.NoError(t, err, "the call succeeds: the content is checked as it is read")
				assert.Equal(t, sha(orig), info.SHA256, "Info reports the recorded SHA-256")
				got, err = io.ReadAll(rc)
				require.ErrorIs(t, err, storage.ErrCorrupt)
				assert.Len(t, got, len(tc.data), "the bytes were handed over before the end")
				var se *storage.Error
				require.ErrorAs(t, err, &se)
				assert.Equal(t, "get", se.Op)
				assert.Equal(t, key, se.Key)
				assert.Equal(t, "s3", se.Provider)
				assert.Contains(t, err.Error(), sha(orig), "the message names the recorded SHA-256")
				n, again := rc.Read(make([]byte, 10))
				assert.Zero(t, n)
				assert.ErrorIs(t, again, storage.ErrCorrupt, "every Read after the end reports it")
				require.NoError(t, rc.Close())

				// A range is not verified: it reads the bytes stored.
				part, _ := readAllGet(t, st, key, &storage.Range{Offset: 1, Length: 100})
				assert.Equal(t, tc.data[1:101], part)
				part, _ = readAllGet(t, st, key, &storage.Range{Offset: int64(size / 2)})
				assert.Equal(t, tc.data[size/2:], part)

				// Without verification the whole object reads.
				got, _ = readAllGet(t, unverified, key, nil)
				assert.True(t, bytes.Equal(tc.data, got))
			})
		}
	}

	t.Run("not recorded", func(t *testing.T) {
		// Objects written by other tools carry no SHA-256: nothing to
		// check them against.
		_, err := st.Client().PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String("foreign"), Body: strings.NewReader("hello"),
		})
		require.NoError(t, err)
		got, info := readAllGet(t, st, "foreign", nil)
		assert.Equal(t, "hello", string(got))
		assert.Empty(t, info.SHA256)
	})

	t.Run("whole range", func(t *testing.T) {
		// A Range of offset 0 and length 0 is the whole object, and is
		// verified.
		_, err := st.Put(ctx, "whole", strings.NewReader("original"), nil)
		require.NoError(t, err)
		_, err = st.Client().CopyObject(ctx, &awss3.CopyObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String("whole-copy"),
			CopySource: aws.String(st.Bucket() + "/whole"),
		})
		require.NoError(t, err)
		_, err = st.Client().PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String("whole"), Body: strings.NewReader("replaced"),
			Metadata: map[string]string{s3proto.MetaSHA256: sha([]byte("original"))},
		})
		require.NoError(t, err)
		rc, _, err := st.Get(ctx, "whole", &storage.GetOptions{Range: &storage.Range{}})
		require.NoError(t, err)
		_, err = io.ReadAll(rc)
		rc.Close()
		require.ErrorIs(t, err, storage.ErrCorrupt)
		got, _ := readAllGet(t, st, "whole-copy", &storage.Range{})
		assert.Equal(t, "original", string(got), "a server-side copy keeps the checksum and verifies")
	})
}
