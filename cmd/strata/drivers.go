package main

// The drivers strata opens locations with, imported for the URL schemes
// they register with storage.Open.
import (
	_ "github.com/strata-storage/strata/b2"
	_ "github.com/strata-storage/strata/local"
	_ "github.com/strata-storage/strata/memory"
	_ "github.com/strata-storage/strata/minio"
	_ "github.com/strata-storage/strata/s3"
)
