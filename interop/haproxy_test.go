package interop_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// haproxy is Debian's HAProxy, the load balancer the PROXY protocol comes
// from.
const haproxy = "/usr/sbin/haproxy"

// TestHAProxy puts a real HAProxy in front of midge: send-proxy (v1),
// send-proxy-v2, and send-proxy-v2-ssl-cn with TLS and the client
// certificate checked by HAProxy. Clients connect from 127.0.0.2 (HAProxy
// connects to midge from 127.0.0.1): midge must log the client's own
// address and port, and take the certificate's Common Name as the user
// name.
func TestHAProxy(t *testing.T) {
	if _, err := os.Stat(haproxy); err != nil {
		t.Fatalf("%s not found: %v; install it with: apt-get install haproxy", haproxy, err)
	}
	t.Parallel()
	dir := worldDir(t)
	midge, ports := startMidge(t, dir, 3, func(p []string) string {
		return "listener " + p[0] + " 127.0.0.1\nenable_proxy_protocol 1\nallow_anonymous true\n" +
			"listener " + p[1] + " 127.0.0.1\nenable_proxy_protocol 2\n" +
			"listener " + p[2] + " 127.0.0.1\nenable_proxy_protocol 2\nproxy_protocol_v2_require_tls true\n" +
			"require_certificate true\nuse_identity_as_username true\n"
	})

	pki := testutil.NewPKI(t, "ca")
	sc := pki.Server("haproxy")
	pem := testutil.ReadFile(t, sc.CertFile) + testutil.ReadFile(t, sc.KeyFile)
	pemFile := writeFile(t, dir, "haproxy.pem", pem)
	caFile := copyFile(t, pki.CAFile, dir, "ca.crt")
	fe := freePorts(t, 3)
	conf := "global\n  maxconn 50\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n" +
		"frontend v1\n  bind 127.0.0.1:" + fe[0] + "\n  default_backend v1\nbackend v1\n  server midge 127.0.0.1:" + ports[0] + " send-proxy\n" +
		"frontend v2\n  bind 127.0.0.1:" + fe[1] + "\n  default_backend v2\nbackend v2\n  server midge 127.0.0.1:" + ports[1] + " send-proxy-v2\n" +
		"frontend tls\n  bind 127.0.0.1:" + fe[2] + " ssl crt " + pemFile + " ca-file " + caFile + " verify required\n  default_backend tls\n" +
		"backend tls\n  server midge 127.0.0.1:" + ports[2] + " send-proxy-v2-ssl-cn\n"
	cfgFile := writeFile(t, dir, "haproxy.cfg", conf)
	if out, err := exec.Command(haproxy, "-c", "-f", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	startServer(t, haproxy, "-db", "-f", cfgFile)
	testutil.WaitFor(t, "HAProxy listening", func() bool {
		for _, p := range fe {
			nc, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second)
			if err != nil {
				return false
			}
			nc.Close()
		}
		return true
	})

	dialer := &net.Dialer{Timeout: waitTimeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	// connectVia connects as id over nc and returns the CONNACK's code.
	connectVia := func(nc net.Conn, id string) packet.ReasonCode {
		t.Helper()
		nc.SetDeadline(time.Now().Add(waitTimeout))
		b, _ := packet.Append(nil, &packet.Connect{ProtocolVersion: 4, ClientID: id, CleanStart: true, KeepAlive: 60}, 4)
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
		r := packet.NewReader(nc, 0)
		r.Version = 4
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return p.(*packet.Connack).ReasonCode
	}

	for i, id := range []string{"via-v1", "via-v2"} {
		mark := midge.mark()
		nc, err := dialer.Dial("tcp", "127.0.0.1:"+fe[i])
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if rc := connectVia(nc, id); rc != 0 {
			t.Fatalf("%s: CONNACK %v", id, rc)
		}
		midge.waitAfter(mark, waitTimeout, "New client connected from "+nc.LocalAddr().String()+" as "+id)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(testutil.ReadFile(t, pki.CAFile)))
	device := pki.Client("device-7")
	kp, err := tls.LoadX509KeyPair(device.CertFile, device.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	mark := midge.mark()
	nc, err := tls.DialWithDialer(dialer, "tcp", "127.0.0.1:"+fe[2], &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{kp}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if rc := connectVia(nc, "via-tls"); rc != 0 {
		t.Fatalf("via-tls: CONNACK %v", rc)
	}
	line := midge.waitAfter(mark, waitTimeout, "New client connected from "+nc.LocalAddr().String()+" as via-tls")
	if !strings.Contains(line, "u'device-7'") {
		t.Errorf("the certificate's CN is not the user name: %s", line)
	}

	// Straight to midge, without HAProxy: refused.
	mark = midge.mark()
	direct, err := dialer.Dial("tcp", "127.0.0.1:"+ports[1])
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	direct.SetDeadline(time.Now().Add(waitTimeout))
	b, _ := packet.Append(nil, &packet.Connect{ProtocolVersion: 4, ClientID: "direct", CleanStart: true}, 4)
	direct.Write(b)
	if _, err := packet.NewReader(direct, 0).ReadPacket(); err == nil {
		t.Error("a client without a PROXY header got an answer")
	}
	midge.waitAfter(mark, waitTimeout, "Connection rejected, corrupt PROXY header.")
}
