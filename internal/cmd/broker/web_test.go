//go:build unix

package broker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/passwd"
)

// TestWebListener runs the broker with an http_api listener: logins from
// the password file, actions that reach the broker, and http_api_admin
// reloaded on SIGHUP.
func TestWebListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var pw strings.Builder
	for _, u := range []string{"alice", "bob"} {
		h, err := auth.HashPassword(u+"-pw", auth.SHA512PBKDF2, 10)
		if err != nil {
			t.Fatal(err)
		}
		pw.WriteString(u + ":" + h + "\n")
	}
	os.WriteFile(filepath.Join(dir, "pw"), []byte(pw.String()), 0o600)
	mqtt, port := freePort(t), freePort(t)
	conf := filepath.Join(dir, "m.conf")
	logf := filepath.Join(dir, "m.log")
	text := "password_file " + dir + "/pw\nhttp_api_admin alice\nlog_dest file " + logf + "\n" +
		"listener " + mqtt + " 127.0.0.1\nlistener " + port + " 127.0.0.1\nprotocol http_api\n"
	os.WriteFile(conf, []byte(text), 0o644)
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
	var pwOut, pwErr bytes.Buffer
	if code := passwd.Run(context.Background(), "midge passwd", []string{"-b", dir + "/pw", "alice", "alice-new"}, base.Streams{In: strings.NewReader(""), Out: &pwOut, Err: &pwErr}); code != 0 {
		t.Fatalf("midge passwd: %d %s", code, pwErr.String())
	}
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
