package local_test

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// mountReadOnly bind-mounts dir read-only onto itself. It is called in a
// child process whose mount namespace is its own (runInMountNamespace),
// so nothing outside the child sees the mount.
func mountReadOnly(dir string) error {
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount: %w", err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("remount read-only: %w", err)
	}
	return nil
}

// runInMountNamespace runs TestReadOnlyTree again in a child process with
// a mount namespace of its own, told to mount dir read-only, and returns
// its output.
func runInMountNamespace(t *testing.T, dir string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadOnlyTree$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), roChildEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
