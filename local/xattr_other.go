//go:build !linux

package local

import (
	"errors"
	"io/fs"
	"os"
)

const haveXattr = false

func setXattr(f *os.File, data []byte) error { return errNoXattr }

func getXattr(f *os.File) ([]byte, error) { return nil, nil }

func xattrUnsupported(err error) bool { return err == errNoXattr }

func renameNoReplace(d *os.File, oldname, newname string) error { return errors.ErrUnsupported }

// changeStamp has nothing to give here: there are no extended attributes
// to keep records of.
func changeStamp(fs.FileInfo) (fileKey, int64, bool) { return fileKey{}, 0, false }
