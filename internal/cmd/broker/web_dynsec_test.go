package broker

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/dynsec"
)

// TestWebLoginDynsec runs the broker with dynamic security and an http_api
// listener but no password file: dynamic security's clients log in to the
// dashboard through the authentication chain, http_api_admin names the
// administrators, and a new password ends the sessions made with the old.
func TestWebLoginDynsec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	init := filepath.Join(dir, "init")
	os.WriteFile(init, []byte("admin-password-1\n"), 0o600)
	web := freePort(t)
	b, _ := runConf(t, "log_dest none\nhttp_api_admin admin\nlistener PORT 127.0.0.1\nallow_anonymous false\n"+
		"plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\n"+
		"plugin_opt_config_file "+filepath.Join(dir, "dynsec.json")+"\nplugin_opt_password_init_file "+init+"\n"+
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
	client := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 5 * time.Second}
	}
	call := func(hc *http.Client, method, path string, body any, out any) int {
		t.Helper()
		var r io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			r = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, "http://127.0.0.1:"+web+path, r)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	login := func(hc *http.Client, user, pw string) (int, me) {
		var m me
		st := call(hc, "POST", "/api/v1/login", map[string]string{"username": user, "password": pw}, &m)
		return st, m
	}
	admin, bob := client(), client()
	if st := call(admin, "GET", "/api/v1/topics", nil, nil); st != 401 {
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
	if st := call(bob, "GET", "/api/v1/topics", nil, nil); st != 200 {
		t.Errorf("bob's session: %d", st)
	}
	// A new password (or disabling the client) ends the sessions.
	ds.Execute(dynsec.Requester{ClientID: "test"}, []byte(`{"commands":[{"command":"setClientPassword","username":"bob","password":"new-pw"}]}`))
	if st := call(bob, "GET", "/api/v1/topics", nil, nil); st != 401 {
		t.Errorf("bob's session after a new password: %d, want 401", st)
	}
	if st, _ := login(bob, "bob", "new-pw"); st != 200 {
		t.Errorf("login with the new password: %d", st)
	}
	ds.Execute(dynsec.Requester{ClientID: "test"}, []byte(`{"commands":[{"command":"disableClient","username":"bob"}]}`))
	if st := call(bob, "GET", "/api/v1/topics", nil, nil); st != 401 {
		t.Errorf("bob's session after disableClient: %d, want 401", st)
	}
}
