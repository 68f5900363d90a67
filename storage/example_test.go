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
// io.ReadSeeker or an io.ReaderAt, such as http.ServeContent: it reads
// nothing until asked, and the first Read after a Seek is one ranged Get,
// never a read of what lies before it.
func ExampleOpenReader() {
	ctx := context.Background()
	p := memory.New()
	p.Put(ctx, "notes.txt", strings.NewReader("first line\nsecond line\n"), nil)

	r, err := storage.OpenReader(ctx, p, "notes.txt", nil)
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

// A caller that knows the ranges it will read gives them to OpenReader:
// the first is opened with the Get that also answers for the object's
// Info (no Stat), and each is read with a Get of just that range. A
// caller that has the Info already passes it, and OpenReader makes no
// request at all.
func ExampleOpenReader_ranges() {
	ctx := context.Background()
	p := memory.New()
	p.Put(ctx, "clip.txt", strings.NewReader("0123456789abcdefghij"), nil)

	r, err := storage.OpenReader(ctx, p, "clip.txt", &storage.ReaderOptions{
		Ranges: []storage.Range{{Offset: 10, Length: 3}, {Offset: 18}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for _, off := range []int64{10, 18} {
		r.Seek(off, io.SeekStart)
		b := make([]byte, 2)
		io.ReadFull(r, b)
		fmt.Printf("%d: %s\n", off, b)
	}

	info := r.Info()
	again, _ := storage.OpenReader(ctx, p, "clip.txt", &storage.ReaderOptions{Info: &info})
	defer again.Close()
	b := make([]byte, 4)
	again.ReadAt(b, 4)
	fmt.Printf("4: %s\n", b)
	// Output:
	// 10: ab
	// 18: ij
	// 4: 4567
}
