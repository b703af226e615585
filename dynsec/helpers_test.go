package dynsec_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// adminPassword is the password of "admin" in the files the tests make.
const adminPassword = "admin-password-1"

// env is a broker with dynamic security, its file, and a connected admin.
type env struct {
	b     *testutil.Broker
	ds    *dynsec.Security
	path  string
	admin *testutil.Client
	id    uint16
}

// newEnv starts a broker whose only security is dynamic security, with the
// default file Mosquitto 2.1 makes (the admin's password from the init
// file), and connects the admin, subscribed to the responses.
func newEnv(t *testing.T) *env { return newEnvAnon(t, false) }

// newEnvRole is newEnv with a client "u" (password "pw") whose one role,
// "r", has acls: the JSON objects of its "acls" array.
func newEnvRole(t *testing.T, acls ...string) *env {
	e := newEnv(t)
	e.ok(t,
		`{"command":"createClient","username":"u","password":"pw"}`,
		`{"command":"createRole","rolename":"r","acls":[`+strings.Join(acls, ",")+`]}`,
		`{"command":"addClientRole","username":"u","rolename":"r"}`,
	)
	return e
}

// newEnvAnon is newEnv with allow_anonymous as given.
func newEnvAnon(t *testing.T, anonymous bool) *env {
	t.Helper()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "init")
	if err := os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dynamic-security.json")
	ds, err := dynsec.Open(dynsec.Options{ConfigFile: path, PasswordInitFile: pwFile})
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, ds, path, anonymous)
}

func startEnv(t *testing.T, ds *dynsec.Security, path string, anonymous bool) *env {
	t.Helper()
	return startEnvFull(t, ds, path, anonymous, adminPassword)
}

// startEnvPW is startEnv with the admin's password.
func startEnvPW(t *testing.T, ds *dynsec.Security, path, pw string) *env {
	t.Helper()
	return startEnvFull(t, ds, path, false, pw)
}

func startEnvFull(t *testing.T, ds *dynsec.Security, path string, anonymous bool, pw string) *env {
	t.Helper()
	b := testutil.StartBroker(t, broker.Config{SysInterval: broker.Unlimited, AllowAnonymous: anonymous,
		Authenticators: []broker.Authenticator{ds}, Authorizers: []broker.Authorizer{ds}})
	remove, err := ds.Attach(b.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	e := &env{b: b, ds: ds, path: path}
	e.admin = e.login(t, 5, "admin-cli", "admin", pw)
	e.admin.Subscribe(1, dynsec.Topic+"/response", 0)
	return e
}

// login connects a client and expects success.
func (e *env) login(t *testing.T, v byte, id, user, pw string) *testutil.Client {
	t.Helper()
	c, ack := e.try(t, v, id, user, pw, true)
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v for %s/%s", ack.ReasonCode, id, user)
	}
	return c
}

// try connects a client with or without a user name and password.
func (e *env) try(t *testing.T, v byte, id, user, pw string, withUser bool) (*testutil.Client, *packet.Connack) {
	t.Helper()
	c := testutil.Dial(t, e.b.Addr, v)
	cp := &packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}
	if withUser {
		cp.HasUsername, cp.Username, cp.HasPassword, cp.Password = true, user, true, []byte(pw)
	}
	return c, c.Connect(cp)
}

// do sends one request from the admin and returns the response payload.
func (e *env) do(t *testing.T, req string) string {
	t.Helper()
	return request(t, e.admin, &e.id, req)
}

// request publishes req at QoS 1 on the endpoint from c and returns the
// response (c must subscribe to the responses).
func request(t *testing.T, c *testutil.Client, id *uint16, req string) string {
	t.Helper()
	*id++
	c.Send(&packet.Publish{Topic: dynsec.Topic, QoS: 1, PacketID: *id, Payload: []byte(req)})
	var resp string
	acked := false
	for resp == "" || !acked {
		switch p := c.Next().(type) {
		case *packet.Ack:
			if p.ReasonCode != packet.Success {
				t.Fatalf("request refused: %v", p.ReasonCode)
			}
			acked = true
		case *packet.Publish:
			if p.Topic == dynsec.Topic+"/response" {
				resp = string(p.Payload)
			}
		}
	}
	return resp
}

// one sends one command (given as a JSON object) and returns its response
// object.
func (e *env) one(t *testing.T, command string) map[string]any {
	t.Helper()
	out := e.do(t, `{"commands":[`+command+`]}`)
	var r struct{ Responses []map[string]any }
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Responses) != 1 {
		t.Fatalf("response %s: %v", out, err)
	}
	return r.Responses[0]
}

// ok sends commands that must succeed.
func (e *env) ok(t *testing.T, commands ...string) {
	t.Helper()
	for _, c := range commands {
		if r := e.one(t, c); r["error"] != nil {
			t.Fatalf("%s: %v", c, r["error"])
		}
	}
}

// sub subscribes and returns the reason code.
func sub(t *testing.T, c *testutil.Client, id uint16, filter string) packet.ReasonCode {
	t.Helper()
	c.Send(&packet.Subscribe{PacketID: id, Subscriptions: []packet.Subscription{{Filter: filter, QoS: 1}}})
	return testutil.Expect[*packet.Suback](c).ReasonCodes[0]
}

// pub publishes at QoS 1 and returns the PUBACK's reason code.
func pub(t *testing.T, c *testutil.Client, id uint16, topic string) packet.ReasonCode {
	t.Helper()
	c.Send(&packet.Publish{Topic: topic, QoS: 1, PacketID: id, Payload: []byte("x")})
	for {
		if a, ok := c.Next().(*packet.Ack); ok {
			return a.ReasonCode
		}
	}
}
