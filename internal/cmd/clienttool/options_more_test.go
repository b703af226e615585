package clienttool

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// denyAll is an Authenticator that refuses every user name and password.
type denyAll struct{}

func (denyAll) Authenticate(context.Context, *broker.Client, []byte, bool) (broker.Verdict, error) {
	return broker.Deny, nil
}

// TestRefusedCredentials compares the three tools when the broker refuses
// the connection: no user name where one is required, and a bad password,
// in MQTT 3.1.1 and 5.
func TestRefusedCredentials(t *testing.T) {
	t.Parallel()
	dir := mqWorldDir(t)
	pw := filepath.Join(dir, "passwd")
	out, err := exec.Command(mqDebian(t, "mosquitto_passwd"), "-b", "-c", pw, "user", "secret").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	os.Chmod(pw, 0o644)
	brokers := []mqBroker{
		mqStartMosquitto(t, "allow_anonymous false", "password_file "+pw),
		mqStartMidgeBroker(t, broker.Config{AllowAnonymous: false, Authenticators: []broker.Authenticator{denyAll{}}}),
	}
	base := map[string][]string{"pub": {"-t", "a", "-m", "x"}, "sub": {"-t", "a"}, "rr": {"-t", "a", "-m", "x", "-e", "b"}}
	tools := map[string]tool{"pub": toolPub, "sub": toolSub, "rr": toolRR}
	for _, b := range brokers {
		for _, name := range []string{"pub", "sub", "rr"} {
			for _, v := range [][]string{{}, {"-d"}, {"-u", "user", "-P", "wrong", "-d"}, {"-V", "5", "-d"},
				{"-V", "5", "-u", "user", "-P", "wrong"}, {"-V", "31", "-d"}, {"-V", "311", "-d", "--quiet"}} {
				args := mqArgs(b.port, append(append([]string{}, base[name]...), v...)...)
				t.Run(b.name+"/"+name+"/"+strings.Join(v, "_"), func(t *testing.T) {
					t.Parallel()
					home := mqHome(t)
					want := mqStartDebian(t, "mosquitto_"+name, home, "", nil, args...)
					got := mqStartMidge(t, tools[name], home, "", nil, args...)
					mqCompare(t, want, got, nil)
				})
			}
		}
	}
}

// mqWorldDir makes a directory Debian's broker can use after it drops
// root's privileges to the mosquitto user.
func mqWorldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "midge-clients-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	return dir
}

// TestOptionsFiles compares how the tools read their options files:
// $XDG_CONFIG_HOME/mosquitto_pub first, else ~/.config/mosquitto_sub, a
// line per option, the rest of the line its argument, '#' comments.
func TestOptionsFiles(t *testing.T) {
	t.Parallel()
	b := mqStartMidgeBroker(t, broker.Config{AllowAnonymous: true})
	long := strings.Repeat("x", 1500)
	cases := []struct {
		name, tool, file string
		xdg              bool
		args             []string
	}{
		{"pub-xdg", "pub", "-d\n#-q 2\n-m  hello world\n\n   -t  spaced/topic\r\n-q 1\n", true, nil},
		{"pub-home", "pub", "-d\n-t a/b\n-m from home\n", false, []string{"-m", "ignored?"}},
		{"pub-override", "pub", "-d\n-t a/b\n-q 2\n", false, []string{"-q", "1", "-m", "x"}},
		{"pub-trailing-space", "pub", "-d  \n", false, []string{"-t", "a", "-m", "x"}},
		{"pub-property-one-line", "pub", "-D publish user-property a b\n", false, []string{"-t", "a", "-m", "x"}},
		{"pub-long-line", "pub", "-m " + long + "\n", false, []string{"-t", "a", "-d"}},
		{"pub-help", "pub", "--help\n", false, []string{"-t", "a", "-m", "x"}},
		{"pub-bad-value", "pub", "-q 7\n", false, []string{"-t", "a", "-m", "x"}},
		{"sub-home", "sub", "-d\n-v\n-t a/#\n-E\n", false, []string{"-t", "b"}},
		{"sub-filter-file", "sub", "-T a/b\n-F %t\n", false, []string{"-t", "a/#", "-E", "-d"}},
		{"rr-home", "rr", "-d\n-W 1\n", false, []string{"-t", "q", "-e", "r", "-m", "x"}},
	}
	tools := map[string]tool{"pub": toolPub, "sub": toolSub, "rr": toolRR}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			home := mqHome(t)
			xdg := ""
			path := filepath.Join(home, ".config", "mosquitto_"+c.tool)
			if c.xdg {
				xdg = filepath.Join(home, "xdg")
				path = filepath.Join(xdg, "mosquitto_"+c.tool)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			args := mqArgs(b.port, c.args...)
			want := mqStartDebian(t, "mosquitto_"+c.tool, home, xdg, nil, args...)
			want.wait(t)
			got := mqStartMidge(t, tools[c.tool], home, xdg, nil, args...)
			mqCompare(t, want, got, nil)
		})
	}
}

// TestUnixSocket compares pub and sub over --unix on Debian's broker.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	dir := mqWorldDir(t)
	sock := filepath.Join(dir, "mosquitto.sock")
	mqStartMosquitto(t, "listener 0 "+sock)
	// mqStartMosquitto waits for the TCP listener only; Mosquitto opens
	// its listeners one by one, so the socket may come a moment later.
	deadline := time.Now().Add(mqWait)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	home := mqHome(t)
	subArgs := []string{"--unix", sock, "-d", "-t", "u/#", "-C", "1", "-v"}
	want := mqStartDebian(t, "mosquitto_sub", home, "", nil, subArgs...)
	got := mqStartMidge(t, toolSub, home, "", nil, subArgs...)
	want.out.waitCount(t, "Subscribed (mid: 1)", 1)
	got.out.waitCount(t, "Subscribed (mid: 1)", 1)
	pubArgs := []string{"--unix", sock, "-d", "-t", "u/x", "-m", "over a unix socket"}
	wantPub := mqStartDebian(t, "mosquitto_pub", home, "", nil, pubArgs...)
	wantPub.wait(t)
	gotPub := mqStartMidge(t, toolPub, home, "", nil, pubArgs...)
	mqCompare(t, wantPub, gotPub, nil)
	mqCompare(t, want, got, nil)
}

// TestWebSocket21 checks 2.1's --ws and -L ws:// (Mosquitto 2.0.11 has
// neither) against Debian's broker and midge's WebSocket listeners: the
// output is what 2.0.11 prints over TCP.
func TestWebSocket21(t *testing.T) {
	t.Parallel()
	wsPort := mqFreePort(t)
	mqStartMosquittoWS(t, wsPort)
	midgeWS := mqStartMidgeWS(t)
	for name, port := range map[string]string{"mosquitto": wsPort, "midge": midgeWS} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			home := mqHome(t)
			sub := mqStartMidge(t, toolSub, home, "", nil, "-h", "127.0.0.1", "-p", port, "--ws", "-d", "-v", "-t", "w/#", "-C", "2")
			sub.out.waitCount(t, "Subscribed (mid: 1)", 1)
			pub := mqStartMidge(t, toolPub, home, "", nil, "-h", "127.0.0.1", "-p", port, "--ws", "-d", "-t", "w/a", "-m", "one")
			if code := pub.wait(t); code != 0 {
				t.Fatalf("pub --ws: exit %d: %s", code, pub.err.String())
			}
			// MQTT orders nothing across connections: the second publisher
			// starts once the first message has arrived.
			sub.out.waitCount(t, "w/a one", 1)
			pub2 := mqStartMidge(t, toolPub, home, "", nil, "-L", "ws://127.0.0.1:"+port+"/w/b", "-m", "two", "-q", "1")
			if code := pub2.wait(t); code != 0 {
				t.Fatalf("pub -L ws://: exit %d: %s", code, pub2.err.String())
			}
			if code := sub.wait(t); code != 0 {
				t.Fatalf("sub --ws: exit %d: %s", code, sub.err.String())
			}
			want := "Client (null) sending CONNECT\nClient (null) received CONNACK (0)\n" +
				"Client (null) sending SUBSCRIBE (Mid: 1, Topic: w/#, QoS: 0, Options: 0x00)\nClient (null) received SUBACK\n" +
				"Subscribed (mid: 1): 0\nClient (null) received PUBLISH (d0, q0, r0, m0, 'w/a', ... (3 bytes))\nw/a one\n" +
				"Client (null) received PUBLISH (d0, q0, r0, m0, 'w/b', ... (3 bytes))\nw/b two\nClient (null) sending DISCONNECT\n"
			if got := sub.out.String(); got != want {
				t.Errorf("sub printed:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// mqStartMosquittoWS starts Debian's broker with a WebSocket listener.
func mqStartMosquittoWS(t *testing.T, port string) {
	t.Helper()
	mqStartMosquitto(t, "listener "+port+" 127.0.0.1", "protocol websockets")
	deadline := time.Now().Add(mqWait)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no WebSocket listener on %s: %v", port, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for readiness
	}
}

// mqStartMidgeWS starts midge's broker with a WebSocket listener and
// returns its port.
func mqStartMidgeWS(t *testing.T) string {
	t.Helper()
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Serve(context.Background(), ln, broker.Listener{WebSocket: true}) }()
	t.Cleanup(func() {
		b.Stop(t)
		<-done
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// readOnly is an Authorizer that lets clients subscribe and read, not write.
type readOnly struct{}

func (readOnly) Authorize(_ context.Context, _ *broker.Client, _ string, a broker.Access) broker.Verdict {
	if a == broker.Write {
		return broker.Deny
	}
	return broker.Allow
}

// TestPublishRefused compares pub when the broker refuses a publish (an
// MQTT 5 PUBACK with a failure code) or supports only QoS 1 (MQTT 5 says so
// in the CONNACK; a 3.1.1 client is disconnected).
func TestPublishRefused(t *testing.T) {
	t.Parallel()
	dir := mqWorldDir(t)
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte("topic read #\n"), 0o644)
	brokers := []mqBroker{
		mqStartMosquitto(t, "acl_file "+acl, "max_qos 1"),
		mqStartMidgeBroker(t, broker.Config{AllowAnonymous: true, Authorizers: []broker.Authorizer{readOnly{}}, MaxQoS: 1}),
	}
	for _, b := range brokers {
		for _, v := range [][]string{{"-q", "1", "-V", "5", "-d"}, {"-q", "1", "-V", "5", "--repeat", "2"},
			{"-q", "2", "-V", "5", "-d"}, {"-q", "2", "-V", "5", "--repeat", "2"}, {"-q", "2", "-d"}, {"-q", "2", "--quiet"}} {
			args := mqArgs(b.port, append([]string{"-t", "a", "-m", "x"}, v...)...)
			t.Run(b.name+"/"+strings.Join(v, "_"), func(t *testing.T) {
				t.Parallel()
				home := mqHome(t)
				want := mqStartDebian(t, "mosquitto_pub", home, "", nil, args...)
				got := mqStartMidge(t, toolPub, home, "", nil, args...)
				mqCompare(t, want, got, nil)
			})
		}
	}
}

// mqCert writes a certificate for name signed by ca (itself if nil) and its
// key, PEM encoded, into dir, readable by all (Debian's broker drops root).
func mqCert(t *testing.T, dir, name string, isCA bool, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		tmpl.DNSNames = []string{name}
	}
	if ca == nil {
		ca, caKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o644)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTLS compares pub over TLS with Debian's: a trusted server, an
// untrusted one, a host name that does not match (refused, and accepted
// with --insecure), a client certificate, and a bad --tls-version.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := mqWorldDir(t)
	ca, caKey := mqCert(t, dir, "ca", true, nil, nil)
	mqCert(t, dir, "localhost", false, ca, caKey)
	mqCert(t, dir, "client", false, ca, caKey)
	mqCert(t, dir, "other-ca", true, nil, nil)
	capath := filepath.Join(dir, "capath")
	os.Mkdir(capath, 0o755)
	os.WriteFile(filepath.Join(capath, "ca.crt"), mustRead(t, filepath.Join(dir, "ca.crt")), 0o644)
	hashed := mqWorldDir(t)
	if out, err := exec.Command("openssl", "x509", "-hash", "-noout", "-in", filepath.Join(dir, "ca.crt")).Output(); err == nil {
		os.WriteFile(filepath.Join(hashed, strings.TrimSpace(string(out))+".0"), mustRead(t, filepath.Join(dir, "ca.crt")), 0o644)
	} else {
		t.Fatalf("openssl x509 -hash: %v (apt-get install openssl)", err)
	}
	// tlsListener starts Debian's broker with a TLS listener for localhost
	// and returns its port.
	tlsListener := func(requireCertificate string) string {
		port := mqFreePort(t)
		mqStartMosquitto(t, "listener "+port+" 127.0.0.1",
			"cafile "+filepath.Join(dir, "ca.crt"),
			"certfile "+filepath.Join(dir, "localhost.crt"),
			"keyfile "+filepath.Join(dir, "localhost.key"),
			"require_certificate "+requireCertificate)
		return port
	}
	port, certPort := tlsListener("false"), tlsListener("true")
	caArg := filepath.Join(dir, "ca.crt")
	for name, args := range map[string][]string{
		"trusted":         {"-h", "localhost", "-p", port, "--cafile", caArg, "-d"},
		"capath-unhashed": {"-h", "localhost", "-p", port, "--capath", capath},
		"capath":          {"-h", "localhost", "-p", port, "--capath", hashed, "-d"},
		"tls1.2":          {"-h", "localhost", "-p", port, "--cafile", caArg, "--tls-version", "tlsv1.2"},
		"untrusted":       {"-h", "localhost", "-p", port, "--cafile", filepath.Join(dir, "other-ca.crt")},
		"hostname":        {"-h", "127.0.0.1", "-p", port, "--cafile", caArg},
		"insecure":        {"-h", "127.0.0.1", "-p", port, "--cafile", caArg, "--insecure", "-d"},
		"client-cert":     {"-h", "localhost", "-p", certPort, "--cafile", caArg, "--cert", filepath.Join(dir, "client.crt"), "--key", filepath.Join(dir, "client.key"), "-d"},
		"bad-tls-version": {"-h", "localhost", "-p", port, "--cafile", caArg, "--tls-version", "tlsv1.0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			home := mqHome(t)
			args = append(args, "-t", "tls/t", "-m", "secret")
			want := mqStartDebian(t, "mosquitto_pub", home, "", nil, args...)
			got := mqStartMidge(t, toolPub, home, "", nil, args...)
			if name == "untrusted" || name == "hostname" || name == "capath-unhashed" {
				// Mosquitto says "Unable to connect (A TLS error
				// occurred.)." and exits 1, or "Error: A TLS error
				// occurred." and exits 8, as the handshake's timing goes.
				want.wait(t)
				if want.code == exitTLS {
					want.code = 1
					want.err.buf.Reset()
					want.err.buf.WriteString("Unable to connect (A TLS error occurred.).\n")
				}
			}
			mqCompare(t, want, got, nil)
		})
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
