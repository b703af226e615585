package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// timeout bounds every wait in these tests.
const timeout = 10 * time.Second

// server is a broker the tests run against.
type server struct {
	name string
	addr string
}

// servers starts midge in-process and a real Mosquitto, each on its own
// port. extra lines go into Mosquitto's configuration; cfg configures
// midge.
func servers(t *testing.T, cfg broker.Config, extra ...string) []server {
	t.Helper()
	cfg.AllowAnonymous = true
	return []server{
		{"midge", testutil.StartBroker(t, cfg).Addr},
		{"mosquitto", startMosquitto(t, extra...)},
	}
}

// startMosquitto runs Debian's mosquitto, logging only errors and
// warnings, with the extra configuration lines (see testutil.StartMosquitto).
func startMosquitto(t *testing.T, extra ...string) string {
	t.Helper()
	return testutil.StartMosquitto(t, append([]string{"persistence false", "log_dest stderr", "log_type error", "log_type warning"}, extra...)...)
}

// testContext returns a context that ends with the test or after timeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// testLogger sends the client's logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dial connects with opts (Logger defaulted) and closes the client when the
// test ends.
func dial(t *testing.T, opts client.Options) (*client.Client, *packet.Connack) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	c, ack, err := client.Dial(testContext(t), opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", opts.Address, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ack
}

// inbox collects the messages a client receives.
type inbox struct {
	ch chan *client.Message
}

func newInbox() *inbox { return &inbox{ch: make(chan *client.Message, 10000)} }

func (b *inbox) handler(m *client.Message) { b.ch <- m }

// next returns the next message or fails the test.
func (b *inbox) next(t *testing.T) *client.Message {
	t.Helper()
	select {
	case m := <-b.ch:
		return m
	case <-time.After(timeout):
		t.Fatal("no message")
		return nil
	}
}

// none fails the test if a message arrives within d.
func (b *inbox) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-b.ch:
		t.Fatalf("unexpected message %q %q", m.Topic, m.Payload)
	case <-time.After(d):
	}
}

// connTracker is an Options.Dial that records the connections it makes, so
// that a test can break them.
type connTracker struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
	fail  bool // refuse new connections
}

func (d *connTracker) dial(ctx context.Context) (net.Conn, error) {
	d.mu.Lock()
	fail := d.fail
	d.mu.Unlock()
	if fail {
		return nil, errors.New("dial refused by the test")
	}
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, nc)
	d.mu.Unlock()
	return nc, nil
}

// count returns how many connections were made.
func (d *connTracker) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// breakLast closes the last connection, as a network failure would.
func (d *connTracker) breakLast() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns[len(d.conns)-1].Close()
}

// fakeServer is a scripted MQTT server: the test accepts connections and
// exchanges single packets on them.
type fakeServer struct {
	t     *testing.T
	ln    net.Listener
	Addr  string
	conns chan net.Conn
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, ln)
}

func serveFake(t *testing.T, ln net.Listener) *fakeServer {
	s := &fakeServer{t: t, ln: ln, Addr: ln.Addr().String(), conns: make(chan net.Conn, 16)}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(s.conns)
				return
			}
			s.conns <- nc
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for nc := range s.conns {
			nc.Close()
		}
	})
	return s
}

// accept returns the next connection, read with protocol version v: the
// server side of one scripted connection, which answers PINGREQs.
func (s *fakeServer) accept(v byte) *testutil.Client {
	s.t.Helper()
	select {
	case nc, ok := <-s.conns:
		if !ok {
			s.t.Fatal("listener closed")
		}
		rc := testutil.NewClient(s.t, nc, v)
		rc.AnswerPings = true
		rc.Wait = timeout
		return rc
	case <-time.After(timeout):
		s.t.Fatal("no connection")
		return nil
	}
}

// handshake accepts a connection, expects CONNECT and answers with ack
// (Success if nil). It returns the connection and the CONNECT.
func (s *fakeServer) handshake(v byte, ack *packet.Connack) (*testutil.Client, *packet.Connect) {
	s.t.Helper()
	rc := s.accept(v)
	cp := testutil.Expect[*packet.Connect](rc)
	if cp.ProtocolVersion != v {
		s.t.Fatalf("CONNECT version %d, want %d", cp.ProtocolVersion, v)
	}
	if ack == nil {
		ack = &packet.Connack{}
	}
	rc.Send(ack)
	return rc, cp
}

// dial runs client.Dial with opts (Address and Logger filled in) against
// the fake server, answering the CONNECT with ack (Success if nil). The
// client is closed when the test ends.
func (s *fakeServer) dial(opts client.Options, ack *packet.Connack) (*client.Client, *testutil.Client, *packet.Connect) {
	s.t.Helper()
	opts.Address = s.Addr
	if opts.Logger == nil {
		opts.Logger = testLogger(s.t)
	}
	v := opts.ProtocolVersion
	if v == 0 {
		v = packet.Version311
	}
	type result struct {
		c   *client.Client
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, _, err := client.Dial(testContext(s.t), opts)
		res <- result{c, err}
	}()
	rc, cp := s.handshake(v, ack)
	r := <-res
	if r.err != nil {
		s.t.Fatalf("Dial: %v", r.err)
	}
	s.t.Cleanup(func() { r.c.Close() })
	return r.c, rc, cp
}

// versions are the protocol versions, named for subtests.
var versions = []version{{"v3.1", packet.Version31}, {"v3.1.1", packet.Version311}, {"v5", packet.Version5}}

// version is an MQTT protocol version the tests speak.
type version struct {
	name string
	v    byte
}

// eachServer runs body as a parallel subtest, named after the server,
// against each of srvs.
func eachServer(t *testing.T, srvs []server, body func(t *testing.T, srv server)) {
	t.Helper()
	for _, srv := range srvs {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			body(t, srv)
		})
	}
}

// eachServerVersion runs body as a parallel subtest against each of srvs
// in each protocol version, named "server/version".
func eachServerVersion(t *testing.T, srvs []server, body func(t *testing.T, srv server, ver version)) {
	t.Helper()
	for _, srv := range srvs {
		for _, ver := range versions {
			t.Run(srv.name+"/"+ver.name, func(t *testing.T) {
				t.Parallel()
				body(t, srv, ver)
			})
		}
	}
}

// uniqueID returns a client identifier (or topic prefix) that fits MQTT
// 3.1's 23 characters when tag has at most 14.
func uniqueID(tag string) string { return fmt.Sprintf("%s-%08x", tag, rand.Uint32()) }
