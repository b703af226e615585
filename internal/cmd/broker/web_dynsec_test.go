package broker

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/dynsec"
)

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
