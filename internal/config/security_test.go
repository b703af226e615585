package config_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// connackFor connects to addr over TCP with MQTT 5 as client id, with a user
// name and password if user is not "", and returns the CONNACK's reason code.
func connackFor(t *testing.T, addr, id, user, password string) packet.ReasonCode {
	t.Helper()
	c := testutil.Dial(t, addr, packet.Version5)
	defer c.Close()
	cp := &packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}
	if user != "" {
		cp.HasUsername, cp.Username = true, user
		cp.HasPassword, cp.Password = true, []byte(password)
	}
	return c.Connect(cp).ReasonCode
}

// writePasswords writes a password file with user's password.
func writePasswords(t *testing.T, path, user, password string) {
	t.Helper()
	h, err := auth.HashPassword(password, auth.SHA512PBKDF2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(user+":"+h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadFile writes text to path and loads it as a configuration file.
func loadFile(t *testing.T, path, text string) *config.Result {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestNoPasswordFileRefusesEveryone is the regression test for an
// authentication that failed open: with allow_anonymous false and no
// password_file, Mosquitto refuses every client, with or without a user
// name, and says so at start-up; midge admitted any client that sent a user
// name.
func TestNoPasswordFileRefusesEveryone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := loadFile(t, filepath.Join(dir, "m.conf"), "listener 1883 127.0.0.1\nallow_anonymous false\n")
	var warned bool
	for _, w := range res.Warnings {
		warned = warned || strings.Contains(w.Msg, "no client can connect")
	}
	if !warned {
		t.Errorf("no warning that no client can connect: %v", res.Warnings)
	}
	b := testutil.StartBroker(t, res.Config)
	if rc := connackFor(t, b.Addr, "anon", "", ""); rc != packet.NotAuthorized {
		t.Errorf("anonymous client: CONNACK %v, want %v", rc, packet.NotAuthorized)
	}
	if rc := connackFor(t, b.Addr, "bob", "bob", "anything"); rc != packet.NotAuthorized {
		t.Errorf("client with a user name: CONNACK %v, want %v", rc, packet.NotAuthorized)
	}
}

// TestAllowAnonymousWithoutPasswordFile checks the other side: with
// allow_anonymous true and no password_file, clients connect with or
// without a user name, as in Mosquitto.
func TestAllowAnonymousWithoutPasswordFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := loadFile(t, filepath.Join(dir, "m.conf"), "listener 1883 127.0.0.1\nallow_anonymous true\n")
	b := testutil.StartBroker(t, res.Config)
	if rc := connackFor(t, b.Addr, "anon", "", ""); rc != packet.Success {
		t.Errorf("anonymous client: CONNACK %v", rc)
	}
	if rc := connackFor(t, b.Addr, "bob", "bob", "anything"); rc != packet.Success {
		t.Errorf("client with a user name: CONNACK %v", rc)
	}
}

// TestReloadRemovingPasswordFileRefusesEveryone removes password_file from
// a configuration with allow_anonymous false and reloads it as SIGHUP does:
// from then on no client connects, not even one whose password the old
// file knew.
func TestReloadRemovingPasswordFileRefusesEveryone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf, pw := filepath.Join(dir, "m.conf"), filepath.Join(dir, "pw")
	writePasswords(t, pw, "bob", "b-pass")
	cur := loadFile(t, conf, "listener 1883 127.0.0.1\nallow_anonymous false\npassword_file "+pw+"\n")
	b := testutil.StartBroker(t, cur.Config)
	if rc := connackFor(t, b.Addr, "bob1", "bob", "b-pass"); rc != packet.Success {
		t.Fatalf("bob before the reload: CONNACK %v", rc)
	}
	if rc := connackFor(t, b.Addr, "eve1", "eve", "x"); rc != packet.NotAuthorized {
		t.Fatalf("unknown user before the reload: CONNACK %v", rc)
	}
	next := loadFile(t, conf, "listener 1883 127.0.0.1\nallow_anonymous false\n")
	config.Reload(cur, next)
	if rc := connackFor(t, b.Addr, "bob2", "bob", "b-pass"); rc != packet.NotAuthorized {
		t.Errorf("bob after the reload: CONNACK %v, want %v", rc, packet.NotAuthorized)
	}
	if rc := connackFor(t, b.Addr, "eve2", "eve", "x"); rc != packet.NotAuthorized {
		t.Errorf("unknown user after the reload: CONNACK %v, want %v", rc, packet.NotAuthorized)
	}
}

// TestPerListenerNoPasswordFile checks per_listener_settings: each listener
// has its own chain, so a listener with allow_anonymous false and no
// password_file refuses every client (and is warned about) while another
// with a password file admits its users.
func TestPerListenerNoPasswordFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	writePasswords(t, pw, "bob", "b-pass")
	res := loadFile(t, filepath.Join(dir, "m.conf"), "per_listener_settings true\n"+
		"listener 1883 127.0.0.1\nallow_anonymous false\n"+
		"listener 1884 127.0.0.1\nallow_anonymous false\npassword_file "+pw+"\n")
	var warned []string
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "no client can connect") {
			warned = append(warned, w.Msg)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], ":1883") {
		t.Errorf("warnings %q, want one for the listener on port 1883", warned)
	}
	b := testutil.StartBroker(t, res.Config)
	addrs := make([]string, 2)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go b.Serve(context.Background(), ln, res.Config.Listeners[i])
		addrs[i] = ln.Addr().String()
	}
	if rc := connackFor(t, addrs[0], "bob1", "bob", "b-pass"); rc != packet.NotAuthorized {
		t.Errorf("listener without password_file: CONNACK %v, want %v", rc, packet.NotAuthorized)
	}
	if rc := connackFor(t, addrs[1], "bob2", "bob", "b-pass"); rc != packet.Success {
		t.Errorf("listener with password_file: CONNACK %v", rc)
	}
	if rc := connackFor(t, addrs[1], "anon", "", ""); rc != packet.NotAuthorized {
		t.Errorf("anonymous client on the listener with password_file: CONNACK %v", rc)
	}
}
