package b2_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/strata-storage/strata/b2"
	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/storage"
)

// A Store against the b2test emulator, as a test would use it. Against real
// B2, leave APIBase empty and put the key in B2_APPLICATION_KEY_ID and
// B2_APPLICATION_KEY.
func Example() {
	ctx := context.Background()
	srv := b2test.New(nil).Start()
	defer srv.Close()
	keyID, key := srv.MasterKey()

	store, err := b2.New(ctx, b2.Config{
		KeyID: keyID, ApplicationKey: key, Bucket: srv.DefaultBucket(),
		APIBase: srv.URL,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_, err = store.Put(ctx, "media/hello.txt", strings.NewReader("hello, B2"),
		&storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"owner": "alice"}})
	if err != nil {
		log.Fatal(err)
	}
	rc, info, err := store.Get(ctx, "media/hello.txt", &storage.GetOptions{Range: &storage.Range{Offset: 7}})
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("%s of %d bytes, %s, owner %s\n", b, info.Size, info.ContentType, info.Metadata["owner"])

	// Delete removes every version: nothing is left in the bucket.
	if err := store.Delete(ctx, "media/hello.txt"); err != nil {
		log.Fatal(err)
	}
	_, err = store.Stat(ctx, "media/hello.txt")
	fmt.Println(errors.Is(err, storage.ErrNotFound), len(srv.Versions(srv.DefaultBucket())))
	// Output:
	// B2 of 9 bytes, text/plain, owner alice
	// true 0
}

// Faults injected in the emulator show the retries at work: a busy upload
// URL is replaced, an expired token renewed, and a B2 that keeps failing
// ends in storage.ErrUnavailable instead of a hang.
func Example_faults() {
	ctx := context.Background()
	srv := b2test.New(nil).Start()
	defer srv.Close()
	keyID, key := srv.MasterKey()
	store, err := b2.New(ctx, b2.Config{
		KeyID: keyID, ApplicationKey: key, Bucket: srv.DefaultBucket(), APIBase: srv.URL,
		MaxRetries: 2, MinBackoff: time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	srv.FailUploads(1)
	srv.ExpireTokens()
	_, err = store.Put(ctx, "k", strings.NewReader("v"), nil)
	fmt.Println("put:", err, "- authorizations:", srv.Calls("b2_authorize_account"))

	srv.FailAll(503)
	_, err = store.Stat(ctx, "k")
	fmt.Println("stat:", errors.Is(err, storage.ErrUnavailable))
	// Output:
	// put: <nil> - authorizations: 2
	// stat: true
}

// storage.Open takes a b2:// URL; the key comes from the environment.
func Example_url() {
	srv := b2test.New(nil).Start()
	defer srv.Close()
	keyID, key := srv.MasterKey()
	os.Setenv(b2.EnvKeyID, keyID)
	os.Setenv(b2.EnvApplicationKey, key)
	defer os.Unsetenv(b2.EnvKeyID)
	defer os.Unsetenv(b2.EnvApplicationKey)

	raw := "b2://" + srv.DefaultBucket() + "?delete=hide&part_size=32MiB&api_base=" + url.QueryEscape(srv.URL)
	p, err := storage.Open(context.Background(), raw)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	fmt.Println(p)
	// Output: b2://test-bucket
}

// A Config can be printed and logged: the application key is hidden.
func ExampleConfig_String() {
	cfg := b2.Config{KeyID: "0012345678abcdef0000000001", ApplicationKey: "K001-an-example-key", Bucket: "media"}
	fmt.Println(cfg)
	fmt.Println(strings.Contains(fmt.Sprintf("%#v", cfg), "K001"))
	// Output:
	// b2.Config{KeyID:"0012345678abcdef0000000001" ApplicationKey:xxxxx Bucket:"media" PartSize:0 Concurrency:0 MaxRetries:0 RetryTimeout:0s AttemptTimeout:0s MinBackoff:0s MaxBackoff:0s DeleteMode:all-versions APIBase:"" HTTPClient:<nil> Logger:<nil>}
	// false
}
