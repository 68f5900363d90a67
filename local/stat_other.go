//go:build !unix

package local

import "io/fs"

func fileID(fi fs.FileInfo) uint64 { return 0 }

const openNonblock = 0
