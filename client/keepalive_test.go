package client_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// expectPing reads packets without answering PINGREQ and fails unless the
// next one is a PINGREQ arriving within d.
func expectPing(t *testing.T, c *testutil.Client, d time.Duration) {
	t.Helper()
	p, err := c.Read(d)
	if err != nil {
		t.Fatalf("waiting for PINGREQ: %v", err)
	}
	if _, ok := p.(*packet.Pingreq); !ok {
		t.Fatalf("got %v, want PINGREQ", p.Type())
	}
}

// TestKeepAlive checks that an idle client sends PINGREQ every keep alive
// interval and closes a connection whose server stops answering
// (dead-peer detection).
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	c, rc, cp := fs.dial(client.Options{KeepAlive: time.Second, PingTimeout: 500 * time.Millisecond}, nil)
	if cp.KeepAlive != 1 {
		t.Fatalf("CONNECT keep alive %d", cp.KeepAlive)
	}
	start := time.Now()
	expectPing(t, rc, 3*time.Second)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("PINGREQ after %v, before the keep alive interval", d)
	}
	rc.Send(&packet.Pingresp{})
	expectPing(t, rc, 3*time.Second)
	// No PINGRESP: the client gives up after PingTimeout.
	start = time.Now()
	rc.ExpectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("dead server detected after %v", d)
	}
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrPingTimeout) {
		t.Errorf("Err %v, want ErrPingTimeout", c.Err())
	}
}

// TestServerKeepAlive checks that the client uses the MQTT 5 Server Keep
// Alive instead of its own [MQTT-3.2.2-21].
func TestServerKeepAlive(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	ack := &packet.Connack{}
	ack.Properties.SetUint(packet.PropServerKeepAlive, 1)
	_, rc, cp := fs.dial(client.Options{ProtocolVersion: packet.Version5, KeepAlive: time.Hour}, ack)
	if cp.KeepAlive != 3600 {
		t.Fatalf("CONNECT keep alive %d", cp.KeepAlive)
	}
	expectPing(t, rc, 3*time.Second)
}

// TestKeepAliveBusy checks that a client that keeps sending does not
// ping, while one that only receives does (a keep alive counts both ways).
func TestKeepAliveDisabled(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	_, rc, cp := fs.dial(client.Options{KeepAlive: -1}, nil)
	if cp.KeepAlive != 0 {
		t.Fatalf("CONNECT keep alive %d", cp.KeepAlive)
	}
	rc.ExpectNothing(1500 * time.Millisecond)
}

// TestKeepAliveBrokers stays idle with a keep alive of one second against
// the real brokers, which close a connection silent for 1.5 times that:
// the pings keep it open.
func TestKeepAliveBrokers(t *testing.T) {
	t.Parallel()
	eachServer(t, servers(t, broker.Config{}), func(t *testing.T, srv server) {
		var pongs atomic.Int32
		c, _ := dial(t, client.Options{Address: srv.addr, KeepAlive: time.Second, CleanStart: true,
			OnPacket: func(d client.Direction, p packet.Packet) {
				if p.Type() == packet.TypePingresp {
					pongs.Add(1)
				}
			}})
		testutil.WaitFor(t, "three PINGRESPs", func() bool { return pongs.Load() >= 3 })
		if err := c.Err(); err != nil || !c.Connected() {
			t.Fatalf("connection ended: %v", err)
		}
	})
}
