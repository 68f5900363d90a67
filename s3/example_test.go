package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// A Store on a MinIO server: put an object, read part of it back, and
// hand out a download link. (Not run: it needs a server.)
func Example() {
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{
		Bucket:          "media",
		Endpoint:        "http://127.0.0.1:9000",
		Region:          "us-east-1",
		AccessKeyID:     "minioadmin",
		SecretAccessKey: "minioadmin",
		// PrefixCheck's default, auto, refuses "a/b" when "a" exists on
		// MinIO, which cannot list both.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	info, err := st.Put(ctx, "uploads/cat.jpg", strings.NewReader("...jpeg bytes..."),
		&storage.PutOptions{ContentType: "image/jpeg", IfNotExists: true})
	switch {
	case errors.Is(err, storage.ErrExist):
		log.Print("someone else uploaded it first")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(info.Size, info.SHA256)

	rc, info, err := st.Get(ctx, "uploads/cat.jpg", &storage.GetOptions{Range: &storage.Range{Offset: 3, Length: 4}})
	if errors.Is(err, storage.ErrNotFound) {
		log.Fatal("gone")
	} else if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	part, _ := io.ReadAll(rc)
	fmt.Printf("%q of %d bytes\n", part, info.Size)

	link, err := st.PresignGet(ctx, "uploads/cat.jpg", 15*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	_ = link // hand it to the client; do not log it: it carries a signature
}

// storage.Open takes the configuration from a URL and the credentials from
// the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
// ...). ConfigFromURL shows what a URL means.
func ExampleConfigFromURL() {
	u, _ := url.Parse("s3://media?endpoint=https://acct.r2.cloudflarestorage.com&region=auto&part_size=32MiB")
	cfg, err := s3.ConfigFromURL(u)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Bucket, cfg.Endpoint, cfg.Region, cfg.PartSize>>20, "MiB parts")

	_, err = storage.Open(context.Background(), "s3://AKIAEXAMPLE:secret@media")
	fmt.Println(errors.Is(err, storage.ErrInvalidArgument), strings.Contains(err.Error(), "secret@"))
	// Output:
	// media https://acct.r2.cloudflarestorage.com auto 32 MiB parts
	// true false
}

// A Config can be logged: its secrets are hidden.
func ExampleConfig_String() {
	cfg := s3.Config{
		Bucket:          "media",
		Region:          "eu-west-1",
		AccessKeyID:     "AKIAEXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SSE:             s3.SSE{Mode: s3.SSEC, CustomerKey: []byte("0123456789abcdef0123456789abcdef")},
	}
	s := cfg.String()
	fmt.Println(strings.Contains(s, "wJalr"), strings.Contains(s, "0123456789"))
	fmt.Println(cfg.SSE)
	// Output:
	// false false
	// SSE-C(key xxxxx)
}

// Presigning needs no request to the server.
func ExampleStore_PresignGet() {
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{Bucket: "media", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
		AccessKeyID: "minioadmin", SecretAccessKey: "minioadmin"})
	if err != nil {
		log.Fatal(err)
	}
	link, err := st.PresignGet(ctx, "videos/intro.mp4", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(link)
	fmt.Println(u.Host, u.Path, u.Query().Get("X-Amz-Expires"))
	// Output: 127.0.0.1:9000 /media/videos/intro.mp4 3600
}

// A Config logged with log/slog is a group of its fields, secrets hidden.
func ExampleConfig_LogValue() {
	cfg := s3.Config{
		Bucket:          "media",
		Region:          "eu-west-1",
		AccessKeyID:     "AKIAEXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SkipVerifyReads: true,
	}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger.Info("opening store", "s3", cfg)
	// Output:
	// {"level":"INFO","msg":"opening store","s3":{"bucket":"media","region":"eu-west-1","endpoint":"","addressing":"auto","access_key_id":"AKIAEXAMPLE","secret_access_key":"xxxxx","session_token":"","storage_class":"","sse":"none","part_size":0,"concurrency":0,"max_attempts":0,"record_large_sha256":false,"prefix_check":"auto","prefix_conflicts":false,"skip_verify_reads":true,"http_client":false,"logger":false}}
}

// Reading a whole object verifies it against the SHA-256 recorded when it
// was stored: a mismatch is reported by the Read that reaches the end, so
// read to the end before acting on the content. (Not run: it needs a
// server.)
func ExampleStore_Get_verified() {
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{Bucket: "media", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	rc, _, err := st.Get(ctx, "uploads/cat.jpg", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "cat-*.jpg")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, rc)
	switch {
	case errors.Is(err, storage.ErrCorrupt):
		log.Print("the stored object does not match its checksum; not serving it")
	case err != nil:
		log.Fatal(err)
	}
}
