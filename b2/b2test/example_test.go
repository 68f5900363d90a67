package b2test_test

import (
	"context"
	"fmt"
	"io"
	"log"

	blazer "github.com/Backblaze/blazer/b2"

	"github.com/strata-storage/strata/b2/b2test"
)

// Any B2 client can use the emulator: here blazer's own b2 package, given
// the server's URL with its APIBase option and a key restricted to one
// bucket.
func Example() {
	ctx := context.Background()
	srv := b2test.New(&b2test.Options{Buckets: []string{"media"}}).Start()
	defer srv.Close()
	keyID, key := srv.CreateKey("media")

	client, err := blazer.NewClient(ctx, keyID, key, blazer.APIBase(srv.URL))
	if err != nil {
		log.Fatal(err)
	}
	bucket, err := client.Bucket(ctx, "media")
	if err != nil {
		log.Fatal(err)
	}
	w := bucket.Object("hello.txt").NewWriter(ctx)
	if _, err := io.WriteString(w, "hello from the emulator"); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	r := bucket.Object("hello.txt").NewReader(ctx)
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	fmt.Println(srv.Calls("b2_upload_file"), "upload,", len(srv.Versions("media")), "version")
	// Output:
	// hello from the emulator
	// 1 upload, 1 version
}

// Faults are injected on demand; the emulator counts every call.
func ExampleEmulator_FailUploads() {
	ctx := context.Background()
	srv := b2test.New(nil).Start()
	defer srv.Close()
	keyID, key := srv.MasterKey()
	client, err := blazer.NewClient(ctx, keyID, key, blazer.APIBase(srv.URL))
	if err != nil {
		log.Fatal(err)
	}
	bucket, err := client.Bucket(ctx, srv.DefaultBucket())
	if err != nil {
		log.Fatal(err)
	}
	srv.FailUploads(1) // the first upload answers 503; its URL stays busy
	w := bucket.Object("k").NewWriter(ctx)
	io.WriteString(w, "v")
	fmt.Println(w.Close(), srv.Calls("b2_upload_file"), srv.Calls("b2_get_upload_url"))
	// Output: <nil> 2 2
}
