package iofs_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/strata-storage/strata/iofs"
	"github.com/strata-storage/strata/memory"
)

// Walk a store as a file system. http.FileServerFS(fsys) serves it, with
// byte ranges.
func Example() {
	ctx := context.Background()
	p := memory.New()
	for _, k := range []string{"media/a.jpg", "media/thumbs/a.jpg", "index.html"} {
		p.Put(ctx, k, strings.NewReader("..."), nil)
	}
	fsys := iofs.New(ctx, p)
	fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fmt.Println(name, d.IsDir())
		return nil
	})
	// Output:
	// . true
	// index.html false
	// media true
	// media/a.jpg false
	// media/thumbs true
	// media/thumbs/a.jpg false
}
