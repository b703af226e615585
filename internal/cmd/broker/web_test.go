//go:build unix

package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestWebListener runs the broker with an http_api listener: logins from
// the password file, actions that reach the broker, and http_api_admin
// reloaded on SIGHUP.
func TestWebListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	midgePasswd(t, "-c", "-b", filepath.Join(dir, "pw"), "alice", "alice-pw")
	midgePasswd(t, "-b", filepath.Join(dir, "pw"), "bob", "bob-pw")
	mqtt, port := freePort(t), freePort(t)
	logf := filepath.Join(dir, "m.log")
	text := "password_file " + dir + "/pw\nhttp_api_admin alice\nlog_dest file " + logf + "\n" +
		"listener " + mqtt + " 127.0.0.1\nlistener " + port + " 127.0.0.1\nprotocol http_api\n"
	conf := testutil.WriteFile(t, dir, "m.conf", text)
	b, stop := startInProcess(t, conf, logf)
	call := newWebClient(t, port).call
	if st := call("GET", "/healthz", "", nil, nil); st != 200 {
		t.Errorf("healthz %d", st)
	}
	if st := call("GET", "/api/v1/topics", "", nil, nil); st != 401 {
		t.Errorf("topics without login: %d", st)
	}
	var me struct {
		Admin bool
		CSRF  string
	}
	if st := call("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "alice-pw"}, &me); st != 200 || !me.Admin {
		t.Fatalf("login: %d %+v", st, me)
	}
	if st := call("POST", "/api/v1/publish", me.CSRF, map[string]any{"topic": "home/x", "payload": "1", "retain": true}, nil); st != 200 {
		t.Errorf("publish %d", st)
	}
	n := 0
	b.srv.Load().RetainedMessages("home/x", func(*broker.Message) bool { n++; return true })
	if n != 1 {
		t.Errorf("retained after publish: %d", n)
	}

	// SIGHUP: alice is no longer an administrator.
	os.WriteFile(conf, []byte(strings.Replace(text, "http_api_admin alice", "http_api_admin bob", 1)), 0o644)
	b.reload()
	if st := call("GET", "/api/v1/clients", "", nil, nil); st != 403 {
		t.Errorf("clients after alice lost admin: %d, want 403", st)
	}

	// midge passwd gives alice a new password: after SIGHUP her session
	// ends, and the new password logs in.
	midgePasswd(t, "-b", dir+"/pw", "alice", "alice-new")
	if st := call("GET", "/api/v1/topics", "", nil, nil); st != 200 {
		t.Errorf("topics before the reload: %d", st)
	}
	b.reload()
	if st := call("GET", "/api/v1/topics", "", nil, nil); st != 401 {
		t.Errorf("topics with the session of alice's old password: %d, want 401", st)
	}
	if st := call("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "alice-new"}, nil); st != 200 {
		t.Errorf("login with the new password: %d", st)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	log := readOrEmpty(logf)
	if !strings.Contains(log, "Opening http_api listen socket on 127.0.0.1:"+port+" (http).") || strings.Contains(log, "alice-pw") || strings.Contains(log, "alice-new") {
		t.Errorf("log:\n%s", log)
	}
}

// TestWebListenerRefusedWithoutUsers: an http_api listener on every
// interface without a password file stops start-up with a clear message.
func TestWebListenerRefusedWithoutUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "m.conf")
	os.WriteFile(conf, []byte("listener "+freePort(t)+"\nprotocol http_api\n"), 0o644)
	code, _, errs := runIn(t, "-c", conf)
	if code != exitInvalid || !strings.Contains(errs, "has no password_file") || !strings.Contains(errs, "loopback address") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestWebLoginDynsec runs the broker with dynamic security and an http_api
// listener but no password file: dynamic security's clients log in to the
// dashboard through the authentication chain, http_api_admin names the
// administrators, and a new password ends the sessions made with the old.
func TestWebLoginDynsec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	web := freePort(t)
	b, _ := runConf(t, "log_dest none\nhttp_api_admin admin\nlistener PORT 127.0.0.1\nallow_anonymous false\n"+
		dynsecConf(t, dir, filepath.Join(dir, "dynsec.json"))+
		"listener "+web+" 127.0.0.1\nprotocol http_api\n")
	ds := b.dynsecOf()
	if r := ds.Execute(dynsec.Requester{ClientID: "test"}, []byte(`{"commands":[{"command":"createClient","username":"bob","password":"bob-pw"}]}`)); strings.Contains(string(r), "error") {
		t.Fatalf("createClient: %s", r)
	}
	type me struct {
		LoggedIn bool
		Admin    bool
		CSRF     string
	}
	client := func() *webClient { return newWebClient(t, web) }
	login := func(hc *webClient, user, pw string) (int, me) {
		var m me
		st := hc.call("POST", "/api/v1/login", "", map[string]string{"username": user, "password": pw}, &m)
		return st, m
	}
	admin, bob := client(), client()
	if st := admin.call("GET", "/api/v1/topics", "", nil, nil); st != 401 {
		t.Errorf("topics without login: %d, want 401", st)
	}
	if st, m := login(admin, "admin", "admin-password-1"); st != 200 || !m.Admin {
		t.Fatalf("admin login: %d %+v", st, m)
	}
	if st, m := login(bob, "bob", "bob-pw"); st != 200 || m.Admin {
		t.Fatalf("bob login: %d %+v (bob is not in http_api_admin)", st, m)
	}
	for _, bad := range [][2]string{{"admin", "wrong"}, {"nobody", "x"}} {
		if st, _ := login(client(), bad[0], bad[1]); st != 401 {
			t.Errorf("login %s/%s: %d, want 401", bad[0], bad[1], st)
		}
	}
	if st := bob.call("GET", "/api/v1/topics", "", nil, nil); st != 200 {
		t.Errorf("bob's session: %d", st)
	}
	// A new password (or disabling the client) ends the sessions.
	ds.Execute(dynsec.Requester{ClientID: "test"}, []byte(`{"commands":[{"command":"setClientPassword","username":"bob","password":"new-pw"}]}`))
	if st := bob.call("GET", "/api/v1/topics", "", nil, nil); st != 401 {
		t.Errorf("bob's session after a new password: %d, want 401", st)
	}
	if st, _ := login(bob, "bob", "new-pw"); st != 200 {
		t.Errorf("login with the new password: %d", st)
	}
	ds.Execute(dynsec.Requester{ClientID: "test"}, []byte(`{"commands":[{"command":"disableClient","username":"bob"}]}`))
	if st := bob.call("GET", "/api/v1/topics", "", nil, nil); st != 401 {
		t.Errorf("bob's session after disableClient: %d, want 401", st)
	}
}
