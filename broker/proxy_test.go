package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/proxyproto"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/tlsconf"
	"github.com/midge-mqtt/midge/packet"
)

// proxyHeader encodes h.
func proxyHeader(t *testing.T, h proxyproto.Header) []byte {
	t.Helper()
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tcpAddr(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// proxyConnect sends head and then a CONNECT for id over nc, and returns
// the CONNACK's code, or an error if the broker closed the connection
// instead.
func proxyConnect(nc net.Conn, head []byte, id string) (packet.ReasonCode, error) {
	nc.SetDeadline(time.Now().Add(testutil.Timeout))
	nc.Write(append(head, enc(&packet.Connect{ProtocolVersion: 4, ClientID: id, CleanStart: true, Username: "u", HasUsername: true})...))
	r := packet.NewReader(nc, 0)
	r.Version = 4
	p, err := r.ReadPacket()
	if err != nil {
		return 0, err
	}
	return p.(*packet.Connack).ReasonCode, nil
}

// remoteOf returns the address the broker knows client id by.
func remoteOf(t *testing.T, srv interface {
	Session(string) (broker.SessionInfo, bool)
}, id string) string {
	t.Helper()
	info, ok := srv.Session(id)
	if !ok {
		t.Fatalf("no session %q", id)
	}
	return info.Remote
}

// seen records the Client every authentication was asked about.
type seen struct{ c chan broker.Client }

func (s seen) Authenticate(_ context.Context, c *broker.Client, _ []byte, _ bool) (broker.Verdict, error) {
	s.c <- *c
	return broker.Allow, nil
}

// PROXY v1 and v2 through real TCP: the broker logs the header's address,
// reports it (Session), gives it to the Authenticator, and refuses
// connections without a header, with a malformed one, or with one on a
// listener that does not expect it.
func TestProxyProtocol(t *testing.T) {
	var logs testutil.LockedBuffer
	cfg := open()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	auth := seen{make(chan broker.Client, 10)}
	cfg.Authenticators = []broker.Authenticator{auth}
	srv, addrs := serveAll(t, cfg, broker.Listener{ProxyProtocol: 1}, broker.Listener{ProxyProtocol: 2})
	plain, v1, v2 := addrs[0], addrs[1], addrs[2]

	// Version 1, IPv4.
	head := proxyHeader(t, proxyproto.Header{Version: 1, Source: tcpAddr("203.0.113.7:40001"), Destination: tcpAddr("198.51.100.1:1883")})
	if rc, err := proxyConnect(testutil.DialTCP(t, v1), head, "v1"); err != nil || rc != 0 {
		t.Fatalf("v1: %v %v", rc, err)
	}
	if got := remoteOf(t, srv, "v1"); got != "203.0.113.7:40001" {
		t.Errorf("v1 client's address %q", got)
	}
	if c := <-auth.c; c.Remote.String() != "203.0.113.7:40001" {
		t.Errorf("the Authenticator saw %v", c.Remote)
	}
	// Version 2, IPv6.
	head = proxyHeader(t, proxyproto.Header{Version: 2, Source: tcpAddr("[2001:db8::7]:40002"), Destination: tcpAddr("[2001:db8::1]:1883")})
	if rc, err := proxyConnect(testutil.DialTCP(t, v2), head, "v2"); err != nil || rc != 0 {
		t.Fatalf("v2: %v %v", rc, err)
	}
	<-auth.c
	if got := remoteOf(t, srv, "v2"); got != "[2001:db8::7]:40002" {
		t.Errorf("v2 client's address %q", got)
	}
	// v1 UNKNOWN and v2 LOCAL: the socket's address.
	for _, c := range []struct {
		addr string
		head proxyproto.Header
		id   string
	}{{v1, proxyproto.Header{Version: 1, Local: true}, "unknown"}, {v2, proxyproto.Header{Version: 2, Local: true}, "local"}} {
		nc := testutil.DialTCP(t, c.addr)
		if rc, err := proxyConnect(nc, proxyHeader(t, c.head), c.id); err != nil || rc != 0 {
			t.Fatalf("%s: %v %v", c.id, rc, err)
		}
		<-auth.c
		if got := remoteOf(t, srv, c.id); got != nc.LocalAddr().String() {
			t.Errorf("%s: address %q, want the socket's %s", c.id, got, nc.LocalAddr())
		}
	}
	testutil.WaitFor(t, "the log names the real addresses", func() bool {
		s := logs.String()
		return strings.Contains(s, "New connection from 203.0.113.7:40001 on port") &&
			strings.Contains(s, "New client connected from 203.0.113.7:40001 as v1") &&
			strings.Contains(s, "New client connected from [2001:db8::7]:40002 as v2")
	})

	// Refused: no header, a malformed one, the other version's, a header
	// on a listener without the option (a malformed packet there).
	good1 := proxyHeader(t, proxyproto.Header{Version: 1, Source: tcpAddr("203.0.113.8:1"), Destination: tcpAddr("198.51.100.1:1883")})
	good2 := proxyHeader(t, proxyproto.Header{Version: 2, Source: tcpAddr("203.0.113.8:1"), Destination: tcpAddr("198.51.100.1:1883")})
	bad2 := append([]byte(nil), good2...)
	bad2[13] = 0x41 // no such family
	for _, c := range []struct {
		name, addr string
		head       []byte
	}{
		{"no header on v1", v1, nil},
		{"no header on v2", v2, nil},
		{"v1 with a host name", v1, []byte("PROXY TCP4 example.com 198.51.100.1 1 1883\r\n")},
		{"v1 port out of range", v1, []byte("PROXY TCP4 203.0.113.8 198.51.100.1 70000 1883\r\n")},
		{"v1 without CR", v1, []byte("PROXY TCP4 203.0.113.8 198.51.100.1 1 1883\n")},
		{"v1 on v2", v2, good1},
		{"v2 on v1", v1, good2},
		{"v2 unknown family", v2, bad2},
		{"v1 on a plain listener", plain, good1},
		{"v2 on a plain listener", plain, good2},
	} {
		if rc, err := proxyConnect(testutil.DialTCP(t, c.addr), c.head, "refused"); err == nil {
			t.Errorf("%s: CONNACK %v, want the connection closed", c.name, rc)
		}
	}
	select {
	case c := <-auth.c:
		t.Errorf("a refused connection was authenticated: %+v", c)
	default:
	}
	if n := strings.Count(logs.String(), "Connection rejected, corrupt PROXY header."); n < 6 {
		t.Errorf("%d corrupt header lines logged, want at least 6:\n%s", n, logs.String())
	}
}

// serveAll serves a Server for cfg on a plain listener and on one listener
// per extra, all on 127.0.0.1, and returns it with their addresses.
func serveAll(t *testing.T, cfg broker.Config, extra ...broker.Listener) (*broker.Server, []string) {
	t.Helper()
	srv := broker.New(cfg)
	ctx := context.Background()
	var addrs []string
	for _, l := range append([]broker.Listener{{}}, extra...) {
		l.Address = "127.0.0.1:0"
		ln, err := broker.Listen(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ctx, ln, l)
		addrs = append(addrs, ln.Addr().String())
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	return srv, addrs
}

// PROXY v2 with TLS information: a proxy that terminated TLS and verified
// the client's certificate gives its Common Name, the user name with
// use_identity_as_username; require_certificate and
// proxy_protocol_v2_require_tls refuse headers without it. And a PROXY
// header before a TLS handshake the broker makes itself.
func TestProxyProtocolTLS(t *testing.T) {
	var logs testutil.LockedBuffer
	cfg := open()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	pki := testutil.NewPKI(t, "ca")
	sc := pki.Server("broker")
	tlsSrv, err := tlsconf.New(tlsconf.Settings{CertFile: sc.CertFile, KeyFile: sc.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv, addrs := serveAll(t, cfg,
		broker.Listener{ProxyProtocol: 2, UseIdentityAsUsername: true, ProxyRequireCertificate: true},
		broker.Listener{ProxyProtocol: 2, ProxyRequireTLS: true},
		broker.Listener{ProxyProtocol: 2, TLS: tlsSrv.Config()})
	identity, requireTLS, ownTLS := addrs[1], addrs[2], addrs[3]
	src, dst := tcpAddr("192.0.2.44:50000"), tcpAddr("198.51.100.1:8883")
	withCert := &proxyproto.TLS{Client: proxyproto.ClientSSL | proxyproto.ClientCertConn | proxyproto.ClientCertSess,
		Version: "TLSv1.3", CommonName: "device-7", Cipher: "TLS_AES_256_GCM_SHA384"}

	head := proxyHeader(t, proxyproto.Header{Version: 2, Source: src, Destination: dst, TLS: withCert})
	if rc, err := proxyConnect(testutil.DialTCP(t, identity), head, "dev"); err != nil || rc != 0 {
		t.Fatalf("with a certificate: %v %v", rc, err)
	}
	if info, _ := srv.Session("dev"); info.Username != "device-7" || info.Remote != "192.0.2.44:50000" {
		t.Errorf("user name %q from %s, want device-7 from 192.0.2.44:50000", info.Username, info.Remote)
	}
	for name, tl := range map[string]*proxyproto.TLS{
		"no TLS":                    nil,
		"TLS without a certificate": {Client: proxyproto.ClientSSL, Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256"},
		"a certificate that failed": {Client: proxyproto.ClientSSL | proxyproto.ClientCertConn, Verify: 1, CommonName: "mallory"},
	} {
		head := proxyHeader(t, proxyproto.Header{Version: 2, Source: src, Destination: dst, TLS: tl})
		if rc, err := proxyConnect(testutil.DialTCP(t, identity), head, "x"); err == nil {
			t.Errorf("%s: CONNACK %v, want the connection closed", name, rc)
		}
	}

	head = proxyHeader(t, proxyproto.Header{Version: 2, Source: src, Destination: dst})
	if rc, err := proxyConnect(testutil.DialTCP(t, requireTLS), head, "x"); err == nil {
		t.Errorf("require TLS, none: CONNACK %v", rc)
	}
	head = proxyHeader(t, proxyproto.Header{Version: 2, Source: src, Destination: dst, TLS: &proxyproto.TLS{Client: proxyproto.ClientSSL}})
	if rc, err := proxyConnect(testutil.DialTCP(t, requireTLS), head, "tls-ok"); err != nil || rc != 0 {
		t.Errorf("require TLS, with TLS: %v %v", rc, err)
	}

	// The header, then the broker's own TLS handshake.
	roots := x509.NewCertPool()
	caPEM, _ := os.ReadFile(pki.CAFile)
	roots.AppendCertsFromPEM(caPEM)
	nc := testutil.DialTCP(t, ownTLS)
	nc.SetDeadline(time.Now().Add(testutil.Timeout))
	if _, err := nc.Write(proxyHeader(t, proxyproto.Header{Version: 2, Source: tcpAddr("192.0.2.45:50001"), Destination: dst})); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(nc, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if rc, err := proxyConnect(tc, nil, "own-tls"); err != nil || rc != 0 {
		t.Fatalf("PROXY then TLS: %v %v", rc, err)
	}
	if got := remoteOf(t, srv, "own-tls"); got != "192.0.2.45:50001" {
		t.Errorf("PROXY then TLS: address %q", got)
	}

	testutil.WaitFor(t, "the log lines", func() bool {
		s := logs.String()
		return strings.Contains(s, "Connection from 192.0.2.44:50000 negotiated TLSv1.3 cipher TLS_AES_256_GCM_SHA384") &&
			strings.Contains(s, "Connection from 192.0.2.44:50000 rejected, client did not provide a certificate.") &&
			strings.Contains(s, "Connection from 192.0.2.44:50000 rejected, client did not connect using TLS.") &&
			// Mosquitto 2.1's lines: the protocol level, the TLS the
			// broker negotiated itself.
			strings.Contains(s, "New client connected from 192.0.2.45:50001 as own-tls (p4, c1, k0, u'u').") &&
			strings.Contains(s, "Client own-tls negotiated TLSv1.3 cipher TLS_")
	})
}

// A PROXY listener's connection that sends nothing is closed after the
// CONNECT deadline, like any other.
func TestProxyProtocolSilent(t *testing.T) {
	cfg := open()
	cfg.ConnectTimeout = 200 * time.Millisecond
	_, addrs := serveAll(t, cfg, broker.Listener{ProxyProtocol: 1})
	nc := testutil.DialTCP(t, addrs[1])
	nc.Write([]byte("PROXY TCP4 1.2.3.4")) // and no more
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if _, err := io.ReadAll(nc); err != nil {
		t.Errorf("not closed by the broker: %v", err)
	}
}

// On a WebSocket listener the PROXY header precedes the HTTP request.
func TestProxyProtocolWebSocket(t *testing.T) {
	srv, addrs := serveAll(t, open(), broker.Listener{ProxyProtocol: 1, WebSocket: true})
	dial := func(head []byte) (net.Conn, error) {
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil && head != nil {
				_, err = nc.Write(head)
			}
			return nc, err
		}}}
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+addrs[1]+"/", &websocket.DialOptions{HTTPClient: client, Subprotocols: []string{"mqtt"}})
		if err != nil {
			return nil, err
		}
		nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
		t.Cleanup(func() { nc.Close() })
		return nc, nil
	}
	nc, err := dial(proxyHeader(t, proxyproto.Header{Version: 1, Source: tcpAddr("203.0.113.9:40009"), Destination: tcpAddr("198.51.100.1:8080")}))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := proxyConnect(nc, nil, "ws"); err != nil || rc != 0 {
		t.Fatalf("ws: %v %v", rc, err)
	}
	if got := remoteOf(t, srv, "ws"); got != "203.0.113.9:40009" {
		t.Errorf("WebSocket client's address %q", got)
	}
	if _, err := dial(nil); err == nil {
		t.Error("a WebSocket upgrade without a PROXY header was accepted")
	}
}
