package bridge_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// tLog sends a bridge's logs to t.Log while the test runs.
type tLog struct{ t testing.TB }

func (w tLog) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// anonBroker starts a broker that lets clients in without credentials,
// stopped when the test ends.
func anonBroker(t *testing.T) *testutil.Broker {
	t.Helper()
	return testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
}

// subscriber connects a client named id to addr with protocol v and
// subscribes it to filter at qos.
func subscriber(t *testing.T, addr string, v byte, id, filter string, qos byte) *testutil.Client {
	t.Helper()
	c, _ := testutil.Connect(t, addr, v, id)
	c.Subscribe(1, filter, qos)
	return c
}

// startPair starts a remote and a local broker that let clients in
// without credentials, and on the remote a subscriber rsub (protocol v) to
// filter at QoS 1.
func startPair(t *testing.T, v byte, filter string) (remote, local *testutil.Broker, rsub *testutil.Client) {
	t.Helper()
	remote, local = anonBroker(t), anonBroker(t)
	return remote, local, subscriber(t, remote.Addr, v, "rsub", filter, 1)
}

// startBridge runs a bridge for cfg on local until the test ends.
func startBridge(t *testing.T, cfg bridge.Config, local bridge.Local) *bridge.Bridge {
	t.Helper()
	cfg.ResolveIDs("testhost")
	log := slog.New(slog.NewTextHandler(tLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := bridge.New(cfg, local, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// As the broker command does: the local side subscribes before the
	// test publishes.
	if err := b.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(testutil.Timeout):
			t.Error("bridge did not stop")
		}
	})
	return b
}

// startConnected runs a bridge for cfg on local (as startBridge) and waits
// until it is connected to the remote.
func startConnected(t *testing.T, cfg bridge.Config, local bridge.Local) *bridge.Bridge {
	t.Helper()
	b := startBridge(t, cfg, local)
	waitState(t, b, bridge.Connected)
	return b
}

// waitState waits until b is in state s.
func waitState(t *testing.T, b *bridge.Bridge, s bridge.State) {
	t.Helper()
	testutil.WaitFor(t, "bridge "+s.String(), func() bool { return b.Status().State == s })
}

// waitAddress waits until b is connected to the remote at addr (for as
// long as testutil.WaitFor waits).
func waitAddress(t *testing.T, b *bridge.Bridge, addr string) {
	t.Helper()
	testutil.WaitFor(t, "connected to "+addr, func() bool {
		st := b.Status()
		return st.State == bridge.Connected && st.Address == addr
	})
}

// waitRefused waits until b's last error contains part (what it waits for
// is named what), and fails the test with connected if b is connected then.
func waitRefused(t *testing.T, b *bridge.Bridge, what, part, connected string) {
	t.Helper()
	testutil.WaitFor(t, what, func() bool { return strings.Contains(b.Status().LastError, part) })
	if b.Status().State == bridge.Connected {
		t.Fatal(connected)
	}
}

// config returns a bridge config to addr with topics.
func config(addr string, v byte, topics ...bridge.Topic) bridge.Config {
	c := bridge.Defaults("test")
	c.Addresses = []string{addr}
	c.ProtocolVersion = v
	c.Topics = topics
	c.Restart = bridge.Backoff{Constant: 50 * time.Millisecond}
	return c
}

// configOne returns a bridge config to addr with one topic: filter in
// direction dir, without prefixes.
func configOne(t *testing.T, addr string, v byte, dir bridge.Direction, filter string) bridge.Config {
	t.Helper()
	return config(addr, v, mustTopic(t, filter, dir, "", ""))
}

// mustTopic returns the bridge topic of NewTopic at QoS 1.
func mustTopic(t *testing.T, pattern string, dir bridge.Direction, lp, rp string) bridge.Topic {
	t.Helper()
	top, err := bridge.NewTopic(pattern, dir, 1, lp, rp)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// remoteAt serves a broker on addr (with st, which outlives it) until stop.
func remoteAt(t *testing.T, addr string, st broker.Store) (stop func()) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // the port of the stopped one is being released
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := broker.New(broker.Config{AllowAnonymous: true, Store: st, MaxQueuedMessages: 1 << 20})
	done := make(chan struct{})
	go func() { srv.Serve(context.Background(), ln, broker.Listener{}); close(done) }()
	return func() {
		srv.Close()
		<-done
	}
}

// openBolt opens a bolt store in a new temporary directory, closed when
// the test ends (after the brokers started later have stopped).
func openBolt(t *testing.T) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "bolt.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return st
}

// offline waits until the session id exists and is offline (the bridge's
// Prime has disconnected it).
func offline(t *testing.T, srv *broker.Server, id string) {
	t.Helper()
	testutil.WaitFor(t, id+" offline", func() bool {
		si, ok := srv.Session(id)
		return ok && !si.Connected
	})
}

// publish sends a PUBLISH from c and waits for its acknowledgement.
func publish(t *testing.T, c *testutil.Client, id uint16, topic, payload string, qos byte) {
	t.Helper()
	c.Send(&packet.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, PacketID: id})
	switch qos {
	case 1:
		testutil.Expect[*packet.Ack](c)
	case 2:
		testutil.Expect[*packet.Ack](c)
		c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: id})
		testutil.Expect[*packet.Ack](c)
	}
}

// expectPublish reads the next application message, acknowledging it.
func expectPublish(t *testing.T, c *testutil.Client) *packet.Publish {
	t.Helper()
	for {
		p := c.Next()
		switch p := p.(type) {
		case *packet.Publish:
			switch p.QoS {
			case 1:
				c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
			case 2:
				c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
			}
			return p
		case *packet.Ack:
			if p.Kind == packet.TypePubrel {
				c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
			}
		default:
			t.Fatalf("unexpected %v", p.Type())
		}
	}
}

// expectQuiet fails the test if an application message arrives within d;
// PUBRELs of messages received before are answered.
func expectQuiet(t *testing.T, c *testutil.Client, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		p, err := c.Read(left)
		if err != nil {
			return
		}
		if a, ok := p.(*packet.Ack); ok && a.Kind == packet.TypePubrel {
			c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: a.PacketID})
			continue
		}
		t.Fatalf("unexpected %v %+v", p.Type(), p)
	}
}
