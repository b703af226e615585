package testutil

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// Timeout bounds every wait in these helpers.
const Timeout = 5 * time.Second

// Broker is a running broker.Server with one TCP listener on 127.0.0.1.
type Broker struct {
	*broker.Server
	Addr     string // host:port of the listener
	done     chan error
	stopOnce sync.Once
}

// StartBroker starts a Server for cfg on 127.0.0.1:0 and shuts it down when
// the test ends. Its logs go to t.Log. If cfg.Logger is nil and the
// MIDGE_TEST_LOG environment variable is unset, only warnings and errors are
// logged.
//
// If cfg has no Store and MIDGE_TEST_STORE is "memory" or "bolt", the broker
// gets one of that kind (a bolt file in a temporary directory), so that the
// same behaviour tests run with persistence on: scripts/test runs the broker
// package both ways.
func StartBroker(t testing.TB, cfg broker.Config) *Broker {
	t.Helper()
	if cfg.Logger == nil {
		level := slog.LevelWarn
		if os.Getenv("MIDGE_TEST_LOG") != "" {
			level = slog.LevelDebug
		}
		cfg.Logger = slog.New(slog.NewTextHandler(&tWriter{t: t}, &slog.HandlerOptions{Level: level}))
	}
	if cfg.Store == nil {
		cfg.Store = testStore(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{Server: broker.New(cfg), Addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { b.done <- b.Serve(context.Background(), ln, broker.Listener{}) }()
	t.Cleanup(func() { b.Stop(t) })
	return b
}

// StoreKind returns the kind of Store StartBroker gives brokers configured
// without one: "memory", "bolt", or "" for none (MIDGE_TEST_STORE).
func StoreKind() string { return os.Getenv("MIDGE_TEST_STORE") }

// testStore returns the Store MIDGE_TEST_STORE asks for, closed when the
// test ends (after the broker stops), or nil.
func testStore(t testing.TB) broker.Store {
	var st interface {
		broker.Store
		Close() error
	}
	switch kind := StoreKind(); kind {
	case "":
		return nil
	case "memory":
		st = store.NewMemory()
	case "bolt":
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "midge.db"), store.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st = s
	default:
		t.Fatalf("MIDGE_TEST_STORE=%q: want memory or bolt", kind)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the %s store: %v", os.Getenv("MIDGE_TEST_STORE"), err)
		}
	})
	return st
}

// Stop shuts the broker down and checks that Serve returned
// ErrServerClosed. It may be called more than once.
func (b *Broker) Stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	b.stopOnce.Do(func() {
		if err := <-b.done; !errors.Is(err, broker.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
}

// tWriter sends log lines to t.Log until the test ends.
type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		func() {
			defer func() {
				if recover() != nil { // logging after the test ended
					w.done = true
				}
			}()
			w.t.Log(strings.TrimRight(string(p), "\n"))
		}()
	}
	return len(p), nil
}

// Client is a raw MQTT client: it sends and receives single packets and
// checks nothing on its own, so tests can break the protocol on purpose.
type Client struct {
	t  testing.TB
	nc net.Conn
	r  *packet.Reader
	// Version is the protocol version used to encode and decode.
	Version byte
	// AnswerPings makes Next (and so Expect) answer a PINGREQ with a
	// PINGRESP and pass over it, and ExpectNothing pass over PINGREQs: for
	// a test that plays the server to a client with a keep alive.
	AnswerPings bool
	// Wait bounds Next and ExpectClosed; Timeout if zero.
	Wait time.Duration
}

// Dial connects to addr without sending anything. The connection is closed
// when the test ends.
func Dial(t testing.TB, addr string, version byte) *Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(t, nc, version)
}

// NewClient makes a Client of nc, a connection the test set up (either
// end of it: a test that plays the server accepts nc), encoding and
// decoding for version. nc is closed when the test ends.
func NewClient(t testing.TB, nc net.Conn, version byte) *Client {
	t.Cleanup(func() { nc.Close() })
	c := &Client{t: t, nc: nc, r: packet.NewReader(nc, 0), Version: version}
	c.r.Version = version
	return c
}

// wait is how long Next and ExpectClosed wait.
func (c *Client) wait() time.Duration {
	if c.Wait > 0 {
		return c.Wait
	}
	return Timeout
}

// Connect dials addr, sends CONNECT for client id with clean start and the
// given version, and expects a successful CONNACK, which it returns.
func Connect(t testing.TB, addr string, version byte, id string) (*Client, *packet.Connack) {
	t.Helper()
	c := Dial(t, addr, version)
	ack := c.Connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60})
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v for %q", ack.ReasonCode, id)
	}
	return c, ack
}

// Connect sends cp (with c.Version filled in) and returns the CONNACK.
func (c *Client) Connect(cp *packet.Connect) *packet.Connack {
	c.t.Helper()
	if cp.ProtocolVersion == 0 {
		cp.ProtocolVersion = c.Version
	}
	c.Send(cp)
	return Expect[*packet.Connack](c)
}

// Send writes p encoded for c.Version.
func (c *Client) Send(p packet.Packet) {
	c.t.Helper()
	b, err := packet.Append(nil, p, c.Version)
	if err != nil {
		c.t.Fatalf("encode %v: %v", p.Type(), err)
	}
	c.SendRaw(b)
}

// SendRaw writes b as it is.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Read reads the next packet within d.
func (c *Client) Read(d time.Duration) (packet.Packet, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.r.ReadPacket()
}

// Next returns the next packet, failing the test if none arrives within
// Timeout (or c.Wait). With AnswerPings, PINGREQs are answered and passed
// over.
func (c *Client) Next() packet.Packet {
	c.t.Helper()
	for {
		p, err := c.Read(c.wait())
		if err != nil {
			c.t.Fatalf("reading a packet: %v", err)
		}
		if _, ok := p.(*packet.Pingreq); ok && c.AnswerPings {
			c.Send(&packet.Pingresp{})
			continue
		}
		return p
	}
}

// Expect reads the next packet and fails the test unless it is a T.
func Expect[T packet.Packet](c *Client) T {
	c.t.Helper()
	p := c.Next()
	v, ok := p.(T)
	if !ok {
		var zero T
		c.t.Fatalf("got %v %+v, want %T", p.Type(), p, zero)
	}
	return v
}

// NextPublish returns the next PUBLISH, passing over other packets (such
// as acknowledgements of the test's own messages).
func (c *Client) NextPublish() *packet.Publish {
	c.t.Helper()
	for {
		if p, ok := c.Next().(*packet.Publish); ok {
			return p
		}
	}
}

// ExpectNothing fails the test if a packet arrives within d (with
// AnswerPings, one other than PINGREQ, which is answered).
func (c *Client) ExpectNothing(d time.Duration) {
	c.t.Helper()
	end := time.Now().Add(d)
	for {
		p, err := c.Read(time.Until(end))
		if err == nil {
			if _, ok := p.(*packet.Pingreq); ok && c.AnswerPings {
				c.Send(&packet.Pingresp{})
				continue
			}
			c.t.Fatalf("unexpected %v %+v", p.Type(), p)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			c.t.Fatalf("connection failed instead of staying quiet: %v", err)
		}
		return
	}
}

// ExpectClosed fails the test unless the other end closes the connection
// within Timeout (or c.Wait). Packets before the close are returned.
func (c *Client) ExpectClosed() []packet.Packet {
	c.t.Helper()
	var got []packet.Packet
	for {
		p, err := c.Read(c.wait())
		if err == nil {
			got = append(got, p)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after %v (got %d packets)", c.wait(), len(got))
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
			c.t.Logf("connection ended with %v", err)
		}
		return got
	}
}

// Close closes the network connection without DISCONNECT.
func (c *Client) Close() { c.nc.Close() }

// Subscribe subscribes to filter at qos and expects a SUBACK granting it.
func (c *Client) Subscribe(id uint16, filter string, qos byte) *packet.Suback {
	c.t.Helper()
	c.Send(&packet.Subscribe{PacketID: id, Subscriptions: []packet.Subscription{{Filter: filter, QoS: qos}}})
	ack := Expect[*packet.Suback](c)
	if ack.PacketID != id || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != packet.ReasonCode(qos) {
		c.t.Fatalf("SUBACK %+v for %q QoS %d", ack, filter, qos)
	}
	return ack
}
