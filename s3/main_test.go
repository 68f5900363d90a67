package s3

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	// Keep the SDK's default chain hermetic: no shared config from the
	// machine, and never the EC2 metadata address (tests talk to loopback
	// only).
	dir, err := os.MkdirTemp("", "s3test")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION", SSECKeyEnv} {
		os.Unsetenv(k)
	}
	// The tests against MinIO are in internal/integration/s3driver.
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
