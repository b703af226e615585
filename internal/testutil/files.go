package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// ReadFile returns the contents of the file at path, failing the test if
// it cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// WorldDir makes a directory, named after prefix, that a broker can still
// use after it drops root's privileges to the mosquitto user: it lies
// outside the test's own temporary directory (which only root may enter)
// and has the permissions perm (0o755 to read files the test writes, 0o777
// to write files of its own too). It is removed when the test ends.
func WorldDir(t testing.TB, prefix string, perm os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}

// WriteFile writes text to the file name in dir (permissions 0o644),
// failing the test if it cannot, and returns the file's path.
func WriteFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
