package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/version"
	"github.com/midge-mqtt/midge/web"
)

// mosquittoACL lets alice read the whole API and bob only the version.
const mosquittoACL = `user alice
topic read /api/v1/#
user bob
topic read /api/v1/version
`

// startMosquittoAPI serves a dashboard whose security is a chain of a
// password file and an ACL file, as midge broker builds it.
func startMosquittoAPI(t *testing.T) *httptest.Server {
	t.Helper()
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	pf := passwords(t)
	acl, err := auth.ParseACL(strings.NewReader(mosquittoACL), "acl")
	if err != nil {
		t.Fatal(err)
	}
	port, tlsPort := 1883, 8883
	_, srv := serve(t, web.Config{Broker: b.Server, History: 5}, web.HandlerConfig{
		Passwords: func() web.Passwords { return pf },
		Admins:    func() []string { return nil },
		Security:  &broker.Security{Authenticators: []broker.Authenticator{pf}, Authorizers: []broker.Authorizer{acl}},
		Listeners: func() []web.Listener {
			return []web.Listener{
				{Port: &port, Protocol: "mqtt", AllowAnonymous: true},
				{Port: &tlsPort, Protocol: "mqtt", TLS: true, MTLS: true},
				{Path: "/run/midge.sock", Protocol: "mqtt"},
				{Port: &port, Protocol: "websockets"},
				{Port: &port, Protocol: "httpapi"},
			}
		},
	})
	return srv
}

// get requests path as user (none if ""), and returns the status, the body
// and the response.
func get(t *testing.T, srv *httptest.Server, method, path, user, password string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	c := &http.Client{Timeout: testutil.Timeout}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

// TestMosquittoAPIJSON compares Mosquitto 2.1's endpoints field by field
// with its JSON (src/http_api.c, src/sys_tree.c of v2.1.2).
func TestMosquittoAPIJSON(t *testing.T) {
	t.Parallel()
	srv := startMosquittoAPI(t)

	code, body, resp := get(t, srv, "GET", "/api/v1/version", "alice", "alice-pw")
	if code != 200 || body != version.Version || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("version: %d %q %v", code, body, resp.Header)
	}

	// {"listeners":[{"port"|"path", "protocol", "tls", "mtls", "allow_anonymous"}]}
	code, body, resp = get(t, srv, "GET", "/api/v1/listeners", "alice", "alice-pw")
	if code != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("listeners: %d %q", code, body)
	}
	var top map[string][]map[string]any
	if err := json.Unmarshal([]byte(body), &top); err != nil || len(top) != 1 {
		t.Fatalf("listeners: %v %q", err, body)
	}
	ls := top["listeners"]
	if len(ls) != 5 {
		t.Fatalf("listeners: %d, want 5: %s", len(ls), body)
	}
	for i, l := range ls {
		keys := make([]string, 0, len(l))
		for k := range l {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		where := "port"
		if i == 2 {
			where = "path"
		}
		if want := []string{"allow_anonymous", "mtls", where, "protocol", "tls"}; !slices.Equal(keys, want) {
			t.Errorf("listener %d fields %v, want %v", i, keys, want)
		}
		_, isNum := l["port"].(float64)
		_, isStr := l["path"].(string)
		_, p := l["protocol"].(string)
		_, tl := l["tls"].(bool)
		_, m := l["mtls"].(bool)
		_, a := l["allow_anonymous"].(bool)
		if !(isNum || isStr) || !p || !tl || !m || !a {
			t.Errorf("listener %d field types: %v", i, l)
		}
	}
	if ls[0]["port"] != 1883.0 || ls[0]["protocol"] != "mqtt" || ls[0]["tls"] != false || ls[0]["allow_anonymous"] != true ||
		ls[1]["tls"] != true || ls[1]["mtls"] != true || ls[2]["path"] != "/run/midge.sock" ||
		ls[3]["protocol"] != "websockets" || ls[4]["protocol"] != "httpapi" {
		t.Errorf("listeners: %s", body)
	}

	// A flat object of $SYS topics to integers: 2.1's metrics without
	// aliases or loads, and the uptime.
	code, body, _ = get(t, srv, "GET", "/api/v1/systree", "alice", "alice-pw")
	if code != 200 {
		t.Fatalf("systree: %d %q", code, body)
	}
	var tree map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &tree); err != nil {
		t.Fatalf("systree: %v %q", err, body)
	}
	want := []string{
		"$SYS/broker/clients/total", "$SYS/broker/clients/maximum", "$SYS/broker/clients/disconnected",
		"$SYS/broker/clients/connected", "$SYS/broker/clients/expired", "$SYS/broker/messages/stored",
		"$SYS/broker/store/messages/bytes", "$SYS/broker/subscriptions/count", "$SYS/broker/shared_subscriptions/count",
		"$SYS/broker/retained messages/count", "$SYS/broker/heap/current", "$SYS/broker/heap/maximum",
		"$SYS/broker/messages/received", "$SYS/broker/messages/sent", "$SYS/broker/bytes/received", "$SYS/broker/bytes/sent",
		"$SYS/broker/publish/bytes/received", "$SYS/broker/publish/bytes/sent", "$SYS/broker/packet/out/count",
		"$SYS/broker/packet/out/bytes", "$SYS/broker/connections/socket/count", "$SYS/broker/publish/messages/dropped",
		"$SYS/broker/publish/messages/received", "$SYS/broker/publish/messages/sent", "$SYS/broker/uptime",
	}
	var got []string
	for k, v := range tree {
		got = append(got, k)
		var n int64
		if err := json.Unmarshal(v, &n); err != nil {
			t.Errorf("systree %s = %s, not an integer", k, v)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("systree topics\n%v\nwant\n%v", got, want)
	}
	var heap int64
	json.Unmarshal(tree["$SYS/broker/heap/current"], &heap)
	if heap <= 0 {
		t.Errorf("heap/current %d", heap)
	}
}

// TestMosquittoAPIAccess: Basic credentials through the authentication
// chain, then a read ACL check on the URL path; GET only.
func TestMosquittoAPIAccess(t *testing.T) {
	t.Parallel()
	srv := startMosquittoAPI(t)
	for _, c := range []struct {
		method, path, user, pw string
		code                   int
		body                   string
	}{
		{"GET", "/api/v1/version", "", "", 401, "Not authorised\n"},
		{"GET", "/api/v1/version", "alice", "wrong", 401, "Not authorised\n"},
		{"GET", "/api/v1/version", "nobody", "x", 401, "Not authorised\n"},
		{"GET", "/api/v1/version", "bob", "bob-pw", 200, version.Version},
		{"GET", "/api/v1/systree", "bob", "bob-pw", 401, "Not authorised\n"},
		{"GET", "/api/v1/listeners", "bob", "bob-pw", 401, "Not authorised\n"},
		{"GET", "/api/v1/systree", "alice", "alice-pw", 200, ""},
		{"POST", "/api/v1/version", "alice", "alice-pw", 405, "Invalid HTTP Method\n"},
		{"DELETE", "/api/v1/systree", "", "", 405, "Invalid HTTP Method\n"},
	} {
		code, body, resp := get(t, srv, c.method, c.path, c.user, c.pw)
		if code != c.code || c.body != "" && body != c.body {
			t.Errorf("%s %s as %q: %d %q, want %d %q", c.method, c.path, c.user, code, body, c.code, c.body)
		}
		if code == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="Mosquitto API"` {
			t.Errorf("%s %s: WWW-Authenticate %q", c.method, c.path, resp.Header.Get("WWW-Authenticate"))
		}
	}
}
