package s3proto

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMetaValueEncoding(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "plain", "a  b", " lead", "trail ", "  both  ", "=?UTF-8?Q?x?=", "=?UTF-8?B?aGk=?=",
		"=?", "=?x", "under_score = eq?", " ~!@#$%^&*()_+{}|:\"<>? "} {
		enc := EncodeMetaValue(v)
		assert.Equal(t, strings.TrimSpace(enc), enc, "no spaces at the ends of %q", enc)
		assert.Equal(t, v, DecodeMetaValue(enc), "round trip of %q via %q", v, enc)
	}
	assert.Equal(t, "plain", EncodeMetaValue("plain"), "ordinary values are stored as they are")
	assert.Equal(t, "a  b", EncodeMetaValue("a  b"))
	// What older releases of the s3 driver stored still reads back.
	assert.Equal(t, " lead", DecodeMetaValue("=?UTF-8?B?IGxlYWQ=?="))
	assert.Equal(t, "=?UTF-8?B?not base64!?=", DecodeMetaValue("=?UTF-8?B?not base64!?="), "what does not decode is kept")
}
