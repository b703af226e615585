package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/config"
)

// The dynamic security plugin, by its file name in any directory, is
// midge's built-in one, whichever way it is loaded; its options are
// matched without regard to case.
func TestDynsecPlugin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		scopes     map[string][2]string // scope name -> config file, init file
	}{
		{"plugin", "listener 1883\nplugin /opt/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file /d/ds.json\nplugin_opt_PASSWORD_INIT_FILE /d/init\n",
			map[string][2]string{"": {"/d/ds.json", "/d/init"}}},
		{"global_plugin", "per_listener_settings true\nglobal_plugin mosquitto_dynamic_security.so\nplugin_opt_Config_File /d/ds.json\nlistener 1883\nlistener 1884\n",
			nil},
		{"plugin_load", "plugin_load dynsec /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file /d/ds.json\nlistener 1883\nplugin_use dynsec\nlistener 1884\n",
			map[string][2]string{":1883": {"/d/ds.json", ""}, "": {"", ""}}},
	} {
		res := loadFile(t, filepath.Join(dir, tc.name+".conf"), tc.text)
		for _, sc := range res.Scopes {
			want, ok := tc.scopes[sc.Name]
			if tc.scopes == nil {
				want, ok = [2]string{"/d/ds.json", ""}, true
			}
			if !ok {
				continue
			}
			if sc.DynsecFile != want[0] || sc.DynsecPasswordInitFile != want[1] {
				t.Errorf("%s: scope %q: dynsec %q, init %q; want %q", tc.name, sc.Name, sc.DynsecFile, sc.DynsecPasswordInitFile, want)
			}
			if sc.Dynsec == nil || len(sc.Security.Authorizers) != 2 || sc.Security.Authorizers[0] != sc.Dynsec ||
				sc.Security.Authenticators[0] != sc.Dynsec {
				t.Errorf("%s: scope %q: dynamic security is not first in the chains", tc.name, sc.Name)
			}
		}
	}
}

func TestDynsecPluginProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := loadFile(t, filepath.Join(dir, "w.conf"), "listener 1883\nplugin /x/mosquitto_dynamic_security.so\n")
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w.String(), "Dynamic security plugin has no plugin_opt_config_file defined. The plugin will not be activated.")
	}
	if !found {
		t.Errorf("no warning of a plugin without config_file: %v", res.Warnings)
	}
	for text, want := range map[string]string{
		"listener 1883\nplugin /x/mosquitto_dynamic_security.so\nplugin_opt_config_file /a\nlistener 1884\nplugin /x/mosquitto_dynamic_security.so\nplugin_opt_config_file /b\n": "can currently only be loaded once",
		"listener 1883\nplugin /usr/lib/mosquitto_auth.so\n": "midge cannot load C plugins",
	} {
		_, err := config.Parse(strings.NewReader(text), "m.conf")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}
