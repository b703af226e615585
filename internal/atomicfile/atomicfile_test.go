package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/internal/atomicfile"
)

// Write creates the file, replaces it, leaves it 0600 and no temporary
// file behind.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	for _, content := range []string{"first\n", "second, longer\n", ""} {
		if err := atomicfile.Write(path, []byte(content), "f.json.tmp*"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only f.json", len(entries))
	}
}

// A failed rename (the target is a non-empty directory) reports the error
// and leaves no temporary file.
func TestWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(path, []byte("x"), "d.tmp*"); err == nil {
		t.Fatal("no error writing over a directory")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "d.tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
