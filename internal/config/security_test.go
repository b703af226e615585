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

// wantConnack connects a client as connackFor does and reports (as what)
// a CONNACK code other than want; it returns whether the code was want.
func wantConnack(t *testing.T, addr, what, id, user, password string, want packet.ReasonCode) bool {
	t.Helper()
	if rc := connackFor(t, addr, id, user, password); rc != want {
		t.Errorf("%s: CONNACK %v, want %v", what, rc, want)
		return false
	}
	return true
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

// TestNoPasswordFile checks a configuration without password_file. With
// allow_anonymous false Mosquitto refuses every client, with or without a
// user name, and says so at start-up: the regression test for an
// authentication that failed open, when midge admitted any client that sent
// a user name. With allow_anonymous true, clients connect with or without a
// user name, as in Mosquitto.
func TestNoPasswordFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		anonymous string
		want      packet.ReasonCode
	}{
		{"false", packet.NotAuthorized},
		{"true", packet.Success},
	} {
		t.Run("allow_anonymous "+tc.anonymous, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			res := loadFile(t, filepath.Join(dir, "m.conf"), "listener 1883 127.0.0.1\nallow_anonymous "+tc.anonymous+"\n")
			var warned bool
			for _, w := range res.Warnings {
				warned = warned || strings.Contains(w.Msg, "no client can connect")
			}
			if tc.want == packet.NotAuthorized && !warned {
				t.Errorf("no warning that no client can connect: %v", res.Warnings)
			}
			b := testutil.StartBroker(t, res.Config)
			wantConnack(t, b.Addr, "anonymous client", "anon", "", "", tc.want)
			wantConnack(t, b.Addr, "client with a user name", "bob", "bob", "anything", tc.want)
		})
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
	if !wantConnack(t, b.Addr, "bob before the reload", "bob1", "bob", "b-pass", packet.Success) {
		t.FailNow()
	}
	if !wantConnack(t, b.Addr, "unknown user before the reload", "eve1", "eve", "x", packet.NotAuthorized) {
		t.FailNow()
	}
	next := loadFile(t, conf, "listener 1883 127.0.0.1\nallow_anonymous false\n")
	config.Reload(cur, next)
	wantConnack(t, b.Addr, "bob after the reload", "bob2", "bob", "b-pass", packet.NotAuthorized)
	wantConnack(t, b.Addr, "unknown user after the reload", "eve2", "eve", "x", packet.NotAuthorized)
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
	wantConnack(t, addrs[0], "listener without password_file", "bob1", "bob", "b-pass", packet.NotAuthorized)
	wantConnack(t, addrs[1], "listener with password_file", "bob2", "bob", "b-pass", packet.Success)
	wantConnack(t, addrs[1], "anonymous client on the listener with password_file", "anon", "", "", packet.NotAuthorized)
}

// A password file's lines Mosquitto leaves out become warnings logged as
// Mosquitto logs them, verbatim, and do not stop the configuration.
func TestPasswordFileSkippedLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	writePasswords(t, pw, "alice", "a")
	f, err := os.OpenFile(pw, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(":x\nbob:plain\n")
	f.Close()
	res := loadFile(t, filepath.Join(dir, "m.conf"), "listener 1883\npassword_file "+pw+"\n")
	want := []config.Warning{
		{Pos: config.Position{File: pw, Line: 2}, Msg: "Warning: Invalid line in password file '" + pw + "': :x", Verbatim: true, Notice: true},
		{Pos: config.Position{File: pw, Line: 3}, Msg: "Error: Invalid password hash type for user bob, removing entry.", Verbatim: true, Error: true},
	}
	var got []config.Warning
	for _, w := range res.Warnings {
		if w.Verbatim {
			got = append(got, w)
		}
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("warnings %+v, want %+v", got, want)
	}
	if got[1].String() != want[1].Msg {
		t.Errorf("String() = %q, want the message alone", got[1].String())
	}
}
