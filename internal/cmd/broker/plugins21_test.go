//go:build unix

package broker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestPluginForms21 loads Mosquitto 2.1's plugin forms of the password and
// ACL files from a real file and checks them over TCP: global_plugin with
// the acl-file plugin for every listener, plugin_load + plugin_use of the
// password-file plugin on one listener, and a listener without it.
func TestPluginForms21(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	midgePasswd(t, "-c", "-b", pw, "alice", "s3cret")
	acl := testutil.WriteFile(t, dir, "acl", "user alice\ntopic readwrite alice/#\n")
	portB := freePort(t)
	b, portA := runConf(t, strings.Join([]string{
		"log_dest none",
		"enable_control_api true",
		"global_plugin /usr/lib/x86_64-linux-gnu/mosquitto_acl_file.so",
		"plugin_opt_acl_file " + acl,
		"plugin_load pw /usr/lib/mosquitto_password_file.so",
		"plugin_opt_password_file " + pw,
		"listener PORT 127.0.0.1",
		"plugin_use pw",
		"listener " + portB + " 127.0.0.1",
		"listener_allow_anonymous true",
	}, "\n")+"\n")

	login := func(port, user, pass string) *packet.Connack {
		c := testutil.Dial(t, "127.0.0.1:"+port, packet.Version311)
		return c.Connect(&packet.Connect{ClientID: "c-" + user + pass, CleanStart: true, HasUsername: true, Username: user, HasPassword: true, Password: []byte(pass)})
	}
	if ack := login(portA, "alice", "s3cret"); ack.ReasonCode != packet.Success {
		t.Errorf("alice on the plugin_use listener: CONNACK %v", ack.ReasonCode)
	}
	if ack := login(portA, "alice", "wrong"); ack.ReasonCode == packet.Success {
		t.Error("a wrong password accepted")
	}
	// The ACL of the global plugin applies on both listeners: alice may
	// write alice/#, an anonymous client on B nothing.
	c := testutil.Dial(t, "127.0.0.1:"+portA, packet.Version5)
	c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, ClientID: "a5", CleanStart: true, HasUsername: true, Username: "alice", HasPassword: true, Password: []byte("s3cret")})
	for topic, want := range map[string]packet.ReasonCode{"alice/x": packet.NoMatchingSubscribers, "bob/x": packet.NotAuthorized} {
		c.Send(&packet.Publish{Topic: topic, QoS: 1, PacketID: 1, Payload: []byte("m")})
		if a := testutil.Expect[*packet.Ack](c); a.ReasonCode != want {
			t.Errorf("alice publishing %s: %v, want %v", topic, a.ReasonCode, want)
		}
	}
	anon := testutil.Dial(t, "127.0.0.1:"+portB, packet.Version5)
	if ack := anon.Connect(&packet.Connect{ProtocolVersion: packet.Version5, ClientID: "anon", CleanStart: true}); ack.ReasonCode != packet.Success {
		t.Fatalf("anonymous on B: CONNACK %v", ack.ReasonCode)
	}
	anon.Send(&packet.Publish{Topic: "alice/x", QoS: 1, PacketID: 2, Payload: []byte("m")})
	if a := testutil.Expect[*packet.Ack](anon); a.ReasonCode != packet.NotAuthorized {
		t.Errorf("anonymous publishing under the global ACL: %v", a.ReasonCode)
	}

	// listPlugins names them as Mosquitto 2.1 does (alice may write the
	// endpoint: the ACL needs a rule for it).
	os.WriteFile(acl, []byte("user alice\ntopic readwrite alice/#\ntopic readwrite $CONTROL/broker/#\n"), 0o644)
	b.reload()
	c.Subscribe(2, "$CONTROL/broker/v1/response", 0)
	got, _ := json.Marshal(ask(t, c, `{"commands":[{"command":"listPlugins"}]}`))
	if want := `{"responses":[{"command":"listPlugins","data":{"plugins":[{"control-endpoints":[],"name":"acl-file"},{"control-endpoints":[],"name":"password-file"}]}}]}`; string(got) != want {
		t.Errorf("listPlugins:\n%s\nwant\n%s", got, want)
	}
}
