package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

func ExampleValidKey() {
	for _, key := range []string{"local_content/ab/cd/efgh", "../etc/passwd", "a//b"} {
		err := storage.ValidKey(key)
		fmt.Println(key, errors.Is(err, storage.ErrInvalidKey))
	}
	// Output:
	// local_content/ab/cd/efgh false
	// ../etc/passwd true
	// a//b true
}

func ExampleRedact() {
	fmt.Println(storage.RedactString("s3://AKIAEXAMPLE:wJalrXUtnFEMI@media?region=eu-west-1&secret_key=abc"))
	// Output:
	// s3://xxxxx:xxxxx@media?region=eu-west-1&secret_key=xxxxx
}

// A wrapper (here one that offers nothing but the Provider methods) keeps
// the abilities of what it wraps reachable through storage.As and the
// ability helpers.
func ExampleAs() {
	ctx := context.Background()
	store := memory.New()
	wrapped := struct {
		storage.Provider
		unwrapper
	}{store, unwrapper{store}}

	var m *memory.Store
	fmt.Println(storage.As(wrapped, &m))
	_, err := storage.PresignGet(ctx, wrapped, "k", time.Minute)
	fmt.Println(errors.Is(err, storage.ErrUnsupported))
	// Output:
	// true
	// true
}

type unwrapper struct{ p storage.Provider }

func (u unwrapper) Unwrap() storage.Provider { return u.p }

// OpenReader gives any provider's object to code that wants an
// io.ReadSeeker or an io.ReaderAt, such as http.ServeContent: a Seek
// becomes one ranged Get, never a read of what lies before it.
func ExampleOpenReader() {
	ctx := context.Background()
	p := memory.New()
	p.Put(ctx, "notes.txt", strings.NewReader("first line\nsecond line\n"), nil)

	r, err := storage.OpenReader(ctx, p, "notes.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	r.Seek(11, io.SeekStart)
	b, _ := io.ReadAll(r)
	fmt.Printf("%q of %d bytes\n", b, r.Size())
	// Output:
	// "second line\n" of 23 bytes
}
