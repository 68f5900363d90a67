package storage_test

import (
	"errors"
	"fmt"

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
