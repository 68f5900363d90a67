package tiered_test

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild()) // the child of TestCrashWriteBehind
	}
	os.Exit(m.Run())
}
