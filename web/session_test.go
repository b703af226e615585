package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/web"
)

// fileEnv is a dashboard whose logins come from a password file on disk,
// read again by reload as the broker does on SIGHUP, with a clock the test
// moves and the broker's log handler at Mosquitto's default log types.
type fileEnv struct {
	*env
	path  string
	pw    atomic.Pointer[auth.PasswordFile]
	clock *testutil.Clock
	log   *testutil.LockedBuffer
}

func startWithFile(t *testing.T, users map[string]string) *fileEnv {
	t.Helper()
	fe := &fileEnv{path: filepath.Join(t.TempDir(), "pw"), clock: testutil.NewClock(time.Now()), log: &testutil.LockedBuffer{}}
	fe.writeFile(t, users)
	fe.reload(t)
	lh, err := logging.New(logging.Options{Types: logging.DefaultTypes, Dests: logging.Stdout, NoTimestamp: true},
		logging.Env{Stdout: fe.log})
	if err != nil {
		t.Fatal(err)
	}
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	w, srv := serve(t, web.Config{Broker: b.Server, BatchInterval: 10 * time.Millisecond,
		StatsInterval: 20 * time.Millisecond, Logger: slog.New(lh), Now: fe.clock.Now},
		web.HandlerConfig{Passwords: func() web.Passwords { return fe.pw.Load() }})
	fe.env = &env{t: t, b: b, web: w, srv: srv}
	return fe
}

// writeFile writes the password file as midge passwd does: a new hash, with
// a new salt, for every user.
func (fe *fileEnv) writeFile(t *testing.T, users map[string]string) {
	t.Helper()
	var b strings.Builder
	for u, p := range users {
		h, err := auth.HashPassword(p, auth.SHA512PBKDF2, 10)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + h + "\n")
	}
	if err := os.WriteFile(fe.path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload reads the password file again, as SIGHUP does.
func (fe *fileEnv) reload(t *testing.T) {
	t.Helper()
	pf, err := auth.LoadPasswordFile(fe.path)
	if err != nil {
		t.Fatal(err)
	}
	fe.pw.Store(pf)
}

// loginAs logs in with password and returns the user and the status.
func (e *env) loginAs(u *user, name, password string) int {
	e.t.Helper()
	var me struct{ CSRF string }
	st := u.do("POST", "/api/v1/login", map[string]string{"username": name, "password": password}, &me)
	u.csrf = me.CSRF
	return st
}

// from returns a user whose connections come from the loopback address ip.
func (e *env) from(ip string) *user {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &user{e: e, c: &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext}}}
}

// A session ends when its user's password changes or the user is removed
// and the file is read again; reading an unchanged file keeps it. An open
// event stream of the session ends too.
func TestSessionEndsWithPasswordChange(t *testing.T) {
	t.Parallel()
	fe := startWithFile(t, map[string]string{"alice": "pw-alice-1", "bob": "pw-bob-1", "carol": "pw-carol-1"})
	e := fe.env
	alice, bob, carol := e.anonymous(), e.anonymous(), e.anonymous()
	for _, l := range []struct {
		u        *user
		name, pw string
	}{{alice, "alice", "pw-alice-1"}, {bob, "bob", "pw-bob-1"}, {carol, "carol", "pw-carol-1"}} {
		if st := e.loginAs(l.u, l.name, l.pw); st != 200 {
			t.Fatalf("login %s: %d", l.name, st)
		}
	}
	// The stream must end within the test's time.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream := alice.events(ctx)
	defer stream.Body.Close()

	// The same file read again: nothing ends.
	fe.reload(t)
	for _, u := range []*user{alice, bob, carol} {
		if st := u.do("GET", "/api/v1/topics", nil, nil); st != 200 {
			t.Errorf("topics after reloading the same file: %d", st)
		}
	}

	// alice's password changes and bob is removed; carol keeps hers (her
	// entry is rewritten, with a new salt, by writeFile: so the test keeps
	// carol's line as it was).
	old, _ := os.ReadFile(fe.path)
	var carolLine string
	for _, l := range strings.Split(string(old), "\n") {
		if strings.HasPrefix(l, "carol:") {
			carolLine = l
		}
	}
	fe.writeFile(t, map[string]string{"alice": "pw-alice-2"})
	f, _ := os.OpenFile(fe.path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(carolLine + "\n")
	f.Close()
	// Before the file is read again, the old sessions still work, as the
	// broker still takes the old passwords.
	if st := alice.do("GET", "/api/v1/topics", nil, nil); st != 200 {
		t.Errorf("alice before reload: %d", st)
	}
	fe.reload(t)
	if st := alice.do("GET", "/api/v1/topics", nil, nil); st != 401 {
		t.Errorf("alice's old session after her password changed: %d, want 401", st)
	}
	if st := alice.do("POST", "/api/v1/publish", map[string]any{"topic": "x", "payload": "1"}, nil); st != 401 {
		t.Errorf("alice's old session publishes: %d, want 401", st)
	}
	if st := bob.do("GET", "/api/v1/topics", nil, nil); st != 401 {
		t.Errorf("bob's session after he was removed: %d, want 401", st)
	}
	if st := carol.do("GET", "/api/v1/topics", nil, nil); st != 200 {
		t.Errorf("carol's session, her entry unchanged: %d, want 200", st)
	}
	// The stream of alice's old session says so and ends.
	body := make([]byte, 0, 4096)
	buf := make([]byte, 4096)
	for !bytes.Contains(body, []byte("event: logout")) {
		n, err := stream.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil && !bytes.Contains(body, []byte("event: logout")) {
			t.Fatalf("stream ended without logout: %v: %s", err, body)
		}
	}
	// The new password logs in; the old does not.
	if st := e.loginAs(e.anonymous(), "alice", "pw-alice-1"); st != 401 {
		t.Errorf("old password: %d", st)
	}
	if st := e.loginAs(alice, "alice", "pw-alice-2"); st != 200 {
		t.Errorf("new password: %d", st)
	}
	if st := alice.do("GET", "/api/v1/topics", nil, nil); st != 200 {
		t.Errorf("alice's new session: %d", st)
	}
}

// Failed logins are throttled per address and per user: 429 with
// Retry-After, without checking the password, until the wait is over.
// Other users from other addresses log in as usual.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	fe := startWithFile(t, map[string]string{"alice": "pw-alice-1", "bob": "pw-bob-1"})
	e := fe.env
	attacker := e.anonymous() // 127.0.0.1
	var status []int
	var retry string
	for range 30 {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/login", strings.NewReader(`{"username":"alice","password":"guess"}`))
		resp, err := attacker.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = append(status, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			retry = resp.Header.Get("Retry-After")
		}
	}
	n401 := 0
	for _, st := range status {
		if st == 401 {
			n401++
		}
	}
	// Five free failures, then the waits: every other try is refused.
	if n401 != 6 || status[29] != 429 {
		t.Errorf("statuses %v: want 6 × 401 then 429", status)
	}
	if secs, err := strconv.Atoi(retry); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q", retry)
	}
	// Even the right password waits: it is not checked.
	if st := e.loginAs(attacker, "alice", "pw-alice-1"); st != 429 {
		t.Errorf("alice's right password while throttled: %d, want 429", st)
	}
	// Basic credentials are logins too.
	req, _ := http.NewRequest("GET", e.srv.URL+"/metrics", nil)
	req.SetBasicAuth("alice", "pw-alice-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("Basic alice while throttled: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another user from another address is not held up; alice is, from
	// anywhere.
	if st := e.loginAs(e.from("127.0.0.2"), "bob", "pw-bob-1"); st != 200 {
		t.Errorf("bob from 127.0.0.2: %d, want 200", st)
	}
	if st := e.loginAs(e.from("127.0.0.3"), "alice", "pw-alice-1"); st != 429 {
		t.Errorf("alice from 127.0.0.3: %d, want 429", st)
	}
	// Many names, each failing once, are throttled by their address.
	for i := range 11 {
		if st := e.loginAs(e.from("127.0.0.4"), "nobody"+strconv.Itoa(i), "x"); st != 401 {
			t.Errorf("unknown user %d from 127.0.0.4: %d, want 401", i, st)
		}
	}
	if st := e.loginAs(e.from("127.0.0.4"), "bob", "pw-bob-1"); st != 429 {
		t.Errorf("bob from 127.0.0.4 after 11 failures there: %d, want 429", st)
	}
	// Once the wait is over, the right password logs in, and forgets
	// alice's failures.
	fe.clock.Advance(time.Minute + time.Second)
	if st := e.loginAs(e.from("127.0.0.3"), "alice", "pw-alice-1"); st != 200 {
		t.Errorf("alice after the wait: %d, want 200", st)
	}
	if st := e.loginAs(e.from("127.0.0.5"), "alice", "wrong"); st != 401 {
		t.Errorf("alice's first failure afresh: %d, want 401", st)
	}
	log := fe.log.String()
	if !strings.Contains(log, "too many failed logins") || strings.Contains(log, "guess") || strings.Contains(log, "pw-alice-1") {
		t.Errorf("log:\n%s", log)
	}
}

// The dashboard's log lines carry the user and the address at Mosquitto's
// default log types, not only at debug, and never the password.
func TestLogDetails(t *testing.T) {
	t.Parallel()
	fe := startWithFile(t, map[string]string{"alice": "pw-alice-1"})
	e := fe.env
	if st := e.loginAs(e.anonymous(), "alice", "secret-guess"); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	u := e.anonymous()
	if st := e.loginAs(u, "alice", "pw-alice-1"); st != 200 {
		t.Fatalf("login: %d", st)
	}
	u.do("POST", "/api/v1/publish", map[string]any{"topic": "t/1", "payload": "hi"}, nil)
	log := fe.log.String()
	for _, want := range []string{
		`web: failed login as "alice" from 127.0.0.1:`,
		`web: login as "alice" from 127.0.0.1:`,
		`web: "alice" from 127.0.0.1:`,
		`published 2 bytes to "t/1"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "secret-guess") || strings.Contains(log, "pw-alice-1") {
		t.Errorf("log shows a password:\n%s", log)
	}
}
