package s3_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// TestURLCredentialsRefused: a URL with user information is refused before
// any request, and the error repeats neither the key ID nor the secret
// (the b2 driver's URL is held to the same rule).
func TestURLCredentialsRefused(t *testing.T) {
	const id, secret = "AKIDNEVERSHOWN", "s3cr3tNeverShown"
	for _, raw := range []string{
		"s3://" + id + ":" + secret + "@media",
		"s3://:" + secret + "@media",
		"s3://" + id + "@media",
		"s3://" + id + ":" + secret + "@media?unknown_parameter=1",
	} {
		p, err := storage.Open(context.Background(), raw)
		if err == nil {
			p.Close()
		}
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		require.NotContains(t, err.Error(), secret)
		require.NotContains(t, err.Error(), id)
	}
}
