//go:build unix

package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeprecationNoticeOutput checks how --test-config prints Mosquitto
// 2.1's deprecation notices (without "Warning:", as 2.1 logs them at notice
// level) beside real warnings.
func TestDeprecationNoticeOutput(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "m.conf")
	os.WriteFile(conf, []byte("port 1884\nretry_interval 20\n"), 0o644)
	code, _, errOut := runIn(t, "-c", conf, "--test-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		": " + conf + ":1: The 'port' option is now deprecated and will be removed in version 3.0. Please use 'listener' instead.\n",
		": Warning: " + conf + ":2: The 'retry_interval' option is no longer available.\n",
		"Configuration file is OK.",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
}
