package local_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

func Example() {
	dir, err := os.MkdirTemp("", "strata-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := local.New(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Put streams the bytes into a temporary file and renames it into place.
	_, err = store.Put(ctx, "local_content/ab/cd/efgh", strings.NewReader("hello, media"),
		&storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"uploader": "ann"}})
	if err != nil {
		log.Fatal(err)
	}

	// The object is a plain file at the key's path.
	b, _ := os.ReadFile(filepath.Join(dir, "local_content", "ab", "cd", "efgh"))
	fmt.Printf("on disk: %s\n", b)

	rc, info, err := store.Get(ctx, "local_content/ab/cd/efgh", nil)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("get: %s (%s, %d bytes, uploader %s)\n", body, info.ContentType, info.Size, info.Metadata["uploader"])

	for info, err := range store.List(ctx, &storage.ListOptions{Prefix: "local_content/"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("list:", info.Key)
	}

	_ = store.Delete(ctx, "local_content/ab/cd/efgh")
	_, err = store.Stat(ctx, "local_content/ab/cd/efgh")
	fmt.Println("after delete, not found:", errors.Is(err, storage.ErrNotFound))
	entries, _ := os.ReadDir(dir)
	fmt.Println("directories left:", len(entries))
	// Output:
	// on disk: hello, media
	// get: hello, media (text/plain, 12 bytes, uploader ann)
	// list: local_content/ab/cd/efgh
	// after delete, not found: true
	// directories left: 0
}

// An existing tree of files, such as a Synapse media_store, is a store as
// it is; storage.Open opens one from a file URL.
func Example_existingTree() {
	dir, err := os.MkdirTemp("", "media_store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	thumb := filepath.Join(dir, "local_thumbnails", "ab", "cd", "efgh", "32-32-image-jpeg")
	os.MkdirAll(filepath.Dir(thumb), 0o750)
	os.WriteFile(thumb, []byte("jpeg"), 0o640)

	p, err := storage.Open(context.Background(), "file://"+dir)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	for info, err := range p.List(context.Background(), nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %d bytes, sha256 known: %v\n", info.Key, info.Size, info.SHA256 != "")
	}
	// Output:
	// local_thumbnails/ab/cd/efgh/32-32-image-jpeg 4 bytes, sha256 known: false
}
