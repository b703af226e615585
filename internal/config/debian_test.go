package config_test

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/internal/config"
)

// debianFile returns the content of a file Debian's mosquitto package
// installs, reading NAME.gz if that is how it is shipped. A missing file
// fails the test: install the mosquitto package (scripts/test does).
func debianFile(t *testing.T, path string) string {
	t.Helper()
	if b, err := os.ReadFile(path); err == nil {
		return string(b)
	}
	f, err := os.Open(path + ".gz")
	if err != nil {
		t.Fatalf("%s (or .gz) is missing: install Debian's mosquitto package: %v", path, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDebianConfig loads the configuration Debian's mosquitto package
// installs, with its conf.d include, paths moved into a temporary directory.
func TestDebianConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := RewritePaths(t, debianFile(t, "/etc/mosquitto/mosquitto.conf"), dir)
	os.WriteFile(filepath.Join(dir, "etc", "conf.d", "README"), []byte(debianFile(t, "/etc/mosquitto/conf.d/README")), 0o644)
	main := filepath.Join(dir, "etc", "mosquitto.conf")
	os.WriteFile(main, []byte(text), 0o644)
	r, err := config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if !r.LocalOnly || !r.Config.AllowAnonymous || !r.Persistence.Enabled || r.PIDFile == "" || r.Log.File == "" {
		t.Errorf("got %+v", r)
	}
	// Users add a listener in conf.d, as the README says.
	os.WriteFile(filepath.Join(dir, "etc", "conf.d", "local.conf"), []byte("listener 1883\nallow_anonymous true\n"), 0o644)
	r, err = config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if r.LocalOnly || len(r.Config.Listeners) != 1 || !r.Config.AllowAnonymous || len(r.Files) != 2 {
		t.Errorf("with conf.d/local.conf: %+v files %v", r.Config, r.Files)
	}
}

// TestDebianExamples loads the example mosquitto.conf (every option
// commented out), and the example password and ACL files through it.
func TestDebianExamples(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ex := "/usr/share/doc/mosquitto/examples/"
	os.WriteFile(filepath.Join(dir, "pwfile"), []byte(debianFile(t, ex+"pwfile.example")), 0o644)
	os.WriteFile(filepath.Join(dir, "aclfile"), []byte(debianFile(t, ex+"aclfile.example")), 0o644)
	text := debianFile(t, ex+"mosquitto.conf") + "\nlistener 1883\npassword_file " + filepath.Join(dir, "pwfile") +
		"\nacl_file " + filepath.Join(dir, "aclfile") + "\n"
	main := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(main, []byte(text), 0o644)
	r, err := config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	pf, acl := r.Scopes[0].Passwords(), r.Scopes[0].Rules()
	if pf == nil || acl == nil || len(pf.Users()) != 3 {
		t.Fatalf("files not loaded: %v %v", pf, acl)
	}
	if !acl.Allowed("roger", true, "c", "foo/bar", 1) || acl.Allowed("roger", true, "c", "other", 1) {
		t.Error("aclfile.example not applied as Mosquitto does")
	}
}
