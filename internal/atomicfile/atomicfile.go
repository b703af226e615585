package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file at path with data, readable and writable by its
// owner only (0600): it writes a temporary file in the same directory,
// named after pattern as os.CreateTemp names it, syncs it, renames it over
// path and syncs the directory. The temporary file is removed if any step
// fails.
func Write(path string, data []byte, pattern string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	if err := replace(tmp, path, data, 0o600, -1, -1); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Replace is Write for a file that keeps what it is: an existing file
// keeps its mode and, where the process may give it away, its owner and
// group (a new one is 0600). Where the directory may not be written but
// the file exists (and may be written), the file is rewritten in place
// instead, truncated, written and synced, as mosquitto_passwd always does:
// that is not atomic. The directory is synced if it can be opened.
func Replace(path string, data []byte, pattern string) error {
	perm := fs.FileMode(0o600)
	uid, gid := -1, -1
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
		uid, gid = fileOwner(fi)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, pattern)
	if errors.Is(err, fs.ErrPermission) && uid >= 0 {
		return writeInPlace(path, data)
	}
	if err != nil {
		return err
	}
	if err := replace(tmp, path, data, perm, uid, gid); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// replace gives the new temporary file tmp the owner uid, gid (unless they
// are -1; best effort: only root may give a file away) and the mode perm,
// writes data to it, syncs and closes it and renames it over path. It
// removes tmp if any step fails.
func replace(tmp *os.File, path string, data []byte, perm fs.FileMode, uid, gid int) (err error) {
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if uid >= 0 {
		_ = tmp.Chown(uid, gid)
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeInPlace truncates the file at path and writes data to it.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
