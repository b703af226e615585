package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
)

func parse(t *testing.T, text string) (*config.Result, error) {
	t.Helper()
	return config.Parse(strings.NewReader(text), "m.conf")
}

func mustParse(t *testing.T, text string) *config.Result {
	t.Helper()
	r, err := parse(t, text)
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", text, err)
	}
	return r
}

func TestOptionsMapOntoConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		check      func(*config.Result) bool
	}{
		{"allow_duplicate_messages", "allow_duplicate_messages true", func(r *config.Result) bool { return r.Config.AllowDuplicateMessages }},
		{"allow_zero_length_clientid", "allow_zero_length_clientid false", func(r *config.Result) bool { return r.Config.DenyZeroLengthClientID }},
		{"auto_id_prefix", "auto_id_prefix gen-", func(r *config.Result) bool { return r.Config.AutoIDPrefix == "gen-" }},
		{"autosave_interval", "autosave_interval 60", func(r *config.Result) bool { return r.Persistence.AutosaveInterval == time.Minute }},
		{"autosave_interval negative", "autosave_interval -5", func(r *config.Result) bool { return r.Persistence.AutosaveInterval == 0 }},
		{"autosave_on_changes", "autosave_on_changes true", func(r *config.Result) bool { return r.Persistence.AutosaveOnChanges }},
		{"check_retain_source", "check_retain_source false", func(r *config.Result) bool { return !r.CheckRetainSource && r.Config.SkipRetainSourceCheck }},
		{"persistence defaults", "persistence true", func(r *config.Result) bool {
			p := r.Persistence
			return p.Enabled && p.File == "midge.db" && !p.Periodic && p.SyncInterval == time.Second
		}},
		{"persistence_sync", "persistence_sync periodic\npersistence_sync_interval 5", func(r *config.Result) bool {
			return r.Persistence.Periodic && r.Persistence.SyncInterval == 5*time.Second
		}},
		{"bind_interface", "listener 1883\nbind_interface eth0", func(r *config.Result) bool { return r.Config.Listeners[0].Interface == "eth0" }},
		{"per-listener options", "listener 1883\nmax_qos 1\nmax_topic_alias 0\naccept_protocol_versions 4, 5\nlistener 1884\nmax_topic_alias 3", func(r *config.Result) bool {
			a, b := r.Config.Listeners[0], r.Config.Listeners[1]
			return a.MaxQoS == 1 && a.MaxTopicAlias == broker.Unlimited && slices.Equal(a.ProtocolVersions, []byte{4, 5}) &&
				b.MaxQoS == 0 && b.MaxTopicAlias == 3 && b.ProtocolVersions == nil && r.Config.MaxQoS == 0
		}},
		{"max_qos 0", "listener 1883\nmax_qos 0", func(r *config.Result) bool { return r.Config.Listeners[0].MaxQoS == broker.QoS0Only }},
		{"per-listener client ids", "per_listener_settings true\nlistener 1883\nauto_id_prefix a-\nallow_zero_length_clientid false\nlistener 1884", func(r *config.Result) bool {
			a, b := r.Config.Listeners[0], r.Config.Listeners[1]
			return a.AutoIDPrefix == "a-" && !*a.AllowZeroLengthClientID && b.AutoIDPrefix == "auto-" && *b.AllowZeroLengthClientID
		}},
		{"listener_auto_id_prefix", "auto_id_prefix g-\nlistener 1883\nlistener_auto_id_prefix l-\nlistener 1884", func(r *config.Result) bool {
			return r.Config.AutoIDPrefix == "g-" && r.Config.Listeners[0].AutoIDPrefix == "l-" && r.Config.Listeners[1].AutoIDPrefix == ""
		}},
		{"max_topic_alias_broker", "listener 1883\nmax_topic_alias_broker 7", func(r *config.Result) bool { return r.Config.Listeners[0].MaxTopicAliasOut == 7 }},
		{"max_topic_alias_broker 0", "listener 1883\nmax_topic_alias_broker 0", func(r *config.Result) bool { return r.Config.Listeners[0].MaxTopicAliasOut == broker.Unlimited }},
		{"connection_messages", "connection_messages false", func(r *config.Result) bool { return r.Config.QuietConnections }},
		{"global_max_connections", "global_max_connections 50", func(r *config.Result) bool { return r.Config.MaxConnections == 50 }},
		{"max_inflight_bytes", "max_inflight_bytes 1000", func(r *config.Result) bool { return r.Config.MaxInflightBytes == 1000 }},
		{"max_inflight_messages", "max_inflight_messages 5", func(r *config.Result) bool { return r.Config.MaxInflightMessages == 5 }},
		{"max_inflight_messages 0", "max_inflight_messages 0", func(r *config.Result) bool { return r.Config.MaxInflightMessages == broker.Unlimited }},
		{"max_keepalive", "max_keepalive 120", func(r *config.Result) bool { return r.Config.MaxKeepalive == 120 }},
		{"max_packet_size", "max_packet_size 2000", func(r *config.Result) bool { return r.Config.MaxPacketSize == 2000 }},
		{"max_queued_bytes", "max_queued_bytes 4096", func(r *config.Result) bool { return r.Config.MaxQueuedBytes == 4096 }},
		{"max_queued_messages", "max_queued_messages 7", func(r *config.Result) bool { return r.Config.MaxQueuedMessages == 7 }},
		{"max_queued_messages 0", "max_queued_messages 0", func(r *config.Result) bool { return r.Config.MaxQueuedMessages == broker.Unlimited }},
		{"message_size_limit", "message_size_limit 100", func(r *config.Result) bool { return r.Config.MessageSizeLimit == 100 }},
		{"persistence", "persistence true\npersistence_location /var/lib/x/\npersistence_file m.db", func(r *config.Result) bool {
			return r.Persistence.Enabled && r.Persistence.Path() == "/var/lib/x/m.db"
		}},
		{"persistent_client_expiration 2h", "persistent_client_expiration 2h", func(r *config.Result) bool { return r.Config.PersistentClientExpiration == 2*time.Hour }},
		{"persistent_client_expiration 14d", "persistent_client_expiration 14d", func(r *config.Result) bool { return r.Config.PersistentClientExpiration == 14*24*time.Hour }},
		{"persistent_client_expiration 1w", "persistent_client_expiration 1w", func(r *config.Result) bool { return r.Config.PersistentClientExpiration == 7*24*time.Hour }},
		{"persistent_client_expiration 2m", "persistent_client_expiration 2m", func(r *config.Result) bool { return r.Config.PersistentClientExpiration == 60*24*time.Hour }},
		{"persistent_client_expiration 1y", "persistent_client_expiration 1y", func(r *config.Result) bool { return r.Config.PersistentClientExpiration == 365*24*time.Hour }},
		{"persistent_client_expiration 30s", "persistent_client_expiration 30s", func(r *config.Result) bool { return r.Config.PersistentClientExpiration == 30*time.Second }},
		{"pid_file", "pid_file /run/m.pid", func(r *config.Result) bool { return r.PIDFile == "/run/m.pid" }},
		{"queue_qos0_messages", "queue_qos0_messages true", func(r *config.Result) bool { return r.Config.QueueQoS0Messages }},
		{"retain_available", "retain_available false", func(r *config.Result) bool { return r.Config.RetainUnavailable }},
		{"sys_interval", "sys_interval 30", func(r *config.Result) bool { return r.Config.SysInterval == 30*time.Second }},
		{"sys_interval 0", "sys_interval 0", func(r *config.Result) bool { return r.Config.SysInterval < 0 }},
		{"upgrade_outgoing_qos", "upgrade_outgoing_qos 1", func(r *config.Result) bool { return r.Config.UpgradeOutgoingQoS }},
		{"user", "user nobody", func(r *config.Result) bool { return r.User == "nobody" }},
		{"acl_check_subscribe", "acl_check_subscribe true", func(r *config.Result) bool { return r.Scopes[0].CheckSubscribe }},
		{"log_dest", "log_dest stdout\nlog_dest syslog\nlog_dest topic", func(r *config.Result) bool {
			return r.Log.Dests == logging.Stdout|logging.Syslog|logging.Topic
		}},
		{"log_dest none", "log_dest stdout\nlog_dest none", func(r *config.Result) bool { return r.Log.Dests == 0 }},
		{"log_dest file", "log_dest file /var/log/my log.txt", func(r *config.Result) bool {
			return r.Log.Dests == logging.File && r.Log.File == "/var/log/my log.txt"
		}},
		{"log_type", "log_type error\nlog_type subscribe", func(r *config.Result) bool { return r.Log.Types == logging.Error|logging.Subscribe && r.LogTypesSet }},
		{"log_type all", "log_type all", func(r *config.Result) bool { return r.Log.Types == logging.All }},
		{"log_type default", "", func(r *config.Result) bool {
			return r.Log.Types == logging.DefaultTypes && r.Log.Dests == logging.Stderr
		}},
		{"log_timestamp", "log_timestamp false", func(r *config.Result) bool { return r.Log.NoTimestamp }},
		{"log_timestamp_format", "log_timestamp_format %Y-%m-%dT%H:%M:%S", func(r *config.Result) bool { return r.Log.TimestampFormat == "%Y-%m-%dT%H:%M:%S" }},
		{"log_facility", "log_facility 5", func(r *config.Result) bool { return r.Log.SyslogFacility == "local5" }},
		{"booleans 1/0", "allow_anonymous 0\nqueue_qos0_messages 1", func(r *config.Result) bool { return !r.Config.AllowAnonymous && r.Config.QueueQoS0Messages }},
		{"trailing comment", "queue_qos0_messages true # as the man page shows", func(r *config.Result) bool { return r.Config.QueueQoS0Messages }},
		{"CRLF", "queue_qos0_messages true\r\nmax_queued_messages 9\r\n", func(r *config.Result) bool {
			return r.Config.QueueQoS0Messages && r.Config.MaxQueuedMessages == 9
		}},
		{"tabs and blanks", "\tqueue_qos0_messages\ttrue\t\n   # indented comment", func(r *config.Result) bool { return r.Config.QueueQoS0Messages }},
		{"byte order mark", "\uFEFFqueue_qos0_messages true", func(r *config.Result) bool { return r.Config.QueueQoS0Messages }},
		{"local only", "", func(r *config.Result) bool {
			return r.LocalOnly && r.Config.AllowAnonymous && len(r.Config.Listeners) == 0
		}},
		{"local only, anonymous refused", "allow_anonymous false", func(r *config.Result) bool { return r.LocalOnly && !r.Config.AllowAnonymous }},
		{"listener: anonymous refused by default", "listener 1883", func(r *config.Result) bool { return !r.LocalOnly && !r.Config.AllowAnonymous }},
		{"set_tcp_nodelay", "set_tcp_nodelay true", func(r *config.Result) bool { return len(r.Warnings) == 0 }},
		{"set_tcp_nodelay false warns", "set_tcp_nodelay false", func(r *config.Result) bool { return len(r.Warnings) == 1 }},
		{"retry_interval warns", "retry_interval 20", func(r *config.Result) bool { return len(r.Warnings) == 1 }},
		{"memory_limit 0", "memory_limit 0", func(r *config.Result) bool { return true }},
		{"global_max_clients -1", "global_max_clients -1", func(r *config.Result) bool { return true }},
		{"enable_control_api false", "enable_control_api false", func(r *config.Result) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.text)
			if !tt.check(r) {
				t.Errorf("%q: unexpected result %+v (warnings %v)", tt.text, r.Config, r.Warnings)
			}
		})
	}
}

func TestListeners(t *testing.T) {
	t.Parallel()
	r := mustParse(t, `
listener 1883
max_connections 10
mount_point site1/
use_username_as_clientid true
listener 8883 127.0.0.1
socket_domain ipv4
listener 1884 ::1
listener 0 /run/midge.sock
listener 1885 localhost
socket_domain ipv6
`)
	want := []broker.Listener{
		{Network: "tcp", Address: ":1883", MaxConnections: 10, MountPoint: "site1/", UseUsernameAsClientID: true},
		{Network: "tcp4", Address: "127.0.0.1:8883"},
		{Network: "tcp6", Address: "[::1]:1884"},
		{Network: "unix", Address: "/run/midge.sock"},
		{Network: "tcp6", Address: "localhost:1885"},
	}
	if !reflect.DeepEqual(r.Config.Listeners, want) {
		t.Errorf("listeners\n got %+v\nwant %+v", r.Config.Listeners, want)
	}
	if r.Listeners[0].Pos.Line != 2 || r.Listeners[3].Socket != "/run/midge.sock" {
		t.Errorf("listener settings %+v", r.Listeners)
	}
}

func TestDefaultListener(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "port 1884\nbind_address 127.0.0.1\nmax_connections 3\n")
	want := []broker.Listener{{Network: "tcp4", Address: "127.0.0.1:1884", MaxConnections: 3}}
	if !reflect.DeepEqual(r.Config.Listeners, want) || r.LocalOnly {
		t.Errorf("got %+v local %v", r.Config.Listeners, r.LocalOnly)
	}
	// A listener option before any listener creates the default listener
	// on 1883, as Mosquitto does, besides the explicit one.
	r = mustParse(t, "max_connections 10\nlistener 1884\n")
	want = []broker.Listener{{Network: "tcp", Address: ":1883", MaxConnections: 10}, {Network: "tcp", Address: ":1884"}}
	if !reflect.DeepEqual(r.Config.Listeners, want) || len(r.Warnings) == 0 {
		t.Errorf("got %+v warnings %v", r.Config.Listeners, r.Warnings)
	}
}

func TestPerListenerSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("roger:$6$clQ4Ocu312S0qWgl$Cv2wUxgEN73c6C6jlBkswqR4AkHsvDLWvtEXZZ8NpsBLgP1WAo/qA+WXcmEN/mjDNgdUwcxRAveqNMs2xUVQYA==\n"), 0o600)
	r := mustParse(t, `per_listener_settings true
listener 1883
allow_anonymous true
listener 1884
password_file `+pw+`
`)
	if len(r.Config.Listeners) != 2 || len(r.Scopes) != 3 {
		t.Fatalf("listeners %d scopes %d", len(r.Config.Listeners), len(r.Scopes))
	}
	a, b := r.Config.Listeners[0].Security, r.Config.Listeners[1].Security
	if a == nil || b == nil || !a.AllowAnonymous || b.AllowAnonymous {
		t.Fatalf("securities %+v %+v", a, b)
	}
	if r.Scopes[1].Passwords() != nil || r.Scopes[2].Passwords() == nil {
		t.Errorf("password file on the wrong listener")
	}

	// Without per_listener_settings, security options are global wherever
	// they are written.
	r = mustParse(t, "listener 1883\nlistener 1884\nallow_anonymous true\n")
	if !r.Config.AllowAnonymous || r.Config.Listeners[0].Security != nil {
		t.Errorf("allow_anonymous not global: %+v", r.Config)
	}
	// listener_allow_anonymous (2.1) overrides it for one listener.
	r = mustParse(t, "listener 1883\nlistener_allow_anonymous true\nlistener 1884\n")
	if s := r.Config.Listeners[0].Security; s == nil || !s.AllowAnonymous || r.Config.AllowAnonymous {
		t.Errorf("listener_allow_anonymous: %+v", s)
	}
}

func TestListenerScopeIsPerFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	os.Mkdir(inc, 0o755)
	// mount_point at the top of an included file has no listener of its
	// own file to apply to: Mosquitto refuses it, and so does midge.
	os.WriteFile(filepath.Join(inc, "a.conf"), []byte("max_qos 1\n"), 0o644)
	main := filepath.Join(dir, "m.conf")
	os.WriteFile(main, []byte("listener 1884\nmax_qos 1\ninclude_dir "+inc+"\n"), 0o644)
	r, err := config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	// max_qos in a.conf went to the default listener on 1883.
	if len(r.Config.Listeners) != 2 || r.Config.Listeners[1].Address != ":1883" || r.Config.Listeners[1].MaxQoS != 1 {
		t.Errorf("got %+v", r.Config.Listeners)
	}
	if !slices.Equal(r.Files, []string{main, filepath.Join(inc, "a.conf")}) {
		t.Errorf("files %v", r.Files)
	}
}

func TestIncludeDirOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc")
	os.Mkdir(inc, 0o755)
	for _, n := range []string{"b.conf", "A.conf", "01.conf", "a.conf", "B.conf", "00.conf", "skip.txt", "x.conf.bak"} {
		os.WriteFile(filepath.Join(inc, n), []byte("# "+n+"\n"), 0o644)
	}
	main := filepath.Join(dir, "m.conf")
	os.WriteFile(main, []byte("include_dir "+inc+"\n"), 0o644)
	r, err := config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Files[1:] {
		got = append(got, filepath.Base(f))
	}
	// The order mosquitto.conf(5) documents.
	want := []string{"00.conf", "01.conf", "A.conf", "a.conf", "B.conf", "b.conf"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, want string }{
		{"bogus 1", `m.conf:1: unknown option "bogus"`},
		{"\n\nallow_anonymous maybe", `m.conf:3: invalid allow_anonymous value "maybe": want true or false`},
		{"allow_anonymous", "m.conf:1: empty allow_anonymous value"},
		{"max_inflight_messages abc", `m.conf:1: max_inflight_messages value "abc" is not a number`},
		{"max_inflight_messages 70000", "m.conf:1: max_inflight_messages must be at most 65535, not 70000"},
		{"max_packet_size 10", "m.conf:1: invalid max_packet_size value 10: must be at least 20"},
		{"max_qos 3", "m.conf:1: invalid max_qos value 3: must be 0, 1 or 2"},
		{"listener 8883\ncertfile /c.pem\nkeyfile /k.pem", "m.conf:2: certfile: open /c.pem: no such file or directory"},
		{"listener 8883\ncafile /ca.pem", "m.conf:2: a TLS listener needs both certfile and keyfile"},
		{"listener 9001\nhttp_dir /www", "m.conf:1: http_dir and websockets_origin need protocol websockets"},
		{"persistence_sync sometimes", `m.conf:1: invalid persistence_sync value "sometimes": use always or periodic`},
		{"persistence_sync_interval 0", "m.conf:1: invalid persistence_sync_interval 0: must be at least 1 (seconds)"},
		{"max_keepalive 70000", "m.conf:1: invalid max_keepalive value 70000: must be 0 to 65535"},
		{"sys_interval -1", "m.conf:1: invalid sys_interval value -1: must be 0 to 65535"},
		{"message_size_limit 268435456", "m.conf:1: invalid message_size_limit value 268435456: must be 0 to 268435455"},
		{"persistent_client_expiration 10", `m.conf:1: invalid persistent_client_expiration "10": want a number followed by s, h, d, w, m or y`},
		{"persistent_client_expiration 0d", `m.conf:1: invalid persistent_client_expiration "0d": the number must be a positive integer`},
		{"listener", "m.conf:1: empty listener value"},
		{"listener 70000", `m.conf:1: invalid listener port "70000"`},
		{"listener 0", "m.conf:1: a listener with port 0 must give a unix socket path"},
		{"listener 1883\nlistener 1883", "m.conf:2: listener 1883 is already defined at m.conf:1"},
		{"port 0", "m.conf:1: invalid port value 0"},
		{"mount_point a/", "m.conf:1: mount_point must follow a listener line"},
		{"listener 1883\nmount_point a/#", `m.conf:2: invalid mount_point "a/#": it must not contain a wildcard`},
		{"listener_allow_anonymous true", "m.conf:1: listener_allow_anonymous must follow a listener line"},
		{"socket_domain ipv5", `m.conf:1: invalid socket_domain value "ipv5": want ipv4 or ipv6`},
		{"listener 1883 127.0.0.1\nsocket_domain ipv6", "m.conf:1: socket_domain ipv6 does not match the bind address 127.0.0.1"},
		{"pid_file /a\npid_file /b", "m.conf:2: duplicate pid_file value (first at m.conf:1)"},
		{"log_dest file /a\nlog_dest file /b", `m.conf:2: duplicate "log_dest file" value (first at m.conf:1)`},
		{"log_dest file", `m.conf:1: empty "log_dest file" value`},
		{"log_dest printer", `m.conf:1: invalid log_dest value "printer": want stdout, stderr, file, syslog, topic or none`},
		{"log_type loud", `m.conf:1: invalid log_type value "loud"`},
		{"log_facility 8", "m.conf:1: invalid log_facility value 8: must be 0 to 7 (local0 to local7)"},
		{"allow_anonymous true\nper_listener_settings true", "m.conf:2: per_listener_settings must be set before any other security option (m.conf:1)"},
		{"per_listener_settings true\npassword_file /x", "m.conf:2: password_file with per_listener_settings true must follow a listener line"},
		{"include_dir /nonexistent-midge", `m.conf:1: unable to open include_dir "/nonexistent-midge": no such file or directory`},
		{"plugin_opt_acl_file /x", "m.conf:1: plugin_opt_acl_file must follow a plugin line"},
		{"plugin_use acl", "m.conf:1: plugin_use must follow a listener line"},
		{"listener 1883\nplugin_use acl", `m.conf:2: plugin "acl" not previously loaded with plugin_load`},
		{"password_file /nonexistent-midge/pw", "m.conf:1: password_file /nonexistent-midge/pw: no such file or directory"},
		{"listener 1883\naccept_protocol_versions 3,6", `m.conf:2: invalid accept_protocol_versions value "6": must be 3 (MQTT 3.1), 4 (3.1.1) or 5, separated by commas`},
		{"listener 1883\naccept_protocol_versions ,", "m.conf:2: empty accept_protocol_versions value"},
		{"accept_protocol_versions 5", "m.conf:1: accept_protocol_versions must follow a listener line"},
		{"auto_id_prefix " + strings.Repeat("x", 51), "m.conf:1: auto_id_prefix longer than 50 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := parse(t, tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q:\n got %v\nwant %s", tt.text, err, tt.want)
			}
		})
	}
}

// TestRefused checks that what midge does not implement stops start-up with
// "FILE:LINE: option NAME is not supported by midge" rather than being
// ignored.
func TestRefused(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, option string }{
		{"listener 8883\npsk_hint hint", "m.conf:2: option psk_hint"},
		{"listener 8883\ntls_engine pkcs11", "m.conf:2: option tls_engine"},
		{"connection br\naddress 10.0.0.1\ntopic #\nbridge_psk 00ff", "m.conf:4: option bridge_psk"},
		{"connection br\naddress 10.0.0.1\ntopic #\nbridge_identity me", "m.conf:4: option bridge_identity"},
		{"plugin /usr/lib/mosquitto_other_plugin.so", "m.conf:1: option plugin /usr/lib/mosquitto_other_plugin.so"},
		{"auth_plugin /usr/lib/go-auth.so\nauth_opt_backends files", "m.conf:1: option auth_plugin /usr/lib/go-auth.so"},
		{"psk_file /p", "m.conf:1: option psk_file"},
		{"clientid_prefixes sec-", "m.conf:1: option clientid_prefixes"},
		{"memory_limit 1000000", "m.conf:1: option memory_limit"},
		{"listener 1883\nmptcp true", "m.conf:2: option mptcp"},
		{"log_dest dlt", "m.conf:1: option log_dest dlt"},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			_, err := parse(t, tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.option+" is not supported by midge") || !errors.Is(err, config.ErrNotSupported) {
				t.Errorf("%q: got %v, want %s is not supported by midge", tt.text, err, tt.option)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	t.Parallel()
	_, err := parse(t, "bogus\nmax_qos 9\nallow_anonymous maybe\n")
	for _, want := range []string{"m.conf:1:", "m.conf:2:", "m.conf:3:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte("topic read $SYS/#\n"), 0o644)
	for _, text := range []string{
		"global_plugin /usr/lib/mosquitto_acl_file.so\nplugin_opt_acl_file " + acl,
		"plugin C:\\Program Files\\Mosquitto\\mosquitto_acl_file.dll\nplugin_opt_acl_file " + acl,
	} {
		r := mustParse(t, text)
		if r.Scopes[0].Rules() == nil || r.Scopes[0].ACLFile != acl {
			t.Errorf("%q: ACL not loaded", text)
		}
	}
	r := mustParse(t, "plugin_load acl /usr/lib/mosquitto_acl_file.so\nplugin_opt_acl_file "+acl+"\nlistener 1883\nplugin_use acl\nlistener 1884\n")
	if s := r.Config.Listeners[0].Security; s == nil || r.Listeners[0].Scope.Rules() == nil {
		t.Errorf("plugin_use: listener without the plugin's ACL")
	}
	if r.Config.Listeners[1].Security != nil || r.Scopes[0].Rules() != nil {
		t.Errorf("plugin_use leaked to other listeners")
	}
	if _, err := parse(t, "global_plugin /usr/lib/mosquitto_acl_file.so\nplugin_opt_password_file /x"); err == nil {
		t.Error("a password_file option accepted for the acl-file plugin")
	}
}

// TestTutorialConfigs loads the two configurations of the tutorial users
// follow, verbatim but for the paths, which move into a temporary directory.
func TestTutorialConfigs(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"tutorial-anonymous.conf", "tutorial-password.conf"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			text := RewritePaths(t, testutil.ReadFile(t, filepath.Join("testdata", name)), dir)
			os.WriteFile(filepath.Join(dir, "etc", "pwfile"), []byte("roger:$6$clQ4Ocu312S0qWgl$Cv2wUxgEN73c6C6jlBkswqR4AkHsvDLWvtEXZZ8NpsBLgP1WAo/qA+WXcmEN/mjDNgdUwcxRAveqNMs2xUVQYA==\n"), 0o644)
			main := filepath.Join(dir, "etc", "mosquitto.conf")
			os.WriteFile(main, []byte(text), 0o644)
			r, err := config.Load(main)
			if err != nil {
				t.Fatal(err)
			}
			anon := name == "tutorial-anonymous.conf"
			if len(r.Config.Listeners) != 1 || r.Config.Listeners[0].Address != ":1883" || r.Config.AllowAnonymous != anon {
				t.Errorf("got %+v", r.Config)
			}
			if !anon && r.Scopes[0].Passwords() == nil {
				t.Error("password file not loaded")
			}
			if r.PIDFile != filepath.Join(dir, "run", "mosquitto.pid") || !r.Persistence.Enabled || r.Log.Dests != logging.File {
				t.Errorf("process settings %q %+v %+v", r.PIDFile, r.Persistence, r.Log)
			}
			// The tutorial's "listener 1883" line starts with U+FFFC.
			if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Msg, "U+FFFC") {
				t.Errorf("warnings %v", r.Warnings)
			}
		})
	}
}

// RewritePaths moves the Debian paths of a configuration into dir (creating
// dir/etc/conf.d, dir/run, dir/lib and dir/log).
func RewritePaths(t *testing.T, text, dir string) string {
	t.Helper()
	for _, d := range []string{"etc/conf.d", "run", "lib", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return strings.NewReplacer(
		"/etc/mosquitto/", dir+"/etc/",
		"/run/mosquitto/", dir+"/run/",
		"/var/run/mosquitto/", dir+"/run/",
		"/var/lib/mosquitto/", dir+"/lib/",
		"/var/log/mosquitto/", dir+"/log/",
	).Replace(text)
}

// TLS and WebSocket listeners become broker listeners with a tls.Config and
// the WebSocket settings.
func TestTLSAndWebSocketListeners(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "ca")
	c := pki.Server("broker")
	text := "listener 8883\ncertfile " + c.CertFile + "\nkeyfile " + c.KeyFile + "\ncafile " + pki.CAFile +
		"\nrequire_certificate true\nuse_identity_as_username true\n" +
		"listener 9001 127.0.0.1\nprotocol websockets\nhttp_dir /var/www\nwebsockets_origin https://example.com\nwebsockets_headers_size 2048\n" +
		"listener 9443\nprotocol websockets\ncertfile " + c.CertFile + "\nkeyfile " + c.KeyFile + "\n"
	r := mustParse(t, text)
	ls := r.Config.Listeners
	if len(ls) != 3 {
		t.Fatalf("listeners %+v", ls)
	}
	if ls[0].TLS == nil || ls[0].WebSocket || !ls[0].UseIdentityAsUsername || r.Listeners[0].TLSServer == nil {
		t.Errorf("TLS listener %+v", ls[0])
	}
	if ls[1].TLS != nil || !ls[1].WebSocket || ls[1].HTTPDir != "/var/www" ||
		!slices.Equal(ls[1].WebSocketOrigins, []string{"https://example.com"}) || ls[1].WebSocketHeadersSize != 2048 {
		t.Errorf("WebSocket listener %+v", ls[1])
	}
	if ls[2].TLS == nil || !ls[2].WebSocket {
		t.Errorf("wss listener %+v", ls[2])
	}
	if errs := config.ReloadTLS(r); len(errs) != 0 {
		t.Errorf("ReloadTLS: %v", errs)
	}
}

// A listener option changed on reload is reported as needing a restart; an
// unchanged configuration reports nothing.
func TestReloadNotesListenerOptions(t *testing.T) {
	t.Parallel()
	const base = "listener 1883\nallow_anonymous true\n"
	cur := mustParse(t, base+"max_qos 1\n")
	if notes := config.Reload(cur, mustParse(t, base+"max_qos 1\n")); len(notes) != 0 {
		t.Errorf("unchanged: %v", notes)
	}
	for _, change := range []string{"max_qos 2\n", "max_qos 1\naccept_protocol_versions 5\n", "max_qos 1\nmax_topic_alias 2\n"} {
		notes := config.Reload(cur, mustParse(t, base+change))
		if len(notes) != 1 || !strings.Contains(notes[0], "listener :1883 changed") {
			t.Errorf("%q: notes %q", change, notes)
		}
	}
}
