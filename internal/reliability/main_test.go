package reliability

import (
	"os"
	"testing"

	"github.com/strata-storage/strata/conformance/miniotest"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childMain())
	}
	os.Exit(miniotest.Run(m))
}
