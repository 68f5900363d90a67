package tiered_test

import (
	"os"
	"testing"

	"github.com/strata-storage/strata/conformance/miniotest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild()) // the child of TestCrashWriteBehind
	}
	os.Exit(miniotest.Run(m))
}
