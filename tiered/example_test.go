package tiered_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/tiered"
)

// A write-behind store: Put returns once the object is durable on local
// disk, and Flush waits until the remote has it.
func Example() {
	dir, err := os.MkdirTemp("", "strata-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir, cache.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	remote := memory.New() // in real life: s3.New, minio.New, b2.New, local.New
	store, err := tiered.New(c, remote, tiered.Options{Mode: tiered.WriteBehind})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()

	if _, err := store.Put(ctx, "local_content/ab/cd/efgh", strings.NewReader("a picture"), nil); err != nil {
		log.Fatal(err)
	}
	if err := store.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	st := store.Status()
	fmt.Println("pending:", st.PendingUploads, "uploaded:", st.Uploaded)

	rc, _, err := remote.Get(ctx, "local_content/ab/cd/efgh", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Printf("remote: %s\n", b)
	// Output:
	// pending: 0 uploaded: 1
	// remote: a picture
}

// Offload uploads what is only local and drops local copies whose remote
// copy is verified; here every copy, however recently read (IdleFor 0).
func ExampleStore_Offload() {
	dir, err := os.MkdirTemp("", "strata-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir, cache.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	store, err := tiered.New(c, memory.New(), tiered.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := store.Put(ctx, k, strings.NewReader("content of "+k), nil); err != nil {
			log.Fatal(err)
		}
	}
	res, err := store.Offload(ctx, &tiered.OffloadOptions{IdleFor: 0})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", res.Verified, "dropped:", res.Dropped, "left in the cache:", store.Cache().Usage().Entries)

	// The objects are still there: fetched back from the remote on a miss.
	rc, _, err := store.Get(ctx, "b", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Printf("%s\n", b)
	// Output:
	// verified: 3 dropped: 3 left in the cache: 0
	// content of b
}
