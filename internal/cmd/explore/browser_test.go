package explore

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestOpenBrowser puts a fake xdg-open on PATH: it is given a page, readable
// by the user only, that redirects to the URL, so that the token is not on
// a command line. Without a display nothing is started.
func TestOpenBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("xdg-open is the Linux opener")
	}
	bin, state := t.TempDir(), t.TempDir()
	got := filepath.Join(bin, "args")
	script := "#!/bin/sh\necho \"$@\" > " + got + ".tmp && mv " + got + ".tmp " + got + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("DISPLAY", "")
	url := "http://127.0.0.1:1234/?token=secret"
	if err := openBrowser(url, state); err == nil {
		t.Error("opened a browser without a display")
	}
	t.Setenv("DISPLAY", ":0")
	if err := openBrowser(url, state); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "xdg-open to run", func() bool { _, err := os.Stat(got); return err == nil })
	args, _ := os.ReadFile(got)
	page := strings.TrimSpace(string(args))
	if strings.Contains(page, "secret") || filepath.Dir(page) != state {
		t.Fatalf("xdg-open got %q", page)
	}
	fi, err := os.Stat(page)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the page: %v %v", fi, err)
	}
	body, _ := os.ReadFile(page)
	if !strings.Contains(string(body), "url=http://127.0.0.1:1234/?token=secret") {
		t.Errorf("the page: %s", body)
	}
}
