package cluster

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// dynsecAdminPW is the admin password of the nodes' dynamic security.
const dynsecAdminPW = "admin-password-1"

// withDynsec adds Debian's dynamic security plugin to p's configuration,
// with its file in p's directory (made at the first start, admin password
// dynsecAdminPW), and returns the file's path.
func withDynsec(t *testing.T, p *proc) string {
	t.Helper()
	init := filepath.Join(p.dir, "init")
	if err := os.WriteFile(init, []byte(dynsecAdminPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(p.dir, "dynamic-security.json")
	f, err := os.OpenFile(p.conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file %s\nplugin_opt_password_init_file %s\n", file, init)
	return file
}

// ctrl runs "midge ctrl ... dynsec ARGS" against p's listener as the
// admin and returns its output, stdout and stderr.
func ctrl(t *testing.T, p *proc, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(p.mqtt)
	cmd := exec.Command(testutil.MidgeBinary(t), append([]string{"ctrl", "-h", host, "-p", port, "-u", "admin",
		"-P", dynsecAdminPW, "dynsec"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no options file
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ctrlOK runs ctrl and fails the test unless it succeeds.
func ctrlOK(t *testing.T, p *proc, args ...string) {
	t.Helper()
	if out, err := ctrl(t, p, args...); err != nil || strings.Contains(out, "Error") {
		t.Fatalf("midge ctrl dynsec %s on %s: %v\n%s", strings.Join(args, " "), p.id, err, out)
	}
}

// login connects an MQTT 5 client with a user name and password to p and
// returns it with the CONNACK's reason code.
func login(t *testing.T, p *proc, id, user, pw string) (*testutil.Client, packet.ReasonCode) {
	t.Helper()
	c := testutil.Dial(t, p.mqtt, packet.Version5)
	ack := c.Connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		HasUsername: true, Username: user, HasPassword: true, Password: []byte(pw)})
	return c, ack.ReasonCode
}

// publishAck publishes at QoS 1 and returns the PUBACK's reason code.
func publishAck(t *testing.T, c *testutil.Client, id uint16, topic string) packet.ReasonCode {
	t.Helper()
	c.Send(&packet.Publish{Topic: topic, QoS: 1, PacketID: id, Payload: []byte("x")})
	for {
		if a, ok := c.Next().(*packet.Ack); ok {
			return a.ReasonCode
		}
	}
}

// expectKicked checks that the server closes c's connection with
// DISCONNECT 0x98 (administrative action), as dynamic security kicks.
func expectKicked(t *testing.T, c *testutil.Client, what string) {
	t.Helper()
	got := c.ExpectClosed()
	if len(got) == 0 {
		t.Fatalf("%s: closed without a DISCONNECT", what)
	}
	if d, ok := got[len(got)-1].(*packet.Disconnect); !ok || d.ReasonCode != packet.AdministrativeAction {
		t.Fatalf("%s: got %v before the close, want DISCONNECT 0x98", what, got)
	}
}

// sameFile reports whether the files exist and have the same contents.
func sameFile(a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && len(x) > 0 && bytes.Equal(x, y)
}

// TestDynsecReplicated checks dynamic security in a cluster of three
// midge processes, each with Debian's plugin line and its own file (the
// same admin password, each hashed with its own salt): the first leader's
// file becomes every node's; a client, a role and an ACL made with midge
// ctrl on node 1 let the client log in on nodes 2 and 3 with its ACL
// applied there; a disableClient sent to node 3 kicks the client's
// connection on node 2; a node stopped during changes catches up when it
// restarts; and a node without a majority refuses a change, with an error
// response, instead of applying it alone.
func TestDynsecReplicated(t *testing.T) {
	t.Parallel()
	var ps []*proc
	var files []string
	for i := range 3 {
		var join []string
		if i > 0 {
			join = []string{ps[0].gossip}
		}
		p := newProc(t, "ds", fmt.Sprintf("ds%d", i+1), 3, join)
		files = append(files, withDynsec(t, p))
		ps = append(ps, p)
	}
	for _, p := range ps {
		p.start()
	}
	waitFor(t, "three nodes with one leader", func() bool { _, ok := formed(ps...); return ok })
	waitFor(t, "the leader's dynamic security on every node", func() bool {
		return sameFile(files[0], files[1]) && sameFile(files[0], files[2])
	})

	ctrlOK(t, ps[0], "createClient", "alice", "-p", "alice-pw")
	ctrlOK(t, ps[0], "createRole", "sensors")
	ctrlOK(t, ps[0], "addRoleACL", "sensors", "publishClientSend", "sensors/#", "allow")
	ctrlOK(t, ps[0], "addClientRole", "alice", "sensors")
	waitFor(t, "the changes on every node", func() bool {
		return sameFile(files[0], files[1]) && sameFile(files[0], files[2])
	})
	if b, _ := os.ReadFile(files[1]); !strings.Contains(string(b), `"sensors/#"`) || strings.Contains(string(b), "alice-pw") {
		t.Fatalf("node 2's file:\n%s", b)
	}

	var alice [3]*testutil.Client
	for i, p := range ps[1:] {
		c, rc := login(t, p, fmt.Sprintf("alice-%d", i+2), "alice", "alice-pw")
		if rc != packet.Success {
			t.Fatalf("alice on %s: CONNACK %v", p.id, rc)
		}
		if rc := publishAck(t, c, 1, "sensors/t"); rc != packet.Success && rc != packet.NoMatchingSubscribers {
			t.Errorf("alice publishing on sensors/t through %s: %v", p.id, rc)
		}
		if rc := publishAck(t, c, 2, "other/t"); rc != packet.NotAuthorized {
			t.Errorf("alice publishing on other/t through %s: %v, want not authorized", p.id, rc)
		}
		alice[i+1] = c
	}
	if _, rc := login(t, ps[2], "alice-bad", "alice", "wrong"); rc == packet.Success {
		t.Error("alice with a wrong password admitted on node 3")
	}

	// A change sent to node 3 kicks alice on node 2 (and on node 3).
	ctrlOK(t, ps[2], "disableClient", "alice")
	expectKicked(t, alice[1], "alice on node 2")
	expectKicked(t, alice[2], "alice on node 3")
	if _, rc := login(t, ps[1], "alice-again", "alice", "alice-pw"); rc == packet.Success {
		t.Error("a disabled alice admitted on node 2")
	}

	// Node 3 misses changes while stopped, and catches up.
	ps[2].stop()
	ctrlOK(t, ps[0], "createClient", "bob", "-p", "bob-pw")
	ctrlOK(t, ps[1], "enableClient", "alice")
	ps[2].start()
	waitFor(t, "the restarted node caught up", func() bool { return sameFile(files[0], files[2]) })
	if c, rc := login(t, ps[2], "bob-3", "bob", "bob-pw"); rc != packet.Success {
		t.Errorf("bob on the restarted node: CONNACK %v", rc)
	} else {
		c.Close()
	}

	// Without a majority a change is refused, and not applied: sent by
	// an admin connected before (a new client is refused too).
	admin, rc := login(t, ps[0], "admin-1", "admin", dynsecAdminPW)
	if rc != packet.Success {
		t.Fatalf("admin on node 1: CONNACK %v", rc)
	}
	admin.Subscribe(1, "$CONTROL/dynamic-security/v1/response", 0)
	admin.Wait = clusterWait // the refusal comes after the cluster's timeout
	ps[1].stop()
	ps[2].stop()
	before, _ := os.ReadFile(files[0])
	resp := dynsecRequest(t, admin, 2, `{"commands":[{"command":"createClient","username":"carol","password":"carol-pw","correlationData":"7"}]}`)
	if !strings.HasPrefix(resp, `{"responses":[{"command":"createClient","error":"Change not applied: `) || !strings.HasSuffix(resp, `","correlationData":"7"}]}`) {
		t.Errorf("createClient without a majority answered %s", resp)
	}
	if after, _ := os.ReadFile(files[0]); !bytes.Equal(before, after) {
		t.Errorf("createClient without a majority changed the file:\n%s", after)
	}
	resp = dynsecRequest(t, admin, 3, `{"commands":[{"command":"getClient","username":"bob"}]}`)
	if !strings.Contains(resp, `"username":"bob"`) || strings.Contains(resp, "error") {
		t.Errorf("getClient without a majority (a read, answered locally): %s", resp)
	}
}

// dynsecRequest publishes a dynamic security request from c, which is
// subscribed to the responses, and returns the response.
func dynsecRequest(t *testing.T, c *testutil.Client, id uint16, req string) string {
	t.Helper()
	c.Send(&packet.Publish{Topic: "$CONTROL/dynamic-security/v1", QoS: 1, PacketID: id, Payload: []byte(req)})
	for {
		if p, ok := c.Next().(*packet.Publish); ok && p.Topic == "$CONTROL/dynamic-security/v1/response" {
			return string(p.Payload)
		}
	}
}
