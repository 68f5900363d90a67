package cache_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/strata-storage/strata/cache"
)

func Example() {
	dir, err := os.MkdirTemp("", "cache-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
	if err != nil {
		log.Fatal(err)
	}
	// An object only this cache holds (not yet uploaded) is pinned: it is
	// never evicted, and it survives a crash.
	info, err := c.PutPinned(ctx, "media/ab/cd/upload", strings.NewReader("new upload"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pinned:", c.Usage().PinnedEntries)

	// A second process (or Cache) cannot open the directory meanwhile.
	if _, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30}); err != nil {
		fmt.Println("second open refused:", strings.Contains(err.Error(), "locked"))
	}
	c.Close()

	// After a restart the pin is still there; once the object is safe
	// elsewhere, Unpin makes it an ordinary, evictable entry.
	c, err = cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for p, err := range c.Pinned(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("still pinned after reopen:", p.Key)
	}
	if err := c.Unpin(ctx, "media/ab/cd/upload", info.ETag); err != nil {
		log.Fatal(err)
	}
	rc, _, err := c.Get(ctx, "media/ab/cd/upload", nil)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Println(string(b), c.Usage().PinnedEntries, c.Stats().Hits)
	// Output:
	// pinned: 1
	// second open refused: true
	// still pinned after reopen: media/ab/cd/upload
	// new upload 0 1
}

// A cache on a file system that checksums its own data (ZFS, btrfs) can
// skip the cache's check of whole reads: a hit then reads like a plain
// file, and io.Copy to a socket can use sendfile(2). The size check at
// open stays.
func ExampleOptions_skipVerify() {
	dir, err := os.MkdirTemp("", "cache-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30, SkipVerify: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, "media/ab/cd/photo", strings.NewReader("jpeg bytes"), nil); err != nil {
		log.Fatal(err)
	}
	rc, info, err := c.Get(ctx, "media/ab/cd/photo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc) // to an http.ResponseWriter or a *net.TCPConn: sendfile(2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n == info.Size, info.SHA256 != "")
	// Output:
	// true true
}
