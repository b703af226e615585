//go:build !unix

package atomicfile

import "io/fs"

// fileOwner returns -1, -1: this system has no Unix owners.
func fileOwner(fs.FileInfo) (uid, gid int) { return -1, -1 }
