package tieredminio_test

import (
	"os"
	"testing"

	"github.com/strata-storage/strata/conformance/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
