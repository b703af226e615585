package bridge_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// tLog sends a bridge's logs to t.Log while the test runs.
type tLog struct{ t testing.TB }

func (w tLog) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

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

// waitFor waits until cond holds, failing the test after testutil.Timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitState(t *testing.T, b *bridge.Bridge, s bridge.State) {
	t.Helper()
	waitFor(t, "bridge "+s.String(), func() bool { return b.Status().State == s })
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
