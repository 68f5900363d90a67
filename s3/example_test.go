package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
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
		PrefixConflicts: true, // MinIO cannot list "a" and "a/b" together
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
