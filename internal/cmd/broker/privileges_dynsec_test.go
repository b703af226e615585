//go:build unix

package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/dynsec"
)

// dynsecIn appends dynamic security with a file in dir to the setup's
// configuration, the file made (as root, 0644) with an admin.
func (s *privSetup) dynsecIn(t *testing.T, dir string) string {
	t.Helper()
	init := filepath.Join(s.dir, "dynsec-init")
	if err := os.WriteFile(init, []byte("admin-password-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dynamic-security.json")
	if _, err := dynsec.Open(dynsec.Options{ConfigFile: path, PasswordInitFile: init}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s.addConf(t, "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file "+path+"\n")
	return path
}

// A dynamic security file root made, in a directory only root may write,
// loads (the user may read it) but no change could be saved: the broker
// says so at start-up, naming the file.
func TestBrokerWarnsAboutDynsecFile(t *testing.T) {
	s := newPrivSetup(t)
	if err := os.Chown(s.pw, s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
	path := s.dynsecIn(t, s.dir)
	_, stderr := s.start(t)
	want := "Warning: user nobody, which the broker runs as after start-up, cannot write the dynamic security file " + path
	if out := stderr.String(); !strings.Contains(out, want) {
		t.Errorf("no warning %q in the broker's output:\n%s", want, out)
	}
}

// The same file and directory given to the user draw no warning.
func TestBrokerDynsecFileOfTheUser(t *testing.T) {
	s := newPrivSetup(t)
	if err := os.Chown(s.pw, s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.dir, "dynsec")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := s.dynsecIn(t, dir)
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr := s.start(t)
	if out := stderr.String(); strings.Contains(out, "dynamic security file") {
		t.Errorf("a warning about a file the user may write:\n%s", out)
	}
}
