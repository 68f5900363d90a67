package miniotest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnavailable runs TestStartRoundTrip in a child process of this test
// binary where the image is missing, and checks how it ends: one skip line
// saying why and how to enable it, or a failure when CI=true. (Docker being
// unreachable is tested inside the package, TestNoDocker: testcontainers
// falls back to the default socket whatever DOCKER_HOST says.)
func TestUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	if os.Getenv("MINIOTEST_CHILD") != "" {
		t.Skip("child process")
	}
	cases := []struct {
		name   string
		env    []string
		ci     bool
		reason string
	}{
		{name: "image not built", env: []string{"STRATA_MINIO_IMAGE=strata-minio:does-not-exist"}, reason: "image strata-minio:does-not-exist is not built"},
		{name: "image not built in CI", env: []string{"STRATA_MINIO_IMAGE=strata-minio:does-not-exist"}, ci: true, reason: "not built"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestStartRoundTrip$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "MINIOTEST_CHILD=1", "CI=false")
			if tc.ci {
				cmd.Env = append(cmd.Env, "CI=true")
			}
			cmd.Env = append(cmd.Env, tc.env...)
			out, err := cmd.CombinedOutput()
			s := string(out)
			if tc.ci {
				require.Error(t, err, "under CI=true the test must fail:\n%s", s)
				assert.Contains(t, s, "--- FAIL: TestStartRoundTrip")
				assert.Contains(t, s, "CI=true")
			} else {
				require.NoError(t, err, s)
				assert.Contains(t, s, "--- SKIP: TestStartRoundTrip")
				var lines []string
				for _, l := range strings.Split(s, "\n") {
					if strings.Contains(l, "miniotest: skipping") {
						lines = append(lines, l)
					}
				}
				require.Len(t, lines, 1, "one skip line:\n%s", s)
				assert.Contains(t, lines[0], "make minio-image")
			}
			assert.Contains(t, s, tc.reason)
		})
	}
}
