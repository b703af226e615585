package interop_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// logWait bounds the wait for the log line about a refused connection: the
// broker writes it as it closes the connection, which the client has seen
// by then.
const logWait = 2 * time.Second

// tlsFiles are a CA certificate and a server certificate and key it issued,
// copied where the broker can read them.
type tlsFiles struct {
	ca, cert, key string
}

// newTLSFiles issues a server certificate from pki and copies it, its key
// and pki's CA certificate into dir as NAME-ca.crt, NAME.crt and NAME.key.
func newTLSFiles(t *testing.T, dir string, pki *testutil.PKI, name string) tlsFiles {
	t.Helper()
	c := pki.Server("broker")
	return tlsFiles{
		ca:   copyFile(t, pki.CAFile, dir, name+"-ca.crt"),
		cert: copyFile(t, c.CertFile, dir, name+".crt"),
		key:  copyFile(t, c.KeyFile, dir, name+".key"),
	}
}

// listener returns the mosquitto.conf lines of a TLS listener on port with
// f's certificate and key, then extra lines.
func (f tlsFiles) listener(port string, extra ...string) string {
	return "listener " + port + " 127.0.0.1\ncertfile " + f.cert + "\nkeyfile " + f.key + "\n" + strings.Join(extra, "")
}

// certArgs are the mosquitto_pub/mosquitto_sub options that present c.
func certArgs(c testutil.Cert) []string { return []string{"--cert", c.CertFile, "--key", c.KeyFile} }

// exitCode waits for the process to end and returns its exit status.
func (p *proc) exitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		p.t.Fatalf("%s still running after %v\n%s", p.name, waitTimeout, p.output())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	p.t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

// stderrText returns what the process wrote to stderr so far.
func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// wantRefusedTLS checks that a mosquitto client was refused during the TLS
// handshake: it exits with an error, never sees a CONNACK, and prints
// OpenSSL's error line with one of alerts (the broker's TLS alert, or the
// client's own verification error). When the broker's alert arrives only after
// libmosquitto sent CONNECT on a finished TLS 1.3 handshake, the client may
// instead report "Error: Protocol error" (as it does against Mosquitto),
// which is accepted too.
func wantRefusedTLS(t *testing.T, p *proc, alerts ...string) {
	t.Helper()
	if code := p.exitCode(); code == 0 {
		t.Errorf("%s: exit status 0, want an error\n%s", p.name, p.output())
		return
	}
	out := strings.Join(p.lines(), "\n")
	if strings.Contains(out, "received CONNACK") {
		t.Errorf("%s: got a CONNACK, want the TLS handshake refused\n%s", p.name, p.output())
	}
	for _, a := range alerts {
		if strings.Contains(out, a) {
			return
		}
	}
	if !strings.Contains(p.stderrText(), "Error: Protocol error") {
		t.Errorf("%s: want OpenSSL's %q (or \"Error: Protocol error\")\n%s", p.name, alerts, p.output())
	}
}

// wantLogged checks that the broker logs a refused connection: some line
// after mark other than the "New connection from" every connection gets and
// the lines of the clients named in others. Mosquitto logs "OpenSSL
// Error[0]: ..." and "Client <unknown> disconnected: Protocol error." for a
// failed TLS handshake.
func wantLogged(t *testing.T, b *proc, mark int, what string, others ...string) {
	t.Helper()
	_, ok := b.lineAfter(mark, logWait, func(l string) bool {
		if strings.Contains(l, "New connection from") {
			return false
		}
		for _, id := range others {
			if strings.Contains(l, id) {
				return false
			}
		}
		return true
	})
	if !ok {
		lines := b.lines()
		t.Errorf("the broker did not log the refused connection (%s) within %v; its log since:\n  %s",
			what, logWait, strings.Join(lines[min(mark, len(lines)):], "\n  "))
	}
}

// connectedID returns the client identifier of the nth client (from 1) the
// broker logged as connected: "New client connected from ADDR as ID (...".
func connectedID(t *testing.T, b *proc, n int) string {
	t.Helper()
	l := b.waitLines(n, func(l string) bool { return strings.Contains(l, "New client connected from ") })[n-1]
	_, rest, _ := strings.Cut(l, " as ")
	id, _, _ := strings.Cut(rest, " (")
	return id
}

// TestTLSServerCertificate runs mosquitto_sub and mosquitto_pub with
// --cafile against a TLS listener (certfile, keyfile) of "midge broker -c
// mosquitto.conf", with each protocol version and QoS 1.
func TestTLSServerCertificate(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	f := newTLSFiles(t, dir, testutil.NewPKI(t, "midge test CA"), "server")
	_, ports := startMidge(t, dir, 1, func(p []string) string {
		return "allow_anonymous true\n" + f.listener(p[0])
	})
	for _, v := range mqttVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			topic := "tls/" + v.name
			sub := mosqSub(t, ports[0], "--cafile", f.ca, "-V", v.flag, "-q", "1", "-t", topic, "-F", msgFormat)
			out := mosqPub(t, ports[0], "--cafile", f.ca, "-V", v.flag, "-q", "1", "-t", topic, "-m", "over TLS")
			wantContains(t, "mosquitto_pub", out, "received CONNACK (0)", "received PUBACK")
			wantLines(t, "mosquitto_sub", messages(sub, 1), []string{"1 0 " + topic + " over TLS"})
		})
	}
}

// TestTLSClientCertificates runs mosquitto_pub and mosquitto_sub with
// --cert/--key against a listener with require_certificate true and a
// crlfile. A certificate of the listener's CA is accepted; none, one from
// another CA, an expired one and a revoked one are refused in the TLS
// handshake with OpenSSL's message, and the broker logs the refusal. Each
// case has its own broker, so that its log shows that case only.
func TestTLSClientCertificates(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	pki := testutil.NewPKI(t, "midge test CA")
	other := testutil.NewPKI(t, "another CA")
	f := newTLSFiles(t, dir, pki, "server")
	valid := pki.Client("alice")
	revoked := pki.Client("mallory")
	crl := copyFile(t, pki.CRL(revoked), dir, "ca.crl")
	conf := func(p []string) string {
		return "allow_anonymous true\n" +
			f.listener(p[0], "cafile "+f.ca+"\nrequire_certificate true\ncrlfile "+crl+"\n")
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		_, ports := startMidge(t, dir, 1, conf)
		sub := mosqSub(t, ports[0], cat([]string{"--cafile", f.ca, "-t", "certs/#", "-F", msgFormat}, certArgs(valid)...)...)
		mosqPub(t, ports[0], cat([]string{"--cafile", f.ca, "-q", "1", "-t", "certs/alice", "-m", "hello"}, certArgs(valid)...)...)
		wantLines(t, "mosquitto_sub", messages(sub, 1), []string{"0 0 certs/alice hello"})
	})

	refused := []struct {
		name   string
		cert   []string
		alerts []string // in OpenSSL's error line, as mosquitto_pub prints it
	}{
		// In TLS 1.3 the client's handshake is over before the server
		// checks its certificate: the server's alert answers CONNECT.
		{"none", nil, []string{"tlsv13 alert certificate required"}},
		{"other-ca", certArgs(other.Client("alice")), []string{"tlsv1 alert unknown ca"}},
		{"expired", certArgs(pki.ExpiredClient("alice")), []string{"sslv3 alert certificate expired"}},
		// Mosquitto sends certificate_revoked; Go's crypto/tls sends
		// bad_certificate for every error of VerifyPeerCertificate, where
		// midge checks the CRL.
		{"revoked", certArgs(revoked), []string{"sslv3 alert certificate revoked", "sslv3 alert bad certificate"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, ports := startMidge(t, dir, 1, conf)
			mark := b.mark()
			p := startMosquitto(t, "mosquitto_pub", cat([]string{"-d", "-h", "127.0.0.1", "-p", ports[0],
				"--cafile", f.ca, "-q", "1", "-t", "certs/x", "-m", "refused"}, tc.cert...)...)
			wantRefusedTLS(t, p, tc.alerts...)
			wantLogged(t, b, mark, "client certificate: "+tc.name)
		})
	}
}

// TestTLSIdentityACL checks use_identity_as_username with an acl_file: the
// Common Name of the client certificate is the user name the ACL names.
// alice may publish to secure/#, bob may not; a watcher (read access)
// receives alice's messages and none of bob's, which a marker message from
// alice after bob's proves without waiting. On a second listener with
// use_subject_as_username the user name is the whole subject, in RFC 2253
// form as Mosquitto writes it. The log names the user, as Mosquitto's.
func TestTLSIdentityACL(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	pki := testutil.NewPKI(t, "midge test CA")
	f := newTLSFiles(t, dir, pki, "server")
	acl := writeFile(t, dir, "acl", "user alice\ntopic write secure/#\n\nuser watcher\ntopic read secure/#\n\n"+
		"user CN=carol,O=midge tests\ntopic write secure/#\n")
	b, ports := startMidge(t, dir, 2, func(p []string) string {
		return "acl_file " + acl + "\n" +
			f.listener(p[0], "cafile "+f.ca+"\nrequire_certificate true\nuse_identity_as_username true\n") +
			f.listener(p[1], "cafile "+f.ca+"\nrequire_certificate true\nuse_subject_as_username true\n")
	})
	alice, bob, watcher := certArgs(pki.Client("alice")), certArgs(pki.Client("bob")), certArgs(pki.Client("watcher"))
	tls := []string{"--cafile", f.ca}

	sub := mosqSub(t, ports[0], cat(tls, cat(watcher, "-q", "1", "-t", "secure/#", "-F", msgFormat)...)...)
	mosqPub(t, ports[0], cat(tls, cat(alice, "-q", "1", "-t", "secure/x", "-m", "from alice")...)...)
	for _, v := range []struct{ name, flag string }{{"v311", "mqttv311"}, {"v5", "mqttv5"}} {
		// MQTT 5: PUBACK 0x87, which mosquitto_pub reports; 3.1.1: a
		// PUBACK like any other, and the message is dropped.
		p := startMosquitto(t, "mosquitto_pub", cat(tls, cat(bob, "-d", "-h", "127.0.0.1", "-p", ports[0],
			"-V", v.flag, "-q", "1", "-t", "secure/x", "-m", "from bob")...)...)
		p.wait()
		if v.flag == "mqttv5" && !strings.Contains(p.stderrText(), "Warning: Publish 1 failed: Not authorized.") {
			t.Errorf("bob's MQTT 5 mosquitto_pub: want \"Warning: Publish 1 failed: Not authorized.\"\n%s", p.output())
		}
	}
	mosqPub(t, ports[1], cat(tls, cat(certArgs(pki.Client("carol")), "-q", "1", "-t", "secure/x", "-m", "from carol")...)...)
	mosqPub(t, ports[0], cat(tls, cat(alice, "-q", "1", "-t", "secure/x", "-m", "marker")...)...)
	wantLines(t, "the watcher", messages(sub, 3), []string{"1 0 secure/x from alice", "1 0 secure/x from carol", "1 0 secure/x marker"})
	b.waitLines(2, func(l string) bool { return strings.Contains(l, "Denied PUBLISH from") }) // bob's two
	// Mosquitto logs the user name taken from the certificate:
	// "New client connected from ADDR as ID (p4, c1, k60, u'watcher')." (2.0: p2)
	t.Run("log", func(t *testing.T) {
		if _, ok := b.lineAfter(0, logWait, func(l string) bool {
			return strings.Contains(l, "New client connected from") && strings.Contains(l, "u'watcher')")
		}); !ok {
			t.Errorf("the broker did not log the watcher's user name from its certificate (u'watcher') as Mosquitto does; it logged\n%s", b.output())
		}
	})
}

// TestTLSReloadOnSIGHUP replaces the TLS listener's certificate and key by
// ones from a new CA and sends SIGHUP: a mosquitto_sub connected before
// stays connected and receiving, a new client with the new CA connects and
// one with the old CA is refused. A broken key file at the next SIGHUP is
// logged as an error and the working certificate kept. Mosquitto 2.0
// reloads certificates on SIGHUP the same way.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	oldCA := newTLSFiles(t, dir, testutil.NewPKI(t, "old CA"), "server")
	newCA := newTLSFiles(t, dir, testutil.NewPKI(t, "new CA"), "next")
	b, ports := startMidge(t, dir, 2, func(p []string) string {
		return "allow_anonymous true\n" + oldCA.listener(p[0]) + "listener " + p[1] + " 127.0.0.1\n"
	})
	tlsPort, plainPort := ports[0], ports[1]
	sub := mosqSub(t, tlsPort, "--cafile", oldCA.ca, "-q", "1", "-t", "reload/#", "-F", msgFormat)
	mosqPub(t, plainPort, "-q", "1", "-t", "reload/a", "-m", "before")
	messages(sub, 1)

	replaceFile(t, newCA.cert, oldCA.cert)
	replaceFile(t, newCA.key, oldCA.key)
	mark := b.mark()
	b.signal(syscall.SIGHUP)
	b.waitAfter(mark, waitTimeout, "Reloading config.")
	// The reload ends without a log line of its own: connect until the new
	// certificate is served.
	testutil.WaitFor(t, "a client trusting only the new CA to connect", func() bool {
		return startMosquitto(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", tlsPort, "--cafile", newCA.ca,
			"-t", "probe", "-m", "probe").exitCode() == 0
	})
	mosqPub(t, tlsPort, "--cafile", newCA.ca, "-q", "1", "-t", "reload/b", "-m", "after")
	wantRefusedTLS(t, startMosquitto(t, "mosquitto_pub", "-d", "-h", "127.0.0.1", "-p", tlsPort,
		"--cafile", oldCA.ca, "-t", "reload/c", "-m", "old CA"), "certificate verify failed")

	if err := os.WriteFile(oldCA.key, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mark = b.mark()
	b.signal(syscall.SIGHUP)
	b.waitAfter(mark, waitTimeout, "Error", oldCA.key)
	mosqPub(t, tlsPort, "--cafile", newCA.ca, "-q", "1", "-t", "reload/d", "-m", "after the broken key")
	wantLines(t, "the subscriber connected before the reloads", messages(sub, 3),
		[]string{"1 0 reload/a before", "1 0 reload/b after", "1 0 reload/d after the broken key"})
	// libmosquitto reconnects by itself (with the old CA, which would fail
	// now): one CONNECT means one connection throughout.
	if n := sub.countLines("sending CONNECT"); n != 1 {
		t.Errorf("the subscriber sent CONNECT %d times, want once:\n%s", n, sub.output())
	}
}

// TestTLSBadClients connects clients that cannot complete the TLS
// handshake: mosquitto_pub trusting another CA (it refuses the broker's
// certificate) and mosquitto_pub without TLS on the TLS port. The broker
// closes that connection and logs it, and a mosquitto_sub connected over
// TLS to the same listener keeps receiving. Each case has its own broker,
// so that its log shows that case only.
func TestTLSBadClients(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	f := newTLSFiles(t, dir, testutil.NewPKI(t, "midge test CA"), "server")
	otherCA := copyFile(t, testutil.NewPKI(t, "another CA").CAFile, dir, "other-ca.crt")
	// Mosquitto 2.0 logs "OpenSSL Error[0]: error:0A000418:SSL
	// routines::tlsv1 alert unknown ca" (wrong-ca) or "...wrong version
	// number" (plaintext), then "Client <unknown> disconnected: Protocol
	// error.".
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, p *proc)
	}{
		{"wrong-ca", []string{"--cafile", otherCA}, func(t *testing.T, p *proc) {
			// "Unable to connect (A TLS error occurred.)." if the broker's
			// certificate arrives while mosquitto_pub connects, "Error: A
			// TLS error occurred." if later.
			wantRefusedTLS(t, p, "certificate verify failed")
			if !strings.Contains(p.stderrText(), "A TLS error occurred.") {
				t.Errorf("%s: want \"A TLS error occurred.\"\n%s", p.name, p.output())
			}
		}},
		{"plaintext", nil, func(t *testing.T, p *proc) {
			if code := p.exitCode(); code != 7 || !strings.Contains(p.stderrText(), "Error: The connection was lost.") {
				t.Errorf("%s: exit status %d, want 7 and \"Error: The connection was lost.\"\n%s", p.name, code, p.output())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, ports := startMidge(t, dir, 2, func(p []string) string {
				return "allow_anonymous true\n" + f.listener(p[0]) + "listener " + p[1] + " 127.0.0.1\n"
			})
			sub := mosqSub(t, ports[0], "--cafile", f.ca, "-q", "1", "-t", "still/#", "-F", msgFormat)
			subID := connectedID(t, b, 1)
			mark := b.mark()
			p := startMosquitto(t, "mosquitto_pub", cat([]string{"-d", "-h", "127.0.0.1", "-p", ports[0], "-t", "t", "-m", "x"}, tc.args...)...)
			tc.check(t, p)
			wantLogged(t, b, mark, tc.name, subID)
			mosqPub(t, ports[1], "-q", "1", "-t", "still/here", "-m", "yes")
			wantLines(t, "the subscriber connected before", messages(sub, 1), []string{"1 0 still/here yes"})
		})
	}
}
