package memory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

func Example() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()

	_, err := s.Put(ctx, "media/hello.txt", strings.NewReader("hello, world"),
		&storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"owner": "alice"}})
	if err != nil {
		panic(err)
	}

	rc, info, err := s.Get(ctx, "media/hello.txt", &storage.GetOptions{Range: &storage.Range{Offset: 7}})
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("%s (%d bytes, %s, owner %s)\n", b, info.Size, info.ContentType, info.Metadata["owner"])

	for info, err := range s.List(ctx, &storage.ListOptions{Prefix: "media/"}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(info.Key)
	}

	_, err = s.Stat(ctx, "media/missing")
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// world (12 bytes, text/plain, owner alice)
	// media/hello.txt
	// true
}

// Opening the same mem://name twice gives two handles on the same data.
func Example_named() {
	ctx := context.Background()
	a, err := storage.Open(ctx, "mem://example-shared")
	if err != nil {
		panic(err)
	}
	b, err := storage.Open(ctx, "mem://example-shared")
	if err != nil {
		panic(err)
	}
	if _, err := a.Put(ctx, "k", strings.NewReader("v"), nil); err != nil {
		panic(err)
	}
	a.Close()
	info, err := b.Stat(ctx, "k")
	fmt.Println(info.Size, err)
	// Output: 1 <nil>
}
