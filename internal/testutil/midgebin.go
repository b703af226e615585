package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// midgeBuild is the midge binary built for this test binary.
var midgeBuild struct {
	once sync.Once
	mu   sync.Mutex // guards dir, bin and err
	dir  string
	bin  string
	err  error
}

// MidgeBinary builds cmd/midge once per test binary and returns its path.
// The directory holding it can be entered by every user, so that a broker
// which drops root privileges can still run (and re-run) the file. A
// package's TestMain may remove it with RemoveMidgeBinary.
func MidgeBinary(t testing.TB) string {
	t.Helper()
	midgeBuild.once.Do(func() {
		dir, bin, err := buildMidge()
		midgeBuild.mu.Lock()
		defer midgeBuild.mu.Unlock()
		midgeBuild.dir, midgeBuild.bin, midgeBuild.err = dir, bin, err
	})
	midgeBuild.mu.Lock()
	defer midgeBuild.mu.Unlock()
	if midgeBuild.err != nil {
		t.Fatal(midgeBuild.err)
	}
	return midgeBuild.bin
}

func buildMidge() (dir, bin string, err error) {
	dir, err = os.MkdirTemp("", "midge-bin-")
	if err != nil {
		return "", "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, "", err
	}
	bin = filepath.Join(dir, "midge")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/midge-mqtt/midge/cmd/midge").CombinedOutput()
	if err != nil {
		return dir, "", fmt.Errorf("go build ./cmd/midge: %v\n%s", err, out)
	}
	return dir, bin, nil
}

// RemoveMidgeBinary removes what MidgeBinary built, if it built anything;
// call it from TestMain once the tests have run.
func RemoveMidgeBinary() {
	midgeBuild.mu.Lock()
	defer midgeBuild.mu.Unlock()
	if midgeBuild.dir != "" {
		os.RemoveAll(midgeBuild.dir)
	}
}

// MidgeLinks returns a directory, removed when the test ends, where the
// binary MidgeBinary builds is linked under each of names (midge acts as
// the tool it is run as, such as "mosquitto_pub" or "mosquitto"). Every
// user can enter the directory, as MidgeBinary's.
func MidgeLinks(t testing.TB, names ...string) string {
	t.Helper()
	bin := MidgeBinary(t)
	dir := WorldDir(t, "midge-links-", 0o755)
	for _, name := range names {
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Main runs a package's tests and then removes what MidgeBinary built:
// a package whose tests build midge calls it from its TestMain.
func Main(m *testing.M) {
	code := m.Run()
	RemoveMidgeBinary()
	os.Exit(code)
}
