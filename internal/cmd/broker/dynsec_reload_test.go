//go:build unix

package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A changed plugin_opt_config_file is not applied by a reload (the plugin
// is loaded at start-up only, as Mosquitto's): the reload says so, naming
// both files, and dynamic security keeps the one it has.
func TestReloadNotesDynsecOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logf := filepath.Join(dir, "midge.log")
	first, second := filepath.Join(dir, "first.json"), filepath.Join(dir, "second.json")
	conf := func(file string) string {
		return "log_dest file " + logf + "\nlistener PORT 127.0.0.1\nallow_anonymous false\n" + dynsecConf(t, dir, file)
	}
	b, port := runConf(t, conf(first))
	b.reload() // unchanged: no note
	if log := readOrEmpty(logf); strings.Contains(log, "plugin_opt_config_file") {
		t.Fatalf("a note for an unchanged configuration:\n%s", log)
	}
	os.WriteFile(b.opts.configFile, []byte(strings.ReplaceAll(conf(second), "PORT", port)), 0o644)
	b.reload()
	want := "Warning: plugin_opt_config_file changed from " + first + " to " + second +
		": restart midge to apply it (plugins are loaded at start-up only, as in Mosquitto); dynamic security keeps using " + first
	waitLog(t, logf, want)
	if _, err := os.Stat(second); err == nil {
		t.Error("the reload created the new file")
	}
}
