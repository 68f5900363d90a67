package s3

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// TestOpenURLSettings checks that storage.Open gives a Store the settings
// of its URL. New sends no request; the round trip through a URL against
// MinIO is internal/integration/s3driver's TestOpenURL.
func TestOpenURLSettings(t *testing.T) {
	// Not parallel: credentials come from the environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	p, err := storage.Open(t.Context(), "s3://media?endpoint=http%3A%2F%2F127.0.0.1%3A1&region=eu-west-1&path_style=true&part_size=8MiB&concurrency=3&max_attempts=2")
	require.NoError(t, err)
	defer p.Close()
	st := p.(*Store)
	assert.Equal(t, int64(8<<20), st.d.set.PartSize)
	assert.Equal(t, 3, st.d.set.Concurrency)
	assert.Equal(t, 2, st.d.set.MaxAttempts)
	assert.Equal(t, "eu-west-1", st.Client().Options().Region)
	assert.True(t, st.Client().Options().UsePathStyle)
	assert.Equal(t, "media", st.Bucket())
}

func TestConfigFromURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want Config
	}{
		{"s3://media", Config{Bucket: "media"}},
		{"s3://media?region=eu-west-1&storage_class=STANDARD_IA", Config{Bucket: "media", Region: "eu-west-1", StorageClass: "STANDARD_IA"}},
		{"s3://media?endpoint=http://127.0.0.1:9000&path_style=false", Config{Bucket: "media", Endpoint: "http://127.0.0.1:9000", Addressing: AddressingVirtualHost}},
		{"s3://media?endpoint=acct.r2.cloudflarestorage.com&region=auto", Config{Bucket: "media", Endpoint: "https://acct.r2.cloudflarestorage.com", Region: "auto"}},
		{"s3://media?addressing=path&sse=sse-kms&sse_kms_key_id=k1", Config{Bucket: "media", Addressing: AddressingPath, SSE: SSE{Mode: SSEKMS, KMSKeyID: "k1"}}},
		{"s3://media?sse=aes256&part_size=64M&concurrency=8&max_attempts=5&prefix_conflicts=true", Config{Bucket: "media", SSE: SSE{Mode: SSES3}, PartSize: 64 << 20, Concurrency: 8, MaxAttempts: 5, PrefixCheck: PrefixCheckOn}},
		{"s3://media?skip_verify_reads=true", Config{Bucket: "media", SkipVerifyReads: true}},
		{"s3://media?skip_verify_reads=false&record_large_sha256=1", Config{Bucket: "media", RecordLargeSHA256: true}},
		{"s3://media?prefix_check=false", Config{Bucket: "media", PrefixCheck: PrefixCheckOff}},
		// The minio package's names, and the deprecated ones, mean the same.
		{"s3://media?threads=3&max_retries=2&skip_prefix_check=true&skip_multipart_sha256=false",
			Config{Bucket: "media", Concurrency: 3, MaxAttempts: 2, PrefixCheck: PrefixCheckOff, RecordLargeSHA256: true}},
	}
	for _, tt := range tests {
		cfg, err := ConfigFromURL(mustParse(t, tt.raw))
		require.NoError(t, err, tt.raw)
		assert.Equal(t, tt.want, cfg, tt.raw)
	}
	for _, raw := range []string{
		"s3://AKIAEXAMPLE:topsecret@media",
		"s3://media?secret_access_key=topsecret",
		"s3://",
		"s3://media/path",
		"s3://media?path_style=maybe",
		"s3://media?skip_verify_reads=sometimes",
		"s3://media?sse=rot13",
		"s3://media?sse=sse-c",
		"s3://media?sse_kms_key_id=k",
		"s3://media?part_size=1MiB",
		"s3://media?concurrency=0",
		"s3://media?region=a&region=b",
		"s3://media?endpoint=ftp://x",
		"s3://media?path_style=true&addressing=path",
	} {
		_, err := storage.Open(context.Background(), raw)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, raw)
		assert.NotContains(t, err.Error(), "topsecret", raw)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"5242880": 5 << 20, "16MiB": 16 << 20, "16M": 16 << 20, "1GiB": 1 << 30, "512k": 512 << 10, "7B": 7} {
		got, err := s3proto.ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "0", "MiB", "1.5M", "99999999999G"} {
		_, err := s3proto.ParseSize(in)
		assert.Error(t, err, in)
	}
}

// TestConfigShared checks the settings the s3 and minio packages share:
// the same defaults, and PrefixConflicts as the deprecated name of
// PrefixCheckOn.
func TestConfigShared(t *testing.T) {
	t.Parallel()
	set, err := Config{Bucket: "b"}.check()
	require.NoError(t, err)
	assert.Equal(t, int64(DefaultPartSize), set.PartSize)
	assert.Equal(t, DefaultConcurrency, set.Concurrency)
	assert.Equal(t, PrefixCheckAuto, set.PrefixCheck)
	assert.False(t, set.RecordLargeSHA256)
	set, err = Config{Bucket: "b", PrefixConflicts: true}.check()
	require.NoError(t, err)
	assert.Equal(t, PrefixCheckOn, set.PrefixCheck)
	set, err = Config{Bucket: "b", PrefixConflicts: true, PrefixCheck: PrefixCheckOff}.check()
	require.NoError(t, err)
	assert.Equal(t, PrefixCheckOff, set.PrefixCheck, "the new name wins")
	_, err = Config{Bucket: "b", PrefixCheck: PrefixCheck(9)}.check()
	assert.Error(t, err)
	st, err := New(t.Context(), Config{Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "s", PartSize: 8 << 20})
	require.NoError(t, err)
	defer st.Close()
	assert.Equal(t, storage.Parts{Size: 8 << 20, ReaderAt: true}, st.Parts())
}
