package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ChromiumPath is Debian's Chromium, which the browser tests drive.
const ChromiumPath = "/usr/bin/chromium"

// NeedBrowser fails (never skips) a browser test unless Chromium, Node.js,
// playwright-core in the web/e2e directory e2eDir, and each of tools (Debian's
// Mosquitto tools) are installed, naming how to install what is missing.
func NeedBrowser(t testing.TB, e2eDir string, tools ...string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(ChromiumPath); err != nil {
		missing = append(missing, "Chromium ("+ChromiumPath+"): apt-get install -y chromium")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "Node.js: apt-get install -y nodejs npm")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+": apt-get install -y mosquitto mosquitto-clients")
		}
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core: npm ci --prefix web/e2e")
	}
	if len(missing) > 0 {
		t.Fatalf("the browser test needs (scripts/test installs them):\n  %s", strings.Join(missing, "\n  "))
	}
}
