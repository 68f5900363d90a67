//go:build !linux

package local_test

import (
	"errors"
	"testing"
)

var errNoMountNamespace = errors.New("mount namespaces are Linux only")

func mountReadOnly(dir string) error { return errNoMountNamespace }

func runInMountNamespace(t *testing.T, dir string) (string, error) {
	return "", errNoMountNamespace
}
