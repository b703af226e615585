package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// wsBridge is a WebSocket server that accepts the MQTT subprotocols and
// bridges each connection to an MQTT server's TCP address.
type wsBridge struct {
	URL    string
	mu     sync.Mutex
	paths  []string
	protos []string
}

func startWSBridge(t *testing.T, backend string) *wsBridge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &wsBridge{URL: "ws://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt", "mqttv3.1"}})
		if err != nil {
			return
		}
		b.mu.Lock()
		b.paths = append(b.paths, r.URL.Path)
		b.protos = append(b.protos, ws.Subprotocol())
		b.mu.Unlock()
		nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
		defer nc.Close()
		up, err := net.Dial("tcp", backend)
		if err != nil {
			return
		}
		defer up.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(up, nc); done <- struct{}{} }()
		go func() { io.Copy(nc, up); done <- struct{}{} }()
		<-done
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// TestWebSocket runs publish and subscribe over WebSocket, for each version,
// through a bridge to midge.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	srv := servers(t, broker.Config{})[0]
	bridge := startWSBridge(t, srv.addr)
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			in := newInbox()
			topic := uniqueID("ws")
			c, _ := dial(t, client.Options{Address: bridge.URL, ProtocolVersion: ver.v, ClientID: uniqueID("ws"), CleanStart: true, OnMessage: in.handler})
			if _, err := c.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 2}); err != nil {
				t.Fatal(err)
			}
			big := make([]byte, 100<<10) // larger than a default WebSocket read limit
			for q := byte(0); q <= 2; q++ {
				if err := c.Publish(ctx, &client.Message{Topic: topic, QoS: q, Payload: big}); err != nil {
					t.Fatal(err)
				}
				if m := in.next(t); len(m.Payload) != len(big) || m.QoS != q {
					t.Fatalf("got %d bytes QoS %d", len(m.Payload), m.QoS)
				}
			}
			if err := c.Disconnect(ctx, 0, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Cleanup(func() {
		bridge.mu.Lock()
		defer bridge.mu.Unlock()
		for i, p := range bridge.paths {
			if p != "/mqtt" {
				t.Errorf("path %q, want the default /mqtt", p)
			}
			if bridge.protos[i] != "mqtt" && bridge.protos[i] != "mqttv3.1" {
				t.Errorf("subprotocol %q", bridge.protos[i])
			}
		}
	})
}

// TestUnixSocket connects over a Unix domain socket.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mqtt.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	fs := serveFake(t, ln)
	fs.Addr = "unix://" + path
	_, rc, _ := fs.dial(client.Options{ClientID: "unix"}, nil)
	rc.Send(&packet.Disconnect{})
}

// TestTLS connects with mqtts:// to a TLS server whose certificate the
// caller's CA pool trusts, and fails against an untrusted one.
func TestTLS(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "midge test CA")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.TLSServer("server")}})
	if err != nil {
		t.Fatal(err)
	}
	fs := serveFake(t, ln)
	port := fs.Addr[len("127.0.0.1:"):]
	fs.Addr = "mqtts://127.0.0.1:" + port
	c, rc, _ := fs.dial(client.Options{TLS: &tls.Config{RootCAs: pki.Pool()}}, nil)
	if err := c.Publish(testContext(t), &client.Message{Topic: "over/tls", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if p := testutil.Expect[*packet.Publish](rc); p.Topic != "over/tls" {
		t.Fatalf("got %q", p.Topic)
	}
	// Without the CA: the handshake fails.
	go func() {
		if nc, ok := <-fs.conns; ok {
			nc.(*tls.Conn).Handshake()
			nc.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, _, err = client.Dial(ctx, client.Options{Address: "ssl://127.0.0.1:" + port})
	var ue x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &ue) {
		t.Errorf("untrusted server: %v", err)
	}
}
