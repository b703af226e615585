//go:build !windows && !plan9 && !solaris && !aix

package store

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes the exclusive flock bbolt takes on a store file, without
// waiting. The lock goes with f's close.
func tryLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrInUse
	}
	return err
}

// unlock releases f's flock. It releases the lock of the open file
// description, which outlives f's close while the file is still mapped.
func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
