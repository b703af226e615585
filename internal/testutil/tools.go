package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NeedTool returns the path of the program name, looked up in PATH and
// then in /usr/sbin and /usr/bin (where Debian puts mosquitto, outside a
// user's PATH), and fails the test if it is missing, naming the Debian
// package pkg that installs it. It never skips: the tests that need a
// Debian tool are the proof that midge works with it.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, statErr := os.Stat(p); statErr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s is not installed (%v): apt-get install %s", name, err, pkg)
	return ""
}
