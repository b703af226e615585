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
// and leaves no temporary file, with Write or Replace.
func TestWriteFails(t *testing.T) {
	for name, write := range map[string]func(string, []byte, string) error{
		"Write": atomicfile.Write, "Replace": atomicfile.Replace,
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "d")
		if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := write(path, []byte("x"), "d.tmp*"); err == nil {
			t.Fatalf("%s: no error writing over a directory", name)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "d.tmp*")); len(left) != 0 {
			t.Errorf("%s: temporary files left: %v", name, left)
		}
	}
}

// Replace makes a new file 0600 and keeps the mode of an existing one.
func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pw")
	for _, step := range []struct {
		content string
		chmod   os.FileMode // applied after the step, 0 for none
		want    os.FileMode
	}{{"new\n", 0o640, 0o600}, {"kept mode\n", 0, 0o640}} {
		if err := atomicfile.Replace(path, []byte(step.content), ".pw.tmp*"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != step.content {
			t.Fatalf("read %q, %v; want %q", b, err, step.content)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != step.want {
			t.Errorf("after writing %q: mode %v, want %v", step.content, fi.Mode().Perm(), step.want)
		}
		if step.chmod != 0 {
			if err := os.Chmod(path, step.chmod); err != nil {
				t.Fatal(err)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only pw", len(entries))
	}
}
