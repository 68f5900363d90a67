package b2

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
)

// TestConfigHidesSecrets formats a Config that holds every kind of secret
// in every way a program might print or log it, and checks that no secret
// shows, in any common encoding, while the fields that help debugging do.
func TestConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	const (
		appKey   = "config-application-key-0123456789"
		basePass = "api-base-password-0123456789"
	)
	tlsKey := []byte("tls-private-key-0123456789")
	cfg := Config{
		KeyID:          "0012345678abcdef0000000001",
		ApplicationKey: appKey,
		Bucket:         "media",
		PartSize:       MinPartSize,
		RetryTimeout:   time.Minute,
		DeleteMode:     DeleteHide,
		APIBase:        "https://user:" + basePass + "@api.example.com/?token=" + basePass + "&x=1",
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{{PrivateKey: tlsKey}},
		}}},
		Logger: slog.New(slog.DiscardHandler),
	}
	secrets := map[string][]byte{
		"application key":  []byte(appKey),
		"API base secrets": []byte(basePass),
		"TLS key":          tlsKey,
	}
	var out []string
	for _, v := range []any{cfg, &cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v", "%10.3v"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		out = append(out, fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprintf("%v", struct{ C any }{v}),
			fmt.Sprintf("%+v", []any{v}), fmt.Sprintf("%#v", map[string]any{"cfg": v}))
		var buf bytes.Buffer
		for _, h := range []slog.Handler{
			slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
			slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		} {
			l := slog.New(h)
			l.Info("config", "config", v)
			l.Info("config", slog.Any("config", v))
			l.With("config", v).Debug("with")
			l.Info("group", slog.Group("g", "config", v))
		}
		out = append(out, buf.String())
	}
	out = append(out, cfg.String(), cfg.GoString())
	text := strings.Join(out, "\n")
	for name, v := range secrets {
		for _, form := range []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v),
			base64.RawStdEncoding.EncodeToString(v), url.QueryEscape(string(v)), fmt.Sprint(v), fmt.Sprintf("%#v", v)} {
			if i := strings.Index(text, form); i >= 0 {
				t.Errorf("the %s shows: ...%s...", name, text[max(0, i-80):min(len(text), i+len(form)+20)])
			}
		}
	}

	// What is not secret is there to help.
	s := cfg.String()
	for _, want := range []string{`KeyID:"0012345678abcdef0000000001"`, `ApplicationKey:xxxxx`, `Bucket:"media"`,
		`RetryTimeout:1m0s`, `DeleteMode:hide`, `api.example.com`, `HTTPClient:set`} {
		assert.Contains(t, s, want)
	}
	assert.Contains(t, Config{}.String(), `ApplicationKey:""`, "an unset key shows as unset")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("open", "config", cfg)
	assert.Contains(t, buf.String(), `"config":{"key_id":"0012345678abcdef0000000001","application_key":"xxxxx","bucket":"media"`)
}

// TestStoreHidesSecrets checks that a Store, which holds the application
// key and the authorization token, prints as its URL only.
func TestStoreHidesSecrets(t *testing.T) {
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		out := fmt.Sprintf(verb, st)
		assert.NotContains(t, out, e.key, verb)
		assert.NotContains(t, out, st.c.cur.Load().token, verb)
	}
	require.Equal(t, "b2://"+e.bucket, fmt.Sprint(st))
	require.Equal(t, `"b2://`+e.bucket+`"`, fmt.Sprintf("%q", st))
}
