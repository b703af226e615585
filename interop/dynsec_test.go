package interop_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// The Debian files of dynamic security: the plugin and mosquitto_ctrl.
const (
	debianDynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
	debianCtrl         = "/usr/bin/mosquitto_ctrl"
	dynsecAdminPW      = "admin-password-1"
)

// dynsecBroker starts Debian's mosquitto with its dynamic security plugin
// (mosquitto true) or midge with the same configuration, on a file made by
// "mosquitto_ctrl dynsec init", and returns the port and the file.
func dynsecBroker(t *testing.T, mosquitto bool) (port, file string) {
	t.Helper()
	for _, f := range []string{debianDynsecPlugin, debianCtrl} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s not found: %v; install it with: apt-get install mosquitto mosquitto-clients", f, err)
		}
	}
	dir := worldDir(t)
	if err := os.Chmod(dir, 0o777); err != nil { // the broker's user writes the file
		t.Fatal(err)
	}
	file = filepath.Join(dir, "dynamic-security.json")
	if out, err := exec.Command(debianCtrl, "dynsec", "init", file, "admin", dynsecAdminPW).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_ctrl dynsec init: %v\n%s", err, out)
	}
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	conf := func(ports []string) string {
		return "listener " + ports[0] + " 127.0.0.1\nallow_anonymous false\nplugin " + debianDynsecPlugin +
			"\nplugin_opt_config_file " + file + "\n"
	}
	start := startMidge
	if mosquitto {
		start = startDebianMosquitto
	}
	_, ports := start(t, dir, 1, conf)
	return ports[0], file
}

// ctrl runs mosquitto_ctrl as admin against port and returns its output
// (stdout then stderr) and exit status.
func ctrl(t *testing.T, port string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianCtrl, append([]string{"-h", "127.0.0.1", "-p", port, "-u", "admin", "-P", dynsecAdminPW, "dynsec"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := "exit 0"
	if err != nil {
		status = err.Error()
	}
	return stdout.String() + stderr.String() + status + "\n"
}

// dynsecCtrlScript is the administration both brokers are given.
var dynsecCtrlScript = [][]string{
	{"createClient", "u1", "-p", "pw1"},
	{"createClient", "u1", "-p", "pw1"},
	{"getClient", "u1"},
	{"getClient", "nobody"},
	{"listClients"},
	{"createRole", "r1"},
	{"createRole", "r1"},
	{"addRoleACL", "r1", "publishClientSend", "a/#", "allow", "5"},
	{"addRoleACL", "r1", "subscribeLiteral", "a/b", "deny"},
	{"addRoleACL", "r1", "subscribePattern", "a/+", "allow", "5"},
	{"addRoleACL", "r1", "publishClientReceive", "x/%c", "allow"},
	{"addRoleACL", "r1", "publishClientSend", "a/#", "allow"},
	{"addRoleACL", "r1", "bogus", "a/#", "allow"},
	{"addRoleACL", "nope", "publishClientSend", "a/#", "allow"},
	{"getRole", "r1"},
	{"addClientRole", "u1", "r1", "3"},
	{"addClientRole", "u1", "nope"},
	{"getClient", "u1"},
	{"createGroup", "g1"},
	{"createGroup", "g1"},
	{"createGroup", "g2"},
	{"addGroupRole", "g1", "r1", "2"},
	{"addGroupClient", "g1", "u1", "4"},
	{"addGroupClient", "g2", "u1"},
	{"addGroupClient", "nope", "u1"},
	{"getGroup", "g1"},
	{"getClient", "u1"},
	{"listGroups"},
	{"listRoles"},
	{"listClients", "1"},
	{"listClients", "1", "1"},
	{"getAnonymousGroup"},
	{"setAnonymousGroup", "g2"},
	{"setAnonymousGroup", "nope"},
	{"getAnonymousGroup"},
	{"getDefaultACLAccess"},
	{"setDefaultACLAccess", "publishClientSend", "allow"},
	{"setDefaultACLAccess", "subscribe", "allow"},
	{"getDefaultACLAccess"},
	{"setClientId", "u1", "cid"},
	{"getClient", "u1"},
	{"setClientId", "u1"},
	{"setClientPassword", "u1", "pw2"},
	{"disableClient", "u1"},
	{"getClient", "u1"},
	{"enableClient", "u1"},
	{"disableClient", "nobody"},
	{"removeGroupClient", "g1", "u1"},
	{"removeGroupRole", "g1", "r1"},
	{"removeClientRole", "u1", "r1"},
	{"removeRoleACL", "r1", "publishClientSend", "a/#"},
	{"removeRoleACL", "r1", "publishClientSend", "a/#"},
	{"getRole", "r1"},
	// (Mosquitto 2.0 crashes deleting the anonymous group; 2.1 and midge
	// refuse it, see the dynsec package's tests.)
	{"createGroup", "anon"},
	{"setAnonymousGroup", "anon"},
	{"deleteGroup", "g2"},
	{"deleteGroup", "g1"},
	{"deleteGroup", "g1"},
	{"deleteRole", "r1"},
	{"deleteRole", "r1"},
	{"deleteClient", "u1"},
	{"deleteClient", "u1"},
	{"listClients"},
	{"listGroups"},
	{"listRoles"},
}

// TestDynsecMosquittoCtrl administers midge and Debian's mosquitto with
// its dynamic security plugin with Debian's mosquitto_ctrl, giving both the
// same commands, and compares the output line for line.
func TestDynsecMosquittoCtrl(t *testing.T) {
	mport, _ := dynsecBroker(t, true)
	port, _ := dynsecBroker(t, false)
	for _, args := range dynsecCtrlScript {
		want := ctrl(t, mport, args...)
		got := ctrl(t, port, args...)
		if got != want {
			t.Errorf("mosquitto_ctrl dynsec %s:\nmidge:\n%smosquitto:\n%s", strings.Join(args, " "), got, want)
		}
	}
}

// dynsecRequest publishes one request as admin on port and returns the
// response.
func dynsecRequest(t *testing.T, port, req string) string {
	t.Helper()
	c := dynsecLogin(t, port, "differ", "admin", dynsecAdminPW, nil)
	defer c.Close()
	c.Subscribe(1, "$CONTROL/dynamic-security/v1/response", 0)
	c.Send(&packet.Publish{Topic: "$CONTROL/dynamic-security/v1", QoS: 1, PacketID: 2, Payload: []byte(req)})
	return string(c.NextPublish().Payload)
}

// dynsecLogin connects over MQTT 5 to port as client id with a clean start,
// user name and password (and will, if not nil), and fails the test unless
// the broker accepts.
func dynsecLogin(t *testing.T, port, id, user, password string, will *packet.Will) *testutil.Client {
	t.Helper()
	c := testutil.Dial(t, net.JoinHostPort("127.0.0.1", port), packet.Version5)
	ack := c.Connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		HasUsername: true, Username: user, HasPassword: true, Password: []byte(password), Will: will})
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v for %q on port %s", ack.ReasonCode, user, port)
	}
	return c
}

// dynsecSetUp starts dynsecBroker, runs setup on it and connects as user
// "u" with password "pw".
func dynsecSetUp(t *testing.T, mosquitto bool, setup string) *testutil.Client {
	t.Helper()
	port, _ := dynsecBroker(t, mosquitto)
	if r := dynsecRequest(t, port, setup); strings.Contains(r, "error") {
		t.Fatalf("setup: %s", r)
	}
	return dynsecLogin(t, port, "cid", "u", "pw", nil)
}

// normalize parses a response and drops what Mosquitto 2.1 added to 2.0's
// (getClient's "connections", getRole's "allowwildcardsubs").
func normalize(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "connections")
			delete(v, "allowwildcardsubs")
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	b, _ := json.Marshal(v)
	return string(b)
}

// dynsecRequests are JSON requests where Mosquitto 2.0 and 2.1 agree,
// covering what mosquitto_ctrl cannot send: the modify commands, lists
// with verbose, roles and groups given at creation, ACL order, keys and
// command names in any case.
var dynsecRequests = []string{
	`{"commands":[{"command":"createRole","rolename":"r1","textname":"T","textdescription":"D","acls":[` +
		`{"acltype":"publishClientSend","topic":"a/#","priority":1,"allow":true},` +
		`{"acltype":"publishClientSend","topic":"b/#","priority":1,"allow":false},` +
		`{"acltype":"publishClientSend","topic":"c/#","priority":7},` +
		`{"acltype":"subscribeLiteral","topic":"x","allow":true},` +
		`{"acltype":"unsubscribePattern","topic":"y/+","priority":-3,"allow":true}]}]}`,
	`{"commands":[{"command":"getRole","rolename":"r1"}]}`,
	`{"commands":[{"command":"addRoleACL","rolename":"r1","acltype":"publishClientSend","topic":"d/#","priority":1,"allow":true},{"command":"getRole","rolename":"r1"}]}`,
	`{"commands":[{"command":"createRole","rolename":"r2"},{"command":"createGroup","groupname":"g1","textname":"G","roles":[{"rolename":"r2","priority":4},{"rolename":"r1"}]}]}`,
	`{"commands":[{"command":"createClient","username":"u1","password":"p","clientid":"c1","textname":"N","textdescription":"D",` +
		`"roles":[{"rolename":"r1","priority":2},{"rolename":"r2","priority":2}],"groups":[{"groupname":"g1","priority":3}],"correlationData":"x"}]}`,
	`{"commands":[{"command":"getClient","username":"u1"},{"command":"getGroup","groupname":"g1"}]}`,
	`{"commands":[{"command":"listClients","verbose":true},{"command":"listGroups","verbose":true},{"command":"listRoles","verbose":true}]}`,
	`{"commands":[{"command":"modifyClient","username":"u1","textname":"N2","clientid":"","roles":[{"rolename":"r2"}],"groups":[]},{"command":"getClient","username":"u1"}]}`,
	`{"commands":[{"command":"modifyGroup","groupname":"g1","textdescription":"GD","roles":[],"clients":[{"username":"u1","priority":5}]},{"command":"getGroup","groupname":"g1"},{"command":"getClient","username":"u1"}]}`,
	`{"commands":[{"command":"modifyRole","rolename":"r2","textname":"R2","acls":[{"acltype":"publishClientReceive","topic":"#","allow":true}]},{"command":"getRole","rolename":"r2"}]}`,
	`{"commands":[{"command":"GETCLIENT","USERNAME":"u1"},{"command":"listclients","count":1,"offset":1}]}`,
	`{"commands":[{"command":"modifyClient","username":"nobody"},{"command":"modifyGroup","groupname":"nobody"},{"command":"modifyRole","rolename":"nobody"}]}`,
	`{"commands":[{"command":"createClient","username":"u2","roles":[{"rolename":"nope"}]},{"command":"createClient","username":"u2","groups":[{"groupname":"nope"}]}]}`,
	`{"commands":[{"command":"bogus","correlationData":"c"},{"command":"getAnonymousGroup"}]}`,
	`{"commands":[]}`,
	`{"commands":5}`,
	`not json`,
	`{"commands":[{"command":"setDefaultACLAccess","acls":[{"acltype":"publishClientReceive","allow":false}]},{"command":"getDefaultACLAccess"}]}`,
}

// TestDynsecJSON sends the same JSON requests to Debian's mosquitto with
// its plugin and to midge, and compares the responses.
func TestDynsecJSON(t *testing.T) {
	mport, _ := dynsecBroker(t, true)
	port, _ := dynsecBroker(t, false)
	for _, req := range dynsecRequests {
		want := normalize(t, dynsecRequest(t, mport, req))
		got := normalize(t, dynsecRequest(t, port, req))
		if got != want {
			t.Errorf("%s\nmidge:     %s\nmosquitto: %s", req, got, want)
		}
	}
}

// dynsecACLSetup is what TestDynsecACLs configures on both brokers.
const dynsecACLSetup = `{"commands":[
{"command":"createClient","username":"u","password":"pw","clientid":"cid"},
{"command":"createRole","rolename":"hi","acls":[
 {"acltype":"publishClientSend","topic":"a/x","allow":false},
 {"acltype":"publishClientSend","topic":"b/+","allow":true},
 {"acltype":"publishClientSend","topic":"b/deny","priority":10,"allow":false},
 {"acltype":"subscribeLiteral","topic":"lit/+","allow":true},
 {"acltype":"subscribePattern","topic":"pat/+/t","allow":true},
 {"acltype":"subscribePattern","topic":"multi/#","allow":true},
 {"acltype":"subscribePattern","topic":"multi/no/#","priority":3,"allow":false}]},
{"command":"createRole","rolename":"lo","acls":[{"acltype":"publishClientSend","topic":"a/#","allow":true},{"acltype":"publishClientSend","topic":"g/#","allow":true}]},
{"command":"createRole","rolename":"gdeny","acls":[{"acltype":"publishClientSend","topic":"g/#","allow":false},{"acltype":"publishClientSend","topic":"h/#","allow":false}]},
{"command":"createRole","rolename":"gallow","acls":[{"acltype":"publishClientSend","topic":"h/#","allow":true}]},
{"command":"createGroup","groupname":"g1","roles":[{"rolename":"gdeny"}]},
{"command":"createGroup","groupname":"g2","roles":[{"rolename":"gallow"}]},
{"command":"addClientRole","username":"u","rolename":"hi","priority":5},
{"command":"addClientRole","username":"u","rolename":"lo","priority":1},
{"command":"addGroupClient","groupname":"g1","username":"u","priority":1},
{"command":"addGroupClient","groupname":"g2","username":"u","priority":2}]}`

// TestDynsecACLs configures the same clients, groups and roles on
// Debian's mosquitto with its plugin and on midge, and compares the
// answers to the same publications and subscriptions.
func TestDynsecACLs(t *testing.T) {
	results := make([][]packet.ReasonCode, 2)
	for i, mosq := range []bool{true, false} {
		c := dynsecSetUp(t, mosq, dynsecACLSetup)
		id := uint16(0)
		for _, p := range []string{"a/x", "a/y", "b/ok", "b/deny", "g/x", "h/x", "none"} {
			id++
			c.Send(&packet.Publish{Topic: p, QoS: 1, PacketID: id, Payload: []byte("x")})
			results[i] = append(results[i], testutil.Expect[*packet.Ack](c).ReasonCode)
		}
		for _, f := range []string{"lit/+", "lit/x", "pat/a/t", "pat/+/t", "multi/a/b", "multi/no/x", "none"} {
			id++
			c.Send(&packet.Subscribe{PacketID: id, Subscriptions: []packet.Subscription{{Filter: f, QoS: 1}}})
			results[i] = append(results[i], testutil.Expect[*packet.Suback](c).ReasonCodes[0])
		}
	}
	if !slices.Equal(results[0], results[1]) {
		t.Errorf("reason codes\nmidge:     %v\nmosquitto: %v", results[1], results[0])
	}
}

// TestDynsecUnsubscribe gives Debian's mosquitto with its dynamic
// security plugin and midge the same unsubscribe ACLs and compares the
// UNSUBACK reason codes.
func TestDynsecUnsubscribe(t *testing.T) {
	const setup = `{"commands":[
{"command":"createClient","username":"u","password":"pw"},
{"command":"createRole","rolename":"r","acls":[
 {"acltype":"subscribePattern","topic":"#","allow":true},
 {"acltype":"unsubscribeLiteral","topic":"keep/lit","allow":false},
 {"acltype":"unsubscribePattern","topic":"keep/pat/#","allow":false},
 {"acltype":"unsubscribePattern","topic":"keep/pat/ok","priority":5,"allow":true}]},
{"command":"addClientRole","username":"u","rolename":"r"}]}`
	filters := []string{"free/x", "keep/lit", "keep/pat/x", "keep/pat/ok", "keep/+/x", "free/y"}
	results := make([][]packet.ReasonCode, 2)
	for i, mosq := range []bool{true, false} {
		c := dynsecSetUp(t, mosq, setup)
		for j, f := range filters[:len(filters)-1] {
			c.Send(&packet.Subscribe{PacketID: uint16(j + 1), Subscriptions: []packet.Subscription{{Filter: f, QoS: 1}}})
			testutil.Expect[*packet.Suback](c)
		}
		for j, f := range filters {
			c.Send(&packet.Unsubscribe{PacketID: uint16(20 + j), Filters: []string{f}})
			results[i] = append(results[i], testutil.Expect[*packet.Unsuback](c).ReasonCodes...)
		}
	}
	if !slices.Equal(results[0], results[1]) {
		t.Errorf("UNSUBACK reason codes\nmidge:     %v\nmosquitto: %v", results[1], results[0])
	}
	if want := packet.NotAuthorized; len(results[1]) < 2 || results[1][1] != want {
		t.Errorf("midge: keep/lit unsubscribed: %v", results[1])
	}
}

// TestDynsecKickDropsWill checks, on Debian's mosquitto with its plugin
// and on midge, that a client kicked because its roles changed leaves no
// will behind, while one whose connection breaks does.
func TestDynsecKickDropsWill(t *testing.T) {
	const setup = `{"commands":[
{"command":"createClient","username":"w","password":"pw"},
{"command":"createRole","rolename":"wills","acls":[{"acltype":"publishClientSend","topic":"wills/#","allow":true}]},
{"command":"createRole","rolename":"other"},
{"command":"addClientRole","username":"w","rolename":"wills"}]}`
	for _, mosq := range []bool{true, false} {
		name := map[bool]string{true: "mosquitto", false: "midge"}[mosq]
		port, _ := dynsecBroker(t, mosq)
		if r := dynsecRequest(t, port, setup); strings.Contains(r, "error") {
			t.Fatalf("%s: setup: %s", name, r)
		}
		watcher := dynsecLogin(t, port, "watcher", "admin", dynsecAdminPW, nil)
		if rc := watcher.Subscribe(1, "wills/#", 0).ReasonCodes[0]; rc != 0 {
			t.Fatalf("%s: watcher SUBACK %v", name, rc)
		}
		connect := func(id string) *testutil.Client {
			return dynsecLogin(t, port, id, "w", "pw", &packet.Will{Topic: "wills/" + id, Payload: []byte("gone")})
		}
		kicked := connect("kicked")
		if r := dynsecRequest(t, port, `{"commands":[{"command":"addClientRole","username":"w","rolename":"other"}]}`); strings.Contains(r, "error") {
			t.Fatalf("%s: addClientRole: %s", name, r)
		}
		kicked.ExpectClosed()
		broken := connect("broken")
		broken.Close()
		for p := watcher.NextPublish(); p.Topic != "wills/broken"; p = watcher.NextPublish() {
			t.Errorf("%s: will of the kicked client published: %s", name, p.Topic)
		}
	}
}
