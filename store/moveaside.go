package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MoveAside renames the store file at path to path.corrupt-<time> (UTC,
// such as midge.db.corrupt-20250102T150405Z, with a counter added if that
// name is taken), with its write-ahead log (path-wal) beside it, and
// returns the new name (that of the log if only the log was there), so
// that the next OpenBolt starts
// with an empty store while the old file is kept for inspection or repair.
// It is what `midge broker --recover` runs after OpenBolt or Load failed
// with ErrCorrupt. It fails, moving nothing, with an error wrapping
// ErrInUse if another process holds the file open as a store, and with one
// wrapping fs.ErrNotExist if there is no file.
func MoveAside(path string) (string, error) {
	return moveAside(path, time.Now())
}

func moveAside(path string, now time.Time) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// A log without its store file (which a running store would
		// have) is moved alone.
		if _, werr := os.Lstat(path + WALSuffix); werr == nil {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("store: move aside: %w", err)
	}
	if f != nil {
		defer f.Close()
		// Hold the lock a running store holds, so that the file of a
		// running midge is never moved.
		if err := tryLock(f); err != nil {
			if errors.Is(err, ErrInUse) {
				return "", fmt.Errorf("store %s is in use by another process; stop it before moving the file aside: %w", path, ErrInUse)
			}
			return "", fmt.Errorf("store: move aside %s: lock: %w", path, err)
		}
	}
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	dst := base
	for i := 2; ; i++ {
		taken, err := exists(dst)
		if err == nil && !taken {
			taken, err = exists(dst + WALSuffix)
		}
		if err != nil {
			return "", fmt.Errorf("store: move aside %s: %w", path, err)
		}
		if !taken {
			break
		}
		dst = fmt.Sprintf("%s-%d", base, i)
	}
	if f != nil {
		if err := os.Rename(path, dst); err != nil {
			return "", fmt.Errorf("store: move aside %s: %w", path, err)
		}
	}
	// The write-ahead log goes with its file.
	if err := os.Rename(path+WALSuffix, dst+WALSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("store: move aside %s: %w", path+WALSuffix, err)
	}
	syncDir(filepath.Dir(path))
	if f == nil {
		return dst + WALSuffix, nil
	}
	return dst, nil
}

// syncDir makes a rename in dir durable, where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// exists reports whether there is a file named name.
func exists(name string) (bool, error) {
	_, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
