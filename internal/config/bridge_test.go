package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/packet"
)

func TestBridgeDefaults(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "connection edge\naddress central.example\ntopic sensors/#\n")
	if len(r.Bridges) != 1 {
		t.Fatalf("%d bridges", len(r.Bridges))
	}
	host, _ := os.Hostname()
	want := bridge.Defaults("edge")
	want.Addresses = []string{"central.example:1883"}
	top, _ := bridge.NewTopic("sensors/#", bridge.Out, 0, "", "")
	want.Topics = []bridge.Topic{top}
	want.RemoteClientID = host + ".edge" // Mosquitto's real default: hostname.name
	want.LocalClientID = "local." + host + ".edge"
	if got := r.Bridges[0].Config; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if r.Bridges[0].Pos.Line != 1 {
		t.Errorf("position %v", r.Bridges[0].Pos)
	}
}

func TestBridgeEveryOption(t *testing.T) {
	t.Parallel()
	r := mustParse(t, `
connection c1
addresses 10.0.0.1:1884 [::1]:8883 broker.example # the rest is a comment
round_robin true
topic "a b/#" both 2 "local/" remote/
topic # in 1 "" ""
topic "" out 1 single/local single/remote
topic ic/+ IN 0 local4/top remote4/tip
bridge_protocol_version mqttv50
cleansession true
local_cleansession false
bridge_session_expiry_interval 4294967295
bridge_receive_maximum 100
bridge_max_topic_alias 0
bridge_max_packet_size -5
bridge_outgoing_retain false
bridge_attempt_unsubscribe false
bridge_bind_address 127.0.0.1
bridge_reload_type immediate
bridge_tcp_keepalive 30 5 3
bridge_tcp_user_timeout 2500
bridge_mptcp true
keepalive_interval 2
idle_timeout 30
threshold 5
start_type lazy
restart_timeout 2 20 60
remote_clientid rc
local_clientid lc
remote_username ru
remote_password rp
local_username lu
local_password lp
try_private false
notifications false
notifications_local_only true
notification_topic bridges/c1/state
bridge_cafile /etc/ssl/ca.pem
bridge_capath /etc/ssl/certs
bridge_tls_use_os_certs true
bridge_certfile /c.pem
bridge_keyfile /k.pem
bridge_insecure true
bridge_alpn x-amzn-mqtt-ca
bridge_tls_version tlsv1.3
bridge_ciphers ECDHE-RSA-AES128-GCM-SHA256
bridge_ciphers_tls1.3 TLS_AES_128_GCM_SHA256
bridge_require_ocsp true
connection c2
address 10.0.0.2
clientid rc2
username u2
password p2
topic x
restart_timeout 7
start_type once
`)
	if len(r.Bridges) != 2 {
		t.Fatalf("%d bridges", len(r.Bridges))
	}
	c := r.Bridges[0].Config
	mk := func(p string, d bridge.Direction, q byte, lp, rp string) bridge.Topic {
		top, err := bridge.NewTopic(p, d, q, lp, rp)
		if err != nil {
			t.Fatal(err)
		}
		return top
	}
	want := bridge.Config{
		Name: "c1", Addresses: []string{"10.0.0.1:1884", "[::1]:8883", "broker.example:1883"}, RoundRobin: true,
		Topics: []bridge.Topic{mk("a b/#", bridge.Both, 2, "local/", "remote/"), mk("#", bridge.In, 1, "", ""),
			mk("", bridge.Out, 1, "single/local", "single/remote"), mk("ic/+", bridge.In, 0, "local4/top", "remote4/tip")},
		ProtocolVersion: packet.Version5, CleanSession: true, LocalCleanSession: false, SessionExpiry: 0xFFFFFFFF,
		RemoteClientID: "rc", LocalClientID: "lc", RemoteUsername: "ru", RemotePassword: []byte("rp"),
		LocalUsername: "lu", LocalPassword: []byte("lp"), NotificationsLocalOnly: true,
		NotificationTopic: "bridges/c1/state", KeepAlive: 5 * time.Second,
		Restart:   bridge.Backoff{Base: 2 * time.Second, Cap: 20 * time.Second, Stable: 60 * time.Second},
		StartType: bridge.Lazy, Threshold: 5, IdleTimeout: 30 * time.Second, ReceiveMaximum: 100,
		BindAddress: "127.0.0.1", TCPKeepAlive: [3]int{30, 5, 3}, TCPUserTimeout: 2500 * time.Millisecond,
		MPTCP: true, ReloadImmediate: true,
		TLS: &bridge.TLS{CAFile: "/etc/ssl/ca.pem", CAPath: "/etc/ssl/certs", UseOSCerts: true, CertFile: "/c.pem",
			KeyFile: "/k.pem", Insecure: true, ALPN: "x-amzn-mqtt-ca", Version: "tlsv1.3",
			Ciphers: "ECDHE-RSA-AES128-GCM-SHA256", CiphersTLS13: "TLS_AES_128_GCM_SHA256", RequireOCSP: true},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	c2 := r.Bridges[1].Config
	if c2.RemoteClientID != "rc2" || c2.LocalClientID != "local.rc2" || c2.RemoteUsername != "u2" ||
		string(c2.RemotePassword) != "p2" || c2.Restart.Constant != 7*time.Second || c2.StartType != bridge.Once ||
		c2.LocalCleanSession || !c2.TryPrivate {
		t.Errorf("c2 %+v", c2)
	}
	if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0].Msg, "keepalive_interval") {
		t.Errorf("warnings %v", r.Warnings)
	}
}

func TestBridgeErrors(t *testing.T) {
	t.Parallel()
	const b = "connection b\naddress h\ntopic t\n"
	for _, tc := range []struct{ text, want string }{
		{"address h", "m.conf:1: The 'address' option requires a bridge to be defined first."},
		{"topic t", "m.conf:1: The 'topic' option requires a bridge to be defined first."},
		{"connection", "m.conf:1: Empty 'connection' value in configuration."},
		{b + "connection b\naddress h\ntopic t", "m.conf:4: Duplicate bridge name 'b'."},
		{"connection b\ntopic t", "m.conf:1: bridge b: invalid bridge configuration: no remote addresses defined"},
		{"connection b\naddress h", "m.conf:1: bridge b: invalid bridge configuration: no topics defined"},
		{b + "address h2", "m.conf:4: 'address' only allowed once"},
		{b + "topic x both 3", "m.conf:4: Invalid bridge QoS level '3'."},
		{b + "topic x sideways", "m.conf:4: Invalid bridge topic direction 'sideways'."},
		{b + `topic "" both 0 local ""`, "m.conf:4: invalid bridge remapping"},
		{b + "topic # both 0 a/+/ r/", "m.conf:4: invalid bridge topic prefix"},
		{"connection b\naddress h:0\ntopic t", "m.conf:2: Invalid port value (0)."},
		{b + "bridge_protocol_version mqttv6", "m.conf:4: Invalid bridge_protocol_version value (mqttv6)."},
		{b + "start_type manual", "m.conf:4: Manual start_type not supported."},
		{b + "start_type never", `m.conf:4: invalid start_type value "never": want automatic, lazy or once`},
		{b + "start_type", "m.conf:4: empty start_type value"},
		{b + "keepalive_interval 70000", "m.conf:4: invalid keepalive_interval value 70000"},
		{b + "restart_timeout 10 5", "m.conf:4: invalid restart_timeout"},
		{b + "restart_timeout 10 8000", "m.conf:4: invalid restart_timeout"},
		{b + "bridge_receive_maximum 0", "m.conf:4: invalid bridge_receive_maximum value 0"},
		{b + "bridge_tcp_keepalive 1 0 3", "m.conf:4: invalid bridge_tcp_keepalive"},
		{b + "bridge_reload_type later", "m.conf:4: invalid bridge_reload_type"},
		{b + "bridge_tls_version tlsv1.1", "m.conf:4: invalid bridge_tls_version"},
		{b + "bridge_bind_address eth0", "m.conf:4: invalid bridge_bind_address"},
		{b + "bridge_certfile /c.pem", "m.conf:4: bridge b: TLS options need bridge_cafile"},
		{b + "bridge_cafile /ca.pem\nbridge_certfile /c.pem", "m.conf:4: bridge b: bridge_certfile and bridge_keyfile go together"},
		{b + "connection c\naddress h\ntopic t\nlocal_clientid local.x\nremote_clientid x", "local_clientid 'local.x' is not unique"},
		{b + "notification_topic a/#", "m.conf:4: invalid notification_topic"},
		{b + "idle_timeout 0", "m.conf:4: invalid idle_timeout value 0"},
		{b + "threshold 0", "m.conf:4: invalid threshold value 0"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			text := tc.text
			if strings.Contains(tc.want, "not unique") {
				text = "connection b\naddress h\ntopic t\nremote_clientid x\n" + tc.text[len(b):]
			}
			_, err := parse(t, text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: got %v, want %s", text, err, tc.want)
			}
		})
	}
}
