package s3proto

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestCheckPresignPut(t *testing.T) {
	t.Parallel()
	// The SHA-256 of "abc".
	const sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	pp, err := CheckPresignPut(time.Hour, &storage.PresignPutOptions{ContentType: "image/png", Size: 3, SHA256: sum})
	require.NoError(t, err)
	assert.Equal(t, http.Header{
		"Content-Type":             {"image/png"},
		"Content-Length":           {"3"},
		"X-Amz-Checksum-Sha256":    {"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},
		"X-Amz-Meta-Strata-Sha256": {sum},
		"X-Amz-Storage-Class":      {"STANDARD_IA"},
	}, pp.Header("STANDARD_IA"))

	pp, err = CheckPresignPut(MaxPresignExpiry, nil)
	require.NoError(t, err)
	assert.Empty(t, pp.Header(""), "nothing given, nothing to send")

	for _, d := range []time.Duration{0, -time.Second, time.Second - 1, MaxPresignExpiry + time.Second} {
		_, err := CheckPresignPut(d, nil)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, "expiry %v", d)
	}
	for _, o := range []storage.PresignPutOptions{
		{Size: -1},
		{SHA256: "abc"},
		{SHA256: strings.ToUpper(sum)},
		{SHA256: sum[:62]},
		{SHA256: sum + "00"},
		{ContentType: "text/plain\nX-Evil: 1"},
	} {
		_, err := CheckPresignPut(time.Minute, &o)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, "%+v", o)
	}
}

func TestAttrsRoundTrip(t *testing.T) {
	t.Parallel()
	opts := &storage.PutOptions{CacheControl: "no-cache", ContentDisposition: "inline", ContentEncoding: "br", ContentLanguage: "de"}
	h := http.Header{
		"Cache-Control": {"no-cache"}, "Content-Disposition": {"inline"},
		"Content-Encoding": {"br"}, "Content-Language": {"de"},
	}
	var info storage.Info
	HeaderAttrs(h).SetInfo(&info)
	assert.Equal(t, PutAttrs(opts), InfoAttrs(info))
	assert.Equal(t, *opts, *storage.PutOptionsOf(info), "what a copy stores")

	assert.Equal(t, Attrs{}, PutAttrs(nil))
}
