package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/web"
)

// env is a broker with a dashboard on an httptest server.
type env struct {
	t   *testing.T
	b   *testutil.Broker
	web *web.Server
	srv *httptest.Server
}

const aclText = `user alice
topic readwrite #
user bob
topic read home/#
topic write home/bob/#
`

func passwords(t testing.TB) *auth.PasswordFile {
	t.Helper()
	var b strings.Builder
	for _, u := range []string{"alice", "bob"} {
		h, err := auth.HashPassword(u+"-pw", auth.SHA512PBKDF2, 10)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	pf, err := auth.ParsePasswords(strings.NewReader(b.String()), "pw")
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// start starts a broker and a dashboard; with logins, alice is an
// administrator and bob is not.
func start(t *testing.T, logins bool) *env {
	t.Helper()
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	var hc web.HandlerConfig
	if logins {
		pf := passwords(t)
		acl, err := auth.ParseACL(strings.NewReader(aclText), "acl")
		if err != nil {
			t.Fatal(err)
		}
		hc.Passwords = func() web.Passwords { return pf }
		hc.Admins = func() []string { return []string{"alice"} }
		hc.Security = &broker.Security{Authorizers: []broker.Authorizer{acl}}
	}
	w, srv := serve(t, web.Config{Broker: b.Server, BatchInterval: 10 * time.Millisecond, StatsInterval: 20 * time.Millisecond, History: 5}, hc)
	return &env{t: t, b: b, web: w, srv: srv}
}

// serve starts a dashboard configured by cfg and serves its handler,
// configured by hc with Local and LoopbackTCP set, on an httptest server;
// both are closed when the test ends.
func serve(t *testing.T, cfg web.Config, hc web.HandlerConfig) (*web.Server, *httptest.Server) {
	t.Helper()
	w, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	hc.Local, hc.LoopbackTCP = true, true
	h, err := w.Handler(hc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return w, srv
}

// user is an HTTP client with its own cookies.
type user struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) anonymous() *user {
	jar, _ := cookiejar.New(nil)
	return &user{e: e, c: &http.Client{Jar: jar}}
}

func (e *env) login(name string) *user {
	e.t.Helper()
	u := e.anonymous()
	var me struct {
		LoggedIn bool
		Admin    bool
		CSRF     string
	}
	if st := u.do("POST", "/api/v1/login", map[string]string{"username": name, "password": name + "-pw"}, &me); st != 200 || !me.LoggedIn {
		e.t.Fatalf("login %s: %d %+v", name, st, me)
	}
	u.csrf = me.CSRF
	return u
}

// events opens the live stream (/api/v1/events) as u, until ctx ends.
func (u *user) events(ctx context.Context) *http.Response {
	u.e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", u.e.srv.URL+"/api/v1/events", nil)
	if err != nil {
		u.e.t.Fatal(err)
	}
	resp, err := u.c.Do(req)
	if err != nil {
		u.e.t.Fatal(err)
	}
	return resp
}

// do sends a request with the CSRF token (if any) and decodes the JSON
// answer into out; it returns the status.
func (u *user) do(method, path string, body any, out any, hdr ...string) int {
	u.e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u.e.srv.URL+path, r)
	if err != nil {
		u.e.t.Fatal(err)
	}
	if u.csrf != "" {
		req.Header.Set("X-CSRF-Token", u.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := u.c.Do(req)
	if err != nil {
		u.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			u.e.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

type topicResp struct {
	Topic    string
	Count    int
	Retained bool
	History  []struct {
		Payload, Encoding, Publisher string
		QoS                          byte
		Retain                       bool
		Properties                   *struct {
			ContentType    string
			UserProperties []struct{ Key, Value string }
		}
	}
}

func (u *user) topic(name string) (topicResp, int) {
	var tr topicResp
	st := u.do("GET", "/api/v1/topic?name="+name, nil, &tr)
	return tr, st
}

func TestOpenLoopbackListener(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	u := e.anonymous()
	var me struct {
		Auth     string
		LoggedIn bool
		Admin    bool
		CSRF     string
	}
	if st := u.do("GET", "/api/v1/me", nil, &me); st != 200 || me.Auth != "open" || !me.Admin || !me.LoggedIn || me.CSRF == "" {
		t.Fatalf("me: %d %+v", st, me)
	}
	if st := u.do("GET", "/api/v1/clients", nil, nil); st != 200 {
		t.Errorf("clients without login: %d", st)
	}
	// DNS rebinding: a page of another name that resolves to 127.0.0.1.
	if st := u.do("GET", "/api/v1/clients", nil, nil, "Host", "evil.example:80"); st != 403 {
		t.Errorf("clients for Host evil.example: %d, want 403", st)
	}
	if st := u.do("GET", "/api/v1/me", nil, nil, "Host", "localhost:1234"); st != 200 {
		t.Errorf("Host localhost: %d", st)
	}
	// Actions need the token even without logins.
	pub := map[string]any{"topic": "a/b", "payload": "1"}
	if st := u.do("POST", "/api/v1/publish", pub, nil); st != 403 {
		t.Errorf("publish without the CSRF token: %d, want 403", st)
	}
	u.csrf = me.CSRF
	if st := u.do("POST", "/api/v1/publish", pub, nil); st != 200 {
		t.Errorf("publish with the token: %d", st)
	}
	if st := u.do("POST", "/api/v1/publish", pub, nil, "Origin", "http://evil.example"); st != 403 {
		t.Errorf("publish from another origin: %d, want 403", st)
	}
	if st := u.do("POST", "/api/v1/publish", pub, nil, "Sec-Fetch-Site", "cross-site"); st != 403 {
		t.Errorf("cross-site publish: %d, want 403", st)
	}
	if st := u.do("POST", "/api/v1/publish", pub, nil, "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"); st != 200 {
		t.Errorf("same-origin publish: %d", st)
	}
}

func TestOpenListenerMustBeLocal(t *testing.T) {
	t.Parallel()
	b := testutil.StartBroker(t, broker.Config{})
	w, err := web.New(web.Config{Broker: b.Server})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Handler(web.HandlerConfig{}); !errors.Is(err, web.ErrOpenListener) {
		t.Errorf("Handler for an open network listener: %v, want ErrOpenListener", err)
	}
	pf := passwords(t)
	if _, err := w.Handler(web.HandlerConfig{Passwords: func() web.Passwords { return pf }}); err != nil {
		t.Errorf("Handler with logins: %v", err)
	}
}

func TestLoginRequired(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	u := e.anonymous()
	for _, p := range []string{"/api/v1/topics", "/api/v1/topic?name=a", "/api/v1/clients", "/api/v1/stats", "/api/v1/events", "/metrics"} {
		if st := u.do("GET", p, nil, nil); st != 401 {
			t.Errorf("GET %s without login: %d, want 401", p, st)
		}
	}
	for _, p := range []string{"/healthz", "/", "/ui/app.js", "/ui/style.css"} {
		if st := u.do("GET", p, nil, nil); st != 200 {
			t.Errorf("GET %s: %d, want 200", p, st)
		}
	}
	var me struct{ Auth string }
	if st := u.do("GET", "/api/v1/me", nil, &me); st != 200 || me.Auth != "login" {
		t.Errorf("me: %d %+v", st, me)
	}
	var bad struct{ Error string }
	if st := u.do("POST", "/api/v1/login", map[string]string{"username": "alice", "password": "wrong"}, &bad); st != 401 || bad.Error == "" {
		t.Errorf("wrong password: %d %+v", st, bad)
	}
	if st := u.do("POST", "/api/v1/login", map[string]string{"username": "mallory", "password": "x"}, nil); st != 401 {
		t.Errorf("unknown user: %d", st)
	}
	if st := u.do("POST", "/api/v1/login", map[string]string{"username": "alice", "password": "alice-pw"}, nil, "Origin", "http://evil.example"); st != 403 {
		t.Errorf("cross-origin login: %d, want 403", st)
	}
	if st := u.do("GET", "/api/v1/topics", nil, nil); st != 401 {
		t.Errorf("topics after failed logins: %d", st)
	}

	// The session cookie.
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/login", strings.NewReader(`{"username":"alice","password":"alice-pw"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Secure || cs[0].Path != "/" || len(cs[0].Value) < 40 {
		t.Errorf("cookie %+v", cs)
	}

	a := e.login("alice")
	if st := a.do("GET", "/api/v1/topics", nil, nil); st != 200 {
		t.Errorf("topics after login: %d", st)
	}
	if st := a.do("POST", "/api/v1/logout", nil, nil); st != 200 {
		t.Errorf("logout: %d", st)
	}
	if st := a.do("GET", "/api/v1/topics", nil, nil); st != 401 {
		t.Errorf("topics after logout: %d, want 401", st)
	}

	// Basic credentials read (scrapers, scripts) but cannot act.
	basic := func(method, path string) int {
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(`{"topic":"x","payload":"1"}`))
		req.SetBasicAuth("alice", "alice-pw")
		req.Header.Set("X-CSRF-Token", "anything")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := basic("GET", "/metrics"); st != 200 {
		t.Errorf("metrics with Basic: %d", st)
	}
	if st := basic("POST", "/api/v1/publish"); st != 401 {
		t.Errorf("publish with Basic: %d, want 401", st)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	a := e.login("alice")
	pub := map[string]any{"topic": "home/x", "payload": "1"}
	token := a.csrf
	a.csrf = ""
	if st := a.do("POST", "/api/v1/publish", pub, nil); st != 403 {
		t.Errorf("without token: %d, want 403", st)
	}
	a.csrf = token + "x"
	if st := a.do("POST", "/api/v1/publish", pub, nil); st != 403 {
		t.Errorf("wrong token: %d, want 403", st)
	}
	// Another user's token does not do either.
	a.csrf = e.login("bob").csrf
	if st := a.do("POST", "/api/v1/publish", pub, nil); st != 403 {
		t.Errorf("bob's token with alice's cookie: %d, want 403", st)
	}
	a.csrf = token
	if st := a.do("POST", "/api/v1/publish", pub, nil, "Origin", "http://evil.example"); st != 403 {
		t.Errorf("foreign Origin: %d, want 403", st)
	}
	if st := a.do("POST", "/api/v1/disconnect", map[string]string{"clientId": "x"}, nil, "Sec-Fetch-Site", "same-site"); st != 403 {
		t.Errorf("same-site (not same-origin): %d, want 403", st)
	}
	if st := a.do("POST", "/api/v1/publish", pub, nil, "Origin", e.srv.URL); st != 200 {
		t.Errorf("with token and own Origin: %d", st)
	}
	if st := a.do("POST", "/api/v1/logout", nil, nil, "Origin", "http://evil.example"); st != 403 {
		t.Errorf("cross-origin logout: %d, want 403", st)
	}
}

func TestAdminOnly(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	b := e.login("bob")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/clients", nil},
		{"POST", "/api/v1/disconnect", map[string]string{"clientId": "x"}},
		{"POST", "/api/v1/retained/delete", map[string]any{"topic": "home", "subtree": true}},
		{"POST", "/api/v1/acl", map[string]string{"username": "bob", "topic": "a", "access": "read"}},
	} {
		var er struct{ Error string }
		if st := b.do(c.method, c.path, c.body, &er); st != 403 || !strings.Contains(er.Error, "administrators") {
			t.Errorf("bob %s %s: %d %q, want 403", c.method, c.path, st, er.Error)
		}
	}
	// bob publishes where the ACL lets him, and sees what he may read.
	if st := b.do("POST", "/api/v1/publish", map[string]any{"topic": "home/bob/lamp", "payload": "on", "retain": true}, nil); st != 200 {
		t.Errorf("bob publishes to home/bob/lamp: %d", st)
	}
	if st := b.do("POST", "/api/v1/publish", map[string]any{"topic": "home/alice/lamp", "payload": "on"}, nil); st != 403 {
		t.Errorf("bob publishes to home/alice/lamp: %d, want 403", st)
	}
	a := e.login("alice")
	if st := a.do("POST", "/api/v1/publish", map[string]any{"topic": "office/door", "payload": "open", "retain": true}, nil); st != 200 {
		t.Errorf("alice publishes: %d", st)
	}
	testutil.WaitFor(t, "both topics", func() bool {
		_, s1 := a.topic("office/door")
		_, s2 := a.topic("home/bob/lamp")
		return s1 == 200 && s2 == 200
	})
	if _, st := b.topic("office/door"); st != 404 {
		t.Errorf("bob reads office/door: %d, want 404", st)
	}
	var snap struct{ U []struct{ T string } }
	b.do("GET", "/api/v1/topics", nil, &snap)
	if len(snap.U) != 1 || snap.U[0].T != "home/bob/lamp" {
		t.Errorf("bob's topics %+v", snap.U)
	}
	if st := a.do("GET", "/api/v1/clients", nil, nil); st != 200 {
		t.Errorf("alice lists clients: %d", st)
	}
}

func TestPublishHistoryRetainedAndClients(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	a := e.login("alice")

	sub, _ := testutil.Connect(t, e.b.Addr, packet.Version5, "sub1")
	sub.Subscribe(1, "home/#", 1)

	body := map[string]any{"topic": "home/livingroom/setpoint", "payload": `{"t":21}`, "qos": 1, "retain": true,
		"properties": map[string]any{"contentType": "application/json", "payloadFormat": 1,
			"userProperties": []map[string]string{{"key": "by", "value": "test"}}}}
	if st := a.do("POST", "/api/v1/publish", body, nil); st != 200 {
		t.Fatalf("publish: %d", st)
	}
	p := testutil.Expect[*packet.Publish](sub)
	if p.Topic != "home/livingroom/setpoint" || string(p.Payload) != `{"t":21}` || p.Properties.ContentType != "application/json" ||
		len(p.Properties.User) != 1 || p.Properties.User[0].Value != "test" {
		t.Errorf("subscriber got %+v", p)
	}
	if p.QoS == 1 {
		sub.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
	}
	// A device publishes too: the history names each publisher.
	dev, _ := testutil.Connect(t, e.b.Addr, packet.Version311, "thermostat")
	dev.Send(&packet.Publish{Topic: "home/livingroom/setpoint", Payload: []byte(`{"t":22}`)})
	var tr topicResp
	testutil.WaitFor(t, "two messages", func() bool { tr, _ = a.topic("home/livingroom/setpoint"); return tr.Count == 2 })
	if len(tr.History) != 2 || tr.History[0].Publisher != "web:alice" || tr.History[1].Publisher != "thermostat" ||
		tr.History[0].Properties == nil || tr.History[0].Properties.ContentType != "application/json" || !tr.Retained {
		t.Errorf("topic %+v", tr)
	}

	// Binary payloads come as base64.
	a.do("POST", "/api/v1/publish", map[string]any{"topic": "home/raw", "payload": "00ff10", "encoding": "hex", "retain": true}, nil)
	testutil.WaitFor(t, "home/raw", func() bool { tr, _ = a.topic("home/raw"); return tr.Count == 1 })
	if tr.History[0].Encoding != "base64" || tr.History[0].Payload != "AP8Q" {
		t.Errorf("binary %+v", tr.History[0])
	}

	var del struct{ Deleted int }
	if st := a.do("POST", "/api/v1/retained/delete", map[string]any{"topic": "home", "subtree": true}, &del); st != 200 || del.Deleted != 2 {
		t.Errorf("delete subtree: %d %+v", st, del)
	}
	n := 0
	e.b.RetainedMessages("#", func(*broker.Message) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d retained messages left", n)
	}
	testutil.WaitFor(t, "retained flag cleared", func() bool { tr, _ = a.topic("home/raw"); return !tr.Retained })

	var cl struct {
		Clients []struct {
			ClientID      string
			Connected     bool
			Protocol      string
			Username      *string
			Subscriptions []struct{ Filter string }
		}
	}
	a.do("GET", "/api/v1/clients", nil, &cl)
	if len(cl.Clients) != 2 || cl.Clients[0].ClientID != "sub1" || cl.Clients[0].Protocol != "MQTT 5.0" ||
		len(cl.Clients[0].Subscriptions) != 1 || cl.Clients[0].Subscriptions[0].Filter != "home/#" || cl.Clients[1].Username != nil {
		t.Errorf("clients %+v", cl)
	}
	var dis struct{ Disconnected bool }
	if st := a.do("POST", "/api/v1/disconnect", map[string]string{"clientId": "sub1"}, &dis); st != 200 || !dis.Disconnected {
		t.Errorf("disconnect: %d %+v", st, dis)
	}
	sub.ExpectClosed()
	if st := a.do("POST", "/api/v1/publish", map[string]any{"topic": "a/+", "payload": "x"}, nil); st != 400 {
		t.Errorf("publish to a filter: %d, want 400", st)
	}
	if st := a.do("POST", "/api/v1/publish", map[string]any{"topic": "$SYS/x", "payload": "x"}, nil); st != 400 {
		t.Errorf("publish to $SYS: %d, want 400", st)
	}
}

func TestACLTester(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	a := e.login("alice")
	var d broker.Decision
	if st := a.do("POST", "/api/v1/acl", map[string]any{"username": "bob", "clientId": "c", "topic": "home/alice/lamp", "access": "write"}, &d); st != 200 ||
		d.Allowed || d.Reason == "" {
		t.Errorf("bob writes home/alice/lamp: %d %+v", st, d)
	}
	a.do("POST", "/api/v1/acl", map[string]any{"username": "bob", "clientId": "c", "topic": "home/bob/lamp", "access": "write"}, &d)
	if !d.Allowed || d.Rule != "topic write home/bob/#" || d.Section != `user "bob"` {
		t.Errorf("bob writes home/bob/lamp: %+v", d)
	}
	a.do("POST", "/api/v1/acl", map[string]any{"username": "alice", "topic": "$SYS/broker/x", "access": "write"}, &d)
	if d.Allowed {
		t.Errorf("$SYS write allowed: %+v", d)
	}
	if st := a.do("POST", "/api/v1/acl", map[string]any{"topic": "a/#", "access": "read"}, nil); st != 400 {
		t.Errorf("filter: %d, want 400", st)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	c, _ := testutil.Connect(t, e.b.Addr, packet.Version311, "m1")
	c.Send(&packet.Publish{Topic: "x", Payload: []byte("1")})
	c.Send(&packet.Pingreq{})
	testutil.Expect[*packet.Pingresp](c)
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE midge_clients_connected gauge\nmidge_clients_connected 1\n",
		"# TYPE midge_messages_received_total counter\nmidge_messages_received_total ",
		"midge_publish_received_total 1\n",
		`midge_listener_clients_connected{listener="` + e.b.Addr + `"} 1`,
		"midge_web_observed_messages_total",
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestEvents reads the live stream: a hello, then the batch with a new
// topic.
func TestEvents(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	a := e.login("alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := a.events(ctx)
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = line[7:]
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{name, line[6:]}
			}
		}
		close(events)
	}()
	next := func(want string) string {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream ended waiting for %s", want)
				}
				if ev[0] == want {
					return ev[1]
				}
			case <-timeout:
				t.Fatalf("no %s event", want)
			}
		}
	}
	next("hello")
	a.do("POST", "/api/v1/publish", map[string]any{"topic": "sensors/t", "payload": "21.5"}, nil)
	for found := false; !found; {
		data := next("topics")
		var ev struct {
			U []struct {
				T, V, P string
				N       int
			}
		}
		json.Unmarshal([]byte(data), &ev)
		for _, u := range ev.U {
			if u.T == "sensors/t" {
				found = true
				if u.N != 1 || u.V != "21.5" || u.P != "web:alice" {
					t.Errorf("update %+v", u)
				}
			}
		}
	}
	next("stats")
	// Logging out ends the stream.
	a.do("POST", "/api/v1/logout", nil, nil)
	next("logout")
	cancel()
	wg.Wait()
}

// TestDashboardUnderLoad publishes to 10,000 topics through the broker and
// checks that the dashboard keeps up within its bounds, and that a full
// queue drops (and counts) instead of blocking the publishers.
func TestDashboardUnderLoad(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	const topics = 10_000
	for i := range topics {
		m := &broker.Message{Topic: fmt.Sprintf("load/%d/%d", i%50, i), Payload: []byte(`{"v":1.5}`)}
		if err := e.b.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "the aggregator", func() bool { return web.Settled(e.web) })
	u := e.anonymous()
	var snap struct {
		U       []struct{ T string }
		Total   int
		Dropped uint64
	}
	u.do("GET", "/api/v1/topics", nil, &snap) // gzip, as Go's client asks for it
	if snap.Total+int(snap.Dropped) < topics || len(snap.U) != snap.Total {
		t.Errorf("%d topics, %d rows, %d dropped", snap.Total, len(snap.U), snap.Dropped)
	}

	// Stall the aggregator: the queue fills and further messages are
	// dropped and counted, without blocking Publish.
	w, err := web.New(web.Config{Broker: e.b.Server, QueueLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	web.Lock(w)
	for i := range 100 {
		e.b.Publish(ctx, &broker.Message{Topic: fmt.Sprintf("stall/%d", i), Payload: []byte("x")})
	}
	if d := w.Dropped(); d < 100-5 {
		t.Errorf("%d dropped, want at least 95", d)
	}
	web.Unlock(w)
	testutil.WaitFor(t, "the stalled aggregator", func() bool { return web.Settled(w) })
}
