package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// passwordFile writes a password file with one user (a cheap hash) and
// returns its path.
func passwordFile(t *testing.T, user, password string) string {
	t.Helper()
	h, err := auth.HashPassword(password, auth.SHA512PBKDF2, 10)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte(user+":"+h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHTTPAPIListener(t *testing.T) {
	t.Parallel()
	pw := passwordFile(t, "alice", "secret")
	r := mustParse(t, "password_file "+pw+"\nhttp_api_admin alice bob\nhttp_api_admin carol # comment\nhttp_api_history 7\n"+
		"listener 1883\nlistener 8080\nprotocol http_api\nhttp_dir /var/www\n")
	if len(r.Config.Listeners) != 1 || len(r.Listeners) != 1 || r.Listeners[0].Port != 1883 {
		t.Errorf("MQTT listeners %+v", r.Listeners)
	}
	if len(r.HTTPListeners) != 1 {
		t.Fatalf("HTTP listeners %+v", r.HTTPListeners)
	}
	h := r.HTTPListeners[0]
	if h.Port != 8080 || h.Protocol != "http_api" || h.HTTPDir != "/var/www" || h.Scope == nil || h.Scope.PasswordFile != pw || h.TLSServer != nil {
		t.Errorf("HTTP listener %+v", h)
	}
	if h.Scope.Passwords() == nil || !h.Scope.Passwords().Check("alice", "secret") {
		t.Error("the http_api listener's scope does not check the password file")
	}
	if !slices.Equal(r.HTTPAPI.Admins, []string{"alice", "bob", "carol"}) || r.HTTPAPI.History != 7 {
		t.Errorf("HTTPAPI %+v", r.HTTPAPI)
	}
	if r.LocalOnly {
		t.Error("LocalOnly with an MQTT listener")
	}
}

func TestHTTPAPIDefaults(t *testing.T) {
	t.Parallel()
	// An http_api listener alone: MQTT stays in local only mode, and the
	// loopback listener may run without users.
	r := mustParse(t, "listener 8080 127.0.0.1\nprotocol http_api\n")
	if !r.LocalOnly || len(r.Config.Listeners) != 0 || len(r.HTTPListeners) != 1 || r.HTTPAPI.History != 50 {
		t.Errorf("LocalOnly %v, listeners %+v, HTTP %+v, %+v", r.LocalOnly, r.Config.Listeners, r.HTTPListeners, r.HTTPAPI)
	}
	for _, text := range []string{"listener 8080 localhost\nprotocol http_api\n", "listener 8080 ::1\nprotocol http_api\n",
		"listener 0 /run/midge.sock\nprotocol http_api\n"} {
		if _, err := parse(t, text); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}

func TestHTTPAPIRefusesOpenNetworkListener(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"listener 8080\nprotocol http_api\n", "listener 8080 192.0.2.1\nprotocol http_api\n",
		"listener 8080 example.com\nprotocol http_api\n"} {
		_, err := parse(t, text)
		if err == nil || !strings.Contains(err.Error(), "m.conf:1: listener") || !strings.Contains(err.Error(), "has no password_file") ||
			!strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%q: %v", text, err)
		}
	}
	// per_listener_settings: the listener's own password file counts.
	pw := passwordFile(t, "alice", "secret")
	r := mustParse(t, "per_listener_settings true\nlistener 1883\npassword_file "+pw+"\nlistener 8080\nprotocol http_api\npassword_file "+pw+"\n")
	if len(r.HTTPListeners) != 1 || r.HTTPListeners[0].Scope.Name != ":8080" || len(r.Scopes) != 3 {
		t.Errorf("scopes %+v", r.Scopes)
	}
	if _, err := parse(t, "per_listener_settings true\nlistener 1883\npassword_file "+pw+"\nlistener 8080\nprotocol http_api\n"); err == nil {
		t.Error("an http_api listener without its own password file was accepted with per_listener_settings true")
	}
	// Dynamic security's clients log in too: no password file is needed.
	if _, err := parse(t, "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file /var/lib/midge/dynsec.json\n"+
		"listener 1883\nlistener 8080\nprotocol http_api\n"); err != nil {
		t.Errorf("an http_api listener with dynamic security: %v", err)
	}
}

func TestHTTPAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, want string }{
		{"protocol http_api", "m.conf:1: protocol http_api must follow a listener line"},
		{"listener 8080 127.0.0.1\nprotocol gopher", `m.conf:2: invalid protocol value "gopher": want mqtt, websockets or http_api`},
		{"http_api_history 0", "m.conf:1: invalid http_api_history value 0: must be 1 to 10000"},
		{"http_api_admin # nobody", "m.conf:1: empty http_api_admin value"},
		{"listener 8080 127.0.0.1\nprotocol http_api\nwebsockets_origin https://x", "m.conf:1: websockets_origin needs protocol websockets"},
	}
	for _, tt := range tests {
		if _, err := parse(t, tt.text); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant %s", tt.text, err, tt.want)
		}
	}
	r := mustParse(t, "listener 8080 127.0.0.1\nprotocol http_api\nmount_point x/\n")
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Msg, "no effect on an http_api listener") {
		t.Errorf("warnings %v", r.Warnings)
	}
}

func TestHTTPAPITLSAndReload(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "ca")
	c := pki.Server("broker")
	pw := passwordFile(t, "alice", "secret")
	text := "password_file " + pw + "\nhttp_api_admin alice\nlistener 8443\nprotocol http_api\ncertfile " + c.CertFile + "\nkeyfile " + c.KeyFile + "\n"
	cur := mustParse(t, text)
	if len(cur.HTTPListeners) != 1 || cur.HTTPListeners[0].TLSServer == nil {
		t.Fatalf("HTTP listeners %+v", cur.HTTPListeners)
	}
	if errs := config.ReloadTLS(cur); len(errs) != 0 {
		t.Errorf("ReloadTLS: %v", errs)
	}
	next := mustParse(t, strings.Replace(text, "http_api_admin alice", "http_api_admin bob", 1))
	if notes := config.Reload(cur, next); len(notes) != 0 {
		t.Errorf("notes %v", notes)
	}
	if !slices.Equal(cur.HTTPAPI.Admins, []string{"bob"}) {
		t.Errorf("admins after reload %v", cur.HTTPAPI.Admins)
	}
	next = mustParse(t, strings.Replace(text, "8443", "8444", 1)+"http_api_history 9\n")
	notes := strings.Join(config.Reload(cur, next), "\n")
	if !strings.Contains(notes, "http_api listeners changed") || !strings.Contains(notes, "http_api_history changed") {
		t.Errorf("notes %q", notes)
	}
}
