package minio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

// A Store for a bucket on a MinIO server. New only checks the
// configuration; the first request goes out with the first call.
func ExampleNew() {
	s, err := minio.New(context.Background(), minio.Config{
		Endpoint:  "127.0.0.1:9000",
		Region:    "us-east-1",
		AccessKey: "strata",
		SecretKey: "an-example-secret",
		Bucket:    "media",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s.Bucket())
	// Output: media
}

// Opening a Store from a URL, with the credentials in the environment.
func ExampleNew_url() {
	os.Setenv("MINIO_ACCESS_KEY", "strata")
	os.Setenv("MINIO_SECRET_KEY", "an-example-secret")
	defer os.Unsetenv("MINIO_ACCESS_KEY")
	defer os.Unsetenv("MINIO_SECRET_KEY")
	p, err := storage.Open(context.Background(), "minio://127.0.0.1:9000/media?secure=false&region=us-east-1")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	fmt.Println(p.(*minio.Store).Bucket())

	// Credentials in the URL are refused, and never shown.
	_, err = storage.Open(context.Background(), "minio://strata:hunter2@127.0.0.1:9000/media")
	fmt.Println(errors.Is(err, storage.ErrInvalidArgument), strings.Contains(err.Error(), "hunter2"))
	// Output:
	// media
	// true false
}

// Errors are matched with errors.Is. A server that cannot be reached is
// ErrUnavailable, never ErrNotFound.
func ExampleStore_Stat_errors() {
	s, err := minio.New(context.Background(), minio.Config{
		Endpoint: "127.0.0.1:1", // nothing listens here
		Region:   "us-east-1", AccessKey: "strata", SecretKey: "an-example-secret",
		Bucket: "media", MaxRetries: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	_, err = s.Stat(context.Background(), "local_content/ab/cd/efgh")
	fmt.Println(errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrNotFound))
	// Output: true false
}

// Storing and reading an object. With IfNotExists, of several uploads of
// the same key only the first succeeds.
func ExampleStore_Put() {
	ctx := context.Background()
	s, err := minio.New(ctx, minio.Config{Endpoint: "127.0.0.1:9000", Region: "us-east-1", Bucket: "media"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	info, err := s.Put(ctx, "uploads/hello.txt", strings.NewReader("hello"), &storage.PutOptions{
		ContentType: "text/plain",
		IfNotExists: true,
	})
	if errors.Is(err, storage.ErrExist) {
		fmt.Println("already there")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, info.SHA256)

	rc, info, err := s.Get(ctx, "uploads/hello.txt", &storage.GetOptions{Range: &storage.Range{Offset: 1, Length: 3}})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Println(string(b), info.Size)
}

// A URL that downloads an object without credentials for an hour.
func ExampleStore_PresignGet() {
	ctx := context.Background()
	s, err := minio.New(ctx, minio.Config{Endpoint: "127.0.0.1:9000", Region: "us-east-1", Bucket: "media"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	u, err := s.PresignGet(ctx, "uploads/hello.txt", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
}

// A Config can be printed and logged: its secrets are hidden.
func ExampleConfig_String() {
	cfg := minio.Config{
		Endpoint:       "127.0.0.1:9000",
		AccessKey:      "strata",
		SecretKey:      "an-example-secret",
		Bucket:         "media",
		SSECustomerKey: []byte("0123456789abcdef0123456789abcdef"),
	}
	fmt.Println(cfg)
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable output
			}
			return a
		},
	}))
	logger.Info("opening", "config", cfg)
	// Output:
	// minio.Config{Endpoint:"127.0.0.1:9000" Secure:false Region:"" AccessKey:"strata" SecretKey:xxxxx SessionToken:"" Credentials:<nil> Bucket:"media" StorageClass:"" SSECustomerKey:xxxxx PartSize:0 Concurrency:0 NumThreads:0 Transport:<nil> MaxAttempts:0 MaxRetries:0 RecordLargeSHA256:false SkipMultipartSHA256:false PrefixCheck:auto SkipPrefixCheck:false SkipVerifyReads:false Logger:<nil>}
	// {"level":"INFO","msg":"opening","config":{"endpoint":"127.0.0.1:9000","secure":false,"region":"","access_key":"strata","secret_key":"xxxxx","session_token":"","credentials":false,"bucket":"media","storage_class":"","sse_customer_key":"xxxxx","part_size":0,"concurrency":0,"num_threads":0,"transport":false,"max_attempts":0,"max_retries":0,"record_large_sha256":false,"skip_multipart_sha256":false,"prefix_check":"auto","skip_prefix_check":false,"skip_verify_reads":false}}
}

// A whole-object Get checks the bytes against the SHA-256 recorded at Put:
// the Read that reaches the end fails with ErrCorrupt when they differ.
// Ranged Gets are not checked; Config.SkipVerifyReads turns the check off.
func ExampleConfig_skipVerifyReads() {
	ctx := context.Background()
	s, err := minio.New(ctx, minio.Config{Endpoint: "127.0.0.1:9000", Bucket: "media", SkipVerifyReads: false})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	read := func(key string) error {
		rc, _, err := s.Get(ctx, key, nil)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc) // reads to the end, where the check is
		return err
	}
	if err := read("media/video.mp4"); errors.Is(err, storage.ErrCorrupt) {
		fmt.Println("the stored bytes are not what was written:", err)
	}
}
