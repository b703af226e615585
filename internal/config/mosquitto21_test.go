package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/config"
)

// notices returns the deprecation notices of r, as "LINE: text".
func notices(r *config.Result) []string {
	var out []string
	for _, w := range r.Warnings {
		if w.Notice {
			out = append(out, w.String())
		}
	}
	return out
}

// TestDeprecationNotices checks that each option Mosquitto 2.1 deprecates
// loads as before and carries 2.1's notice, in its words, with the line it
// is on; and that options 2.1 does not deprecate carry none.
func TestDeprecationNotices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []string // notices, in order
	}{
		{"allow_duplicate_messages true", []string{"m.conf:1: The 'allow_duplicate_messages' option is now deprecated and will be removed in version 3.0. The behaviour will default to true."}},
		{"auto_id_prefix gen-", []string{"m.conf:1: The 'auto_id_prefix' option is now deprecated and will be removed in version 3.0. Please use 'listener_auto_id_prefix' instead."}},
		{"bind_address 127.0.0.1", []string{"m.conf:1: The 'bind_address' option is now deprecated and will be removed in version 3.0."}},
		{"port 1884", []string{"m.conf:1: The 'port' option is now deprecated and will be removed in version 3.0. Please use 'listener' instead."}},
		{"per_listener_settings false", []string{"m.conf:1: The 'per_listener_settings' option is now deprecated and will be removed in version 3.0. Please see the documentation for how to achieve the same effect."}},
		{"per_listener_settings true\nlistener 1883\nallow_anonymous true", []string{
			"m.conf:1: The 'per_listener_settings' option is now deprecated and will be removed in version 3.0. Please see the documentation for how to achieve the same effect.",
			"m.conf:3: You are using the 'allow_anonymous' option with 'per_listener_settings true'. Please replace this with 'listener_allow_anonymous'.",
		}},
		{"message_size_limit 1000", []string{"m.conf:1: Note: It is recommended to replace `message_size_limit` with `max_packet_size`."}},
		// Not deprecated: no notice.
		{"allow_anonymous true", nil},
		{"listener 1883\nlistener_allow_anonymous true\nlistener_auto_id_prefix gen-", nil},
		{"password_file /dev/null", nil}, // deprecated in 2.1's ChangeLog, but 2.1 prints nothing for it
		{"listener 1883\nmax_packet_size 100", nil},
	}
	for _, tt := range tests {
		r := mustParse(t, tt.text)
		got := notices(r)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%q: notices\n%s\nwant\n%s", tt.text, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
	// The deprecated options still do what they did.
	if r := mustParse(t, "port 1884"); len(r.Listeners) != 1 || r.Listeners[0].Port != 1884 {
		t.Errorf("port 1884: listeners %+v", r.Listeners)
	}
	if r := mustParse(t, "allow_duplicate_messages true"); !r.Config.AllowDuplicateMessages {
		t.Error("allow_duplicate_messages true not applied")
	}
	// clientid_prefixes: the notice, and midge's refusal.
	_, err := parse(t, "clientid_prefixes sensor-")
	if err == nil || !strings.Contains(err.Error(), "m.conf:1: option clientid_prefixes is not supported by midge") {
		t.Errorf("clientid_prefixes: %v", err)
	}
}

// TestRetryIntervalWarning: 2.1's warning, in its words, and nothing else.
func TestRetryIntervalWarning(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "retry_interval 20")
	if len(r.Warnings) != 1 || r.Warnings[0].Notice || r.Warnings[0].String() != "m.conf:1: The 'retry_interval' option is no longer available." {
		t.Errorf("warnings %+v", r.Warnings)
	}
}

// TestGlobalMaxClients: global_max_clients (2.1) is broker.Config.MaxSessions;
// -1 (2.1's default) and 0 mean no limit, as in Mosquitto.
func TestGlobalMaxClients(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]int{"global_max_clients 5": 5, "global_max_clients -1": 0, "global_max_clients 0": 0, "": 0} {
		if got := mustParse(t, text).Config.MaxSessions; got != want {
			t.Errorf("%q: MaxSessions %d, want %d", text, got, want)
		}
	}
	if _, err := parse(t, "global_max_clients many"); err == nil || !strings.Contains(err.Error(), "m.conf:1:") {
		t.Errorf("global_max_clients many: %v", err)
	}
}

// TestRetainExpiryIntervalOption: minutes, at least 1, capped at 10,000,000
// minutes with Mosquitto's warning.
func TestRetainExpiryIntervalOption(t *testing.T) {
	t.Parallel()
	if r := mustParse(t, "retain_expiry_interval 5"); r.Config.RetainExpiryInterval != 5*time.Minute || len(r.Warnings) != 0 {
		t.Errorf("5: %v %v", r.Config.RetainExpiryInterval, r.Warnings)
	}
	r := mustParse(t, "retain_expiry_interval 20000000")
	if r.Config.RetainExpiryInterval != 10000000*time.Minute || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Msg, "capped at 19 years") {
		t.Errorf("20000000: %v %v", r.Config.RetainExpiryInterval, r.Warnings)
	}
	for _, bad := range []string{"retain_expiry_interval 0", "retain_expiry_interval -3", "retain_expiry_interval soon"} {
		if _, err := parse(t, bad); err == nil || !strings.Contains(err.Error(), "m.conf:1:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if r := mustParse(t, ""); r.Config.RetainExpiryInterval != 0 {
		t.Errorf("default %v, want 0 (no scan)", r.Config.RetainExpiryInterval)
	}
}

// TestPacketBufferSize: 2.1 made packet_buffer_size and
// websockets_headers_size one global option; midge applies it to every
// WebSocket listener's request headers, the last line winning.
func TestPacketBufferSize(t *testing.T) {
	t.Parallel()
	ws := func(r *config.Result) []int {
		var out []int
		for _, l := range r.Config.Listeners {
			if l.WebSocket {
				out = append(out, l.WebSocketHeadersSize)
			}
		}
		return out
	}
	r := mustParse(t, "packet_buffer_size 8192\nlistener 9001\nprotocol websockets\nlistener 9002\nprotocol websockets\n")
	if got := ws(r); len(got) != 2 || got[0] != 8192 || got[1] != 8192 {
		t.Errorf("headers sizes %v, warnings %v", got, r.Warnings)
	}
	r = mustParse(t, "websockets_headers_size 2048\npacket_buffer_size 3000\nlistener 9001\nprotocol websockets\n")
	if got := ws(r); len(got) != 1 || got[0] != 3000 {
		t.Errorf("the later line: %v", got)
	}
	for _, bad := range []string{"packet_buffer_size -1", "packet_buffer_size 70000", "packet_buffer_size big"} {
		if _, err := parse(t, bad); err == nil || !strings.Contains(err.Error(), "m.conf:1:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestServedPlugins: Result.Plugins names the plugins midge serves itself,
// once each, for listPlugins.
func TestServedPlugins(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "plugin_load a /usr/lib/mosquitto_acl_file.so\nplugin_opt_acl_file /dev/null\n"+
		"global_plugin /x/mosquitto_password_file.so\nplugin_opt_password_file /dev/null\n"+
		"listener 1883\nplugin_use a\n")
	if got := strings.Join(r.Plugins, ","); got != "acl-file,password-file" {
		t.Errorf("plugins %q", got)
	}
	if r := mustParse(t, "password_file /dev/null"); len(r.Plugins) != 0 {
		t.Errorf("password_file is not a plugin: %v", r.Plugins)
	}
}

// TestOptions21Errors: each option new in 2.1 reports a bad value, or a
// listener option with no listener to apply to, with its file and line.
func TestOptions21Errors(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"listener 1883\nlistener_allow_anonymous maybe",
		"listener 1883\nlistener_auto_id_prefix " + strings.Repeat("x", 51),
		"listener 1883\naccept_protocol_versions 6",
		"listener 1883\naccept_protocol_versions",
		"listener 1883\nglobal_max_clients lots",
		"listener 1883\nglobal_max_connections lots",
		"listener 1883\nmax_topic_alias_broker 65536",
		"listener 1883\nmax_topic_alias_broker -1",
		"listener 1883\npacket_buffer_size -5",
		"listener 1883\ndisable_client_cert_date_checks sometimes",
		"listener 1883\nretain_expiry_interval 0",
		"listener 1883\nenable_control_api yes",
		"listener 1883\nplugin_use nothing-loaded",
		"listener 1883\npersistent_client_expiration 0s",
		"listener 1883\npersistent_client_expiration 10x",
	} {
		if _, err := parse(t, text); err == nil || !strings.Contains(err.Error(), "m.conf:2:") {
			t.Errorf("%q: %v, want an error at m.conf:2", text, err)
		}
	}
}
