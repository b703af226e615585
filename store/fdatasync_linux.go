package store

import (
	"os"
	"syscall"
)

// fdatasync makes f's data (and its size) durable, without the other
// metadata fsync also writes.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
