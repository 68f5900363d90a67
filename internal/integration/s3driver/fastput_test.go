package s3driver_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// viaSDK reports whether the SDK's PutObject sent q, rather than the s3
// driver's fast path for small objects.
func (q recorded) viaSDK() bool { return strings.Contains(q.header.Get("User-Agent"), "aws-sdk-go-v2") }

// TestFastPutStoresWhatTheSDKStores checks against MinIO that a small
// object the fast path sends (every PutObject of a Store after its first)
// is stored as the SDK's PutObject stores it: the same bytes, attributes,
// metadata and CRC-32 (MinIO checks the one the fast path sends when the
// SDK would send one), and that If-None-Match holds.
func TestFastPutStoresWhatTheSDKStores(t *testing.T) {
	for _, tc := range []struct {
		name     string
		crc, tls bool
	}{{"no checksums", false, false}, {"CRC32 as on AWS", true, false}, {"CRC32 as on AWS, over TLS", true, true}} {
		if tc.crc {
			// As on AWS, where the SDK sends x-amz-checksum-crc32: as a
			// header over plain HTTP, after the payload over TLS (where the
			// fast path sends it as a header, with the payload signed).
			t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
		}
		t.Run(tc.name, func(t *testing.T) {
			var st *s3.Store
			var rec *recorder
			if tc.tls {
				st, rec, _ = newTLSStore(t, s3proto.Knobs{}, nil)
			} else {
				var hc *http.Client
				hc, rec = recordingClient()
				st, _ = newTestStore(t, func(c *s3.Config) { c.HTTPClient = hc })
			}
			crc := tc.crc
			ctx := t.Context()
			content := bytes.Repeat([]byte("a small image "), 3000)
			opts := &storage.PutOptions{
				ContentType: "image/jpeg", CacheControl: "max-age=60", ContentDisposition: `inline; filename="a b.jpg"`,
				ContentLanguage: "fr", Metadata: map[string]string{"owner": "ann"}, IfNotExists: true,
			}
			keys := []string{"by sdk/é+%?#.jpg", "by fast path/é+%?#.jpg"}
			var infos []storage.Info
			for _, k := range keys {
				info, err := st.Put(ctx, k, bytes.NewReader(content), opts)
				require.NoError(t, err)
				infos = append(infos, info)
			}
			puts := rec.requests("PutObject")
			require.Len(t, puts, 2)
			require.True(t, puts[0].viaSDK())
			require.False(t, puts[1].viaSDK(), "the second PutObject takes the fast path")
			assert.Equal(t, crc, puts[1].header.Get("X-Amz-Checksum-Crc32") != "")
			if tc.tls {
				assert.Equal(t, "x-amz-checksum-crc32", puts[0].header.Get("X-Amz-Trailer"), "the SDK sends a trailer")
			}
			assert.Len(t, puts[1].header.Get("X-Amz-Content-Sha256"), 64, "the fast path signs the payload")

			heads := make([]*awss3.HeadObjectOutput, 2)
			for i, k := range keys {
				out, err := st.Client().HeadObject(ctx, &awss3.HeadObjectInput{
					Bucket: aws.String(st.Bucket()), Key: aws.String(k), ChecksumMode: types.ChecksumModeEnabled,
				})
				require.NoError(t, err)
				heads[i] = out
				rc, info, err := st.Get(ctx, k, nil)
				require.NoError(t, err)
				got, err := io.ReadAll(rc)
				require.NoError(t, err)
				require.NoError(t, rc.Close())
				assert.Equal(t, content, got, "a whole read is verified against the SHA-256")
				assert.Equal(t, infos[0].SHA256, info.SHA256)
				assert.Equal(t, "image/jpeg", info.ContentType)
			}
			a, b := heads[0], heads[1]
			assert.Equal(t, a.ContentType, b.ContentType)
			assert.Equal(t, a.CacheControl, b.CacheControl)
			assert.Equal(t, a.ContentDisposition, b.ContentDisposition)
			assert.Equal(t, a.ContentLanguage, b.ContentLanguage)
			assert.Equal(t, a.Metadata, b.Metadata)
			assert.Equal(t, a.ETag, b.ETag, "MinIO's ETag is the MD5 of the content")
			assert.Equal(t, aws.ToString(a.ETag), infos[1].ETag)
			if crc {
				assert.NotEmpty(t, aws.ToString(b.ChecksumCRC32))
			}
			assert.Equal(t, a.ChecksumCRC32, b.ChecksumCRC32)

			_, err := st.Put(ctx, keys[1], strings.NewReader("other"), opts)
			require.ErrorIs(t, err, storage.ErrExist, "If-None-Match: * holds on the fast path")
			assert.False(t, rec.requests("PutObject")[2].viaSDK())
		})
	}
}

// TestFastPutWrongSecret checks that a wrong secret key fails the fast
// path as it fails the SDK: permission denied, with S3's error code and
// without the secret.
func TestFastPutWrongSecret(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	secret := "not-the-secret-key-1234"
	st, _ := newTestStore(t, func(c *s3.Config) { c.HTTPClient = hc; c.SecretAccessKey = secret; c.PrefixCheck = s3.PrefixCheckOff })
	for _, k := range []string{"a", "b"} {
		_, err := st.Put(t.Context(), k, strings.NewReader("x"), nil)
		require.ErrorIs(t, err, storage.ErrPermission)
		assert.Contains(t, err.Error(), "SignatureDoesNotMatch")
		checkNoSecrets(t, err, secret)
	}
	puts := rec.requests("PutObject")
	require.Len(t, puts, 2)
	assert.False(t, puts[1].viaSDK(), "the SDK's first PutObject taught the fast path, though it failed")
}

// TestFastPutOff checks that the SDKPut knob sends every PutObject
// through the SDK (the benchmarks compare the two with it).
func TestFastPutOff(t *testing.T) {
	t.Parallel()
	hc, rec := recordingClient()
	st, _ := newKnobStore(t, s3proto.Knobs{SDKPut: true}, func(c *s3.Config) { c.HTTPClient = hc })
	for _, k := range []string{"a", "b", "c"} {
		_, err := st.Put(t.Context(), k, strings.NewReader("x"), nil)
		require.NoError(t, err)
	}
	for _, q := range rec.requests("PutObject") {
		assert.True(t, q.viaSDK())
	}
}
