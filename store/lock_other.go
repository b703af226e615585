//go:build windows || plan9 || solaris || aix

package store

import "os"

// tryLock does nothing where there is no flock: on Windows a file open in
// another process cannot be renamed anyway.
func tryLock(f *os.File) error { return nil }

// unlock does nothing where there is no flock.
func unlock(f *os.File) {}
