package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/tlsconf"
	"github.com/midge-mqtt/midge/packet"
)

// serveListeners starts a broker with one TCP listener and the given
// extra listeners on 127.0.0.1:0, returning the TCP address and the extra
// addresses in order.
func serveListeners(t *testing.T, cfg broker.Config, extra ...broker.Listener) (string, []string) {
	t.Helper()
	srv := broker.New(cfg)
	ctx := context.Background()
	var addrs []string
	listen := func(l broker.Listener) string {
		if l.Address == "" {
			l.Address = "127.0.0.1:0"
		}
		ln, err := broker.Listen(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ctx, ln, l)
		return ln.Addr().String()
	}
	tcp := listen(broker.Listener{})
	for _, l := range extra {
		addrs = append(addrs, listen(l))
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	return tcp, addrs
}

// wsClient is a raw MQTT client over a WebSocket.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
	nc net.Conn
	r  *packet.Reader
}

func dialWS(t *testing.T, url string, tlsCfg *tls.Config, protocols ...string) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	opts := &websocket.DialOptions{Subprotocols: protocols}
	if tlsCfg != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	}
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, resp, err
	}
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	t.Cleanup(func() { nc.Close() })
	c := &wsClient{t: t, ws: ws, nc: nc, r: packet.NewReader(nc, 0)}
	c.r.Version = 4
	return c, resp, nil
}

func (c *wsClient) frame(b []byte) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) next() packet.Packet {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	p, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

func enc(p packet.Packet) []byte {
	b, err := packet.Append(nil, p, 4)
	if err != nil {
		panic(err)
	}
	return b
}

// MQTT over WebSockets: the mqtt subprotocol, binary frames carrying a
// packet split across frames or several packets in one [MQTT-6.0.0-2],
// delivery between WebSocket and TCP clients both ways.
func TestWebSocketListener(t *testing.T) {
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("<p>hello</p>"), 0o644)
	tcp, addrs := serveListeners(t, open(), broker.Listener{WebSocket: true, HTTPDir: www})
	url := "ws://" + addrs[0] + "/mqtt"

	ws, resp, err := dialWS(t, url, nil, "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
		t.Errorf("subprotocol %q, want mqtt [MQTT-6.0.0-4]", got)
	}
	connect := enc(&packet.Connect{ProtocolVersion: 4, ClientID: "ws", CleanStart: true, KeepAlive: 60})
	subscribe := enc(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "x/#", QoS: 1}}})
	ws.frame(connect[:3])                       // a packet across two frames...
	ws.frame(append(connect[3:], subscribe...)) // ...and two in one
	if _, ok := ws.next().(*packet.Connack); !ok {
		t.Fatal("no CONNACK")
	}
	if _, ok := ws.next().(*packet.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	p := connect_(t, tcp, "tcp")
	p.Subscribe(1, "y/#", 0)
	pub(t, p, 1, "x/1", "to ws", 1, false)
	if m, ok := ws.next().(*packet.Publish); !ok || string(m.Payload) != "to ws" {
		t.Fatalf("WebSocket subscriber got %+v", m)
	} else {
		ws.frame(enc(&packet.Ack{Kind: packet.TypePuback, PacketID: m.PacketID}))
	}
	ws.frame(enc(&packet.Publish{Topic: "y/1", Payload: []byte("from ws")}))
	expectPublish(t, p, "y/1", "from ws")

	// A text frame closes the connection [MQTT-6.0.0-1].
	if err := ws.ws.Write(context.Background(), websocket.MessageText, enc(&packet.Pingreq{})); err != nil {
		t.Fatal(err)
	}
	ws.nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if _, err := ws.r.ReadPacket(); err == nil {
		t.Error("connection still open after a text frame")
	}

	// A wrong subprotocol is refused; none at all is accepted, as Mosquitto does.
	if _, resp, err := dialWS(t, url, nil, "chat"); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("subprotocol chat: err %v resp %v", err, resp)
	}
	if _, _, err := dialWS(t, url, nil); err != nil {
		t.Errorf("no subprotocol: %v", err)
	}
	// http_dir serves files to plain HTTP requests.
	res, err := http.Get("http://" + addrs[0] + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "<p>hello</p>" {
		t.Errorf("http_dir: %d %q", res.StatusCode, body)
	}
}

// websockets_headers_size bounds the request line and headers of an
// upgrade exactly: a request over it gets 431, one under it is served.
func TestWebSocketHeadersSize(t *testing.T) {
	_, addrs := serveListeners(t, open(), broker.Listener{WebSocket: true, WebSocketHeadersSize: 1024})
	get := func(cookie int) int {
		req, _ := http.NewRequest("GET", "http://"+addrs[0]+"/", nil)
		req.Header.Set("Cookie", strings.Repeat("c", cookie))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(1100); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1,100-byte cookie: status %d, want 431", code)
	}
	if code := get(8000); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("8,000-byte cookie: status %d, want 431", code)
	}
	if code := get(700); code != http.StatusNotFound {
		t.Errorf("700-byte cookie: status %d, want 404 (served, no http_dir)", code)
	}
}

// connect_ connects a raw TCP client to addr.
func connect_(t *testing.T, addr, id string) *testutil.Client {
	c, _ := testutil.Connect(t, addr, 4, id)
	return c
}

// TLS listeners: server-only TLS, required client certificates (missing,
// other CA, expired refused), the identity as user name for the
// Authorizer, and a plaintext client on the TLS port closed without harm.
func TestTLSListener(t *testing.T) {
	pki := testutil.NewPKI(t, "ca")
	other := testutil.NewPKI(t, "other")
	sc := pki.Server("broker")
	plainTLS, err := tlsconf.New(tlsconf.Settings{CertFile: sc.CertFile, KeyFile: sc.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	mutual, err := tlsconf.New(tlsconf.Settings{CertFile: sc.CertFile, KeyFile: sc.KeyFile, CAFile: pki.CAFile, RequireCertificate: true})
	if err != nil {
		t.Fatal(err)
	}
	az := rules(func(c *broker.Client, topic string, a broker.Access) bool {
		return a != broker.Write || c.Username == "alice" || c.ID == "marker" // alice (and the test's marker) may publish
	})
	cfg := open()
	cfg.Authorizers = []broker.Authorizer{az}
	tcp, addrs := serveListeners(t, cfg,
		broker.Listener{TLS: plainTLS.Config()},
		broker.Listener{TLS: mutual.Config(), UseIdentityAsUsername: true},
		broker.Listener{TLS: plainTLS.Config(), WebSocket: true})
	watch := connect_(t, tcp, "watch")
	watch.Subscribe(1, "#", 0)

	roots := x509.NewCertPool()
	caPEM, _ := os.ReadFile(pki.CAFile)
	roots.AppendCertsFromPEM(caPEM)
	dialTLS := func(addr string, cert *testutil.Cert) (net.Conn, error) {
		cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		if cert != nil {
			kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{kp}
		}
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: testutil.Timeout}, "tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { nc.Close() })
		return nc, nil
	}
	// mqttOver connects over nc as id and publishes to topic, returning the
	// CONNACK code (or an error).
	mqttOver := func(nc net.Conn, id, topicName string) (packet.ReasonCode, error) {
		nc.SetDeadline(time.Now().Add(testutil.Timeout))
		nc.Write(enc(&packet.Connect{ProtocolVersion: 4, ClientID: id, CleanStart: true}))
		r := packet.NewReader(nc, 0)
		r.Version = 4
		p, err := r.ReadPacket()
		if err != nil {
			return 0, err
		}
		ack := p.(*packet.Connack)
		if ack.ReasonCode == 0 {
			nc.Write(enc(&packet.Publish{Topic: topicName, Payload: []byte(id)}))
			nc.Write(enc(&packet.Pingreq{}))
			if _, err := r.ReadPacket(); err != nil {
				return 0, err
			}
		}
		return ack.ReasonCode, nil
	}

	// publishTLS connects over TLS to addr with cert (nil: none) as
	// client id and publishes to topicName; who names it in failures.
	publishTLS := func(who, addr string, cert *testutil.Cert, id, topicName string) {
		t.Helper()
		nc, err := dialTLS(addr, cert)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if rc, err := mqttOver(nc, id, topicName); err != nil || rc != 0 {
			t.Fatalf("%s: %v %v", who, rc, err)
		}
	}
	publishTLS("server-only TLS", addrs[0], nil, "anon-tls", "tls/anon")
	// The Authorizer refuses anonymous writes: nothing arrives from it.

	alice := pki.Client("alice")
	publishTLS("alice", addrs[1], &alice, "a", "tls/alice")
	expectPublish(t, watch, "tls/alice", "a") // the CN "alice" became the user name
	bob := pki.Client("bob")
	publishTLS("bob", addrs[1], &bob, "b", "tls/bob")
	pub(t, connect_(t, tcp, "marker"), 0, "marker", "m", 0, false)
	if m := testutil.Expect[*packet.Publish](watch); m.Topic != "marker" {
		t.Errorf("bob's publish got through the ACL: %+v", m) // bob may not write
	}

	expired := pki.ExpiredClient("old")
	stranger := other.Client("mallory")
	for name, cert := range map[string]*testutil.Cert{"none": nil, "expired": &expired, "other CA": &stranger} {
		nc, err := dialTLS(addrs[1], cert)
		if err == nil {
			_, err = mqttOver(nc, "x", "tls/x")
		}
		if err == nil {
			t.Errorf("client certificate %s accepted", name)
		}
	}

	// Plain MQTT on the TLS port: that connection is closed, others go on.
	raw, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	raw.Write(enc(&packet.Connect{ProtocolVersion: 4, ClientID: "plain", CleanStart: true}))
	raw.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if _, err := io.ReadAll(raw); err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("plaintext on TLS: %v", err)
	}
	raw.Close()

	// wss.
	ws, _, err := dialWS(t, "wss://"+addrs[2]+"/", &tls.Config{RootCAs: roots, ServerName: "localhost"}, "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	ws.frame(enc(&packet.Connect{ProtocolVersion: 4, ClientID: "wss", CleanStart: true}))
	if _, ok := ws.next().(*packet.Connack); !ok {
		t.Fatal("wss: no CONNACK")
	}
}

// A Unix socket listener, whose stale socket file from an earlier run is
// replaced.
func TestUnixListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "midge.sock")
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close() // leaves the socket file behind, as a crashed broker would
	_, addrs := serveListeners(t, open(), broker.Listener{Network: "unix", Address: path})
	nc, err := net.Dial("unix", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(enc(&packet.Connect{ProtocolVersion: 4, ClientID: "u", CleanStart: true}))
	r := packet.NewReader(nc, 0)
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if p, err := r.ReadPacket(); err != nil || p.Type() != packet.TypeConnack {
		t.Fatalf("%v %v", p, err)
	}
}
