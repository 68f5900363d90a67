package s3driver_test

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

func TestOpenURL(t *testing.T) {
	// Not parallel: credentials come from the environment.
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	ctx := t.Context()

	raw := fmt.Sprintf("s3://%s?endpoint=%s&region=%s&path_style=true&part_size=8MiB&concurrency=3&max_attempts=2", bucket, url.QueryEscape(srv.URL), srv.Region)
	p, err := storage.Open(ctx, raw)
	require.NoError(t, err)
	defer p.Close()
	st := p.(*s3.Store)
	assert.Equal(t, int64(8<<20), st.Parts().Size) // the rest: s3's TestOpenURLSettings
	assert.True(t, st.Client().Options().UsePathStyle)
	_, err = p.Put(ctx, "k", strings.NewReader("from a URL"), nil)
	require.NoError(t, err)
	rc, _, err := p.Get(ctx, "k", nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	assert.Equal(t, "from a URL", string(b))
}
