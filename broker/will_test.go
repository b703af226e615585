package broker_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

func willConnect(v byte, id string, delay uint32, expiry uint32) *packet.Connect {
	cp := &packet.Connect{ProtocolVersion: v, ClientID: id, CleanStart: true, KeepAlive: 60,
		Will: &packet.Will{Topic: "will/" + id, Payload: []byte("gone"), QoS: 1}}
	if v == 5 {
		if delay > 0 {
			cp.Will.Properties.SetUint(packet.PropWillDelay, delay)
		}
		if expiry > 0 {
			cp.Properties.SetUint(packet.PropSessionExpiry, expiry)
			cp.CleanStart = false
		}
	}
	return cp
}

// The will is published when the network connection is lost, and not after
// DISCONNECT 0x00 [MQTT-3.1.2-8], [MQTT-3.1.2-10]; DISCONNECT 0x04 keeps it
// [MQTT-3.14.4-3].
func TestWillOnAbnormalClose(t *testing.T) {
	b := start(t, open())
	w := subscriber(t, b, 5, "watcher", "will/#", 1)
	for _, v := range []byte{3, 4, 5} {
		c, _ := connectWith(t, b, willConnect(v, "lost", 0, 0))
		c.Close()
		m := expectPublish(t, w, "will/lost", "gone")
		if m.QoS != 1 {
			t.Errorf("v%d: will QoS %d", v, m.QoS)
		}
		ackAll(t, w, m)

		c, _ = connectWith(t, b, willConnect(v, "clean", 0, 0))
		disconnect(c)
	}
	c, _ := connectWith(t, b, willConnect(5, "with-will", 0, 0))
	c.Send(&packet.Disconnect{ReasonCode: packet.DisconnectWithWill})
	c.ExpectClosed()
	ackAll(t, w, expectPublish(t, w, "will/with-will", "gone"))
	// The clean disconnects published nothing: the next will is the next
	// message.
	c, _ = connectWith(t, b, willConnect(4, "last", 0, 0))
	c.Close()
	expectPublish(t, w, "will/last", "gone")
}

// The will is published on keep alive timeout and on a protocol error
// [MQTT-3.1.2-8].
func TestWillOnTimeoutAndProtocolError(t *testing.T) {
	b := start(t, open())
	w := subscriber(t, b, 4, "watcher", "will/#", 0)
	cp := willConnect(4, "silent", 0, 0)
	cp.KeepAlive = 1
	connectWith(t, b, cp)
	expectPublish(t, w, "will/silent", "gone")

	c, _ := connectWith(t, b, willConnect(5, "rude", 0, 0))
	c.SendRaw([]byte{0x30, 0x06, 0x00, 0x03, 'a', '+', 'b', 0x00}) // wildcard in a topic name
	expectDisconnect(t, c, packet.ProtocolError)
	expectPublish(t, w, "will/rude", "gone")
}

// Taking over a client identifier publishes the old connection's will
// (it is closed by the server) unless a Will Delay lets the new connection
// cancel it [MQTT-3.1.3-9].
func TestWillOnTakeover(t *testing.T) {
	b := start(t, open())
	w := subscriber(t, b, 5, "watcher", "will/#", 0)
	connectWith(t, b, willConnect(4, "dup", 0, 0))
	connectWith(t, b, &packet.Connect{ProtocolVersion: 4, ClientID: "dup", CleanStart: true})
	expectPublish(t, w, "will/dup", "gone")

	connectWith(t, b, willConnect(5, "delayed", 5, 60))
	connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "delayed", CleanStart: false, Properties: expiryProps(60)})
	expectNoMore(t, w, "delayed will published despite the reconnect")
}

// Will Delay Interval: the will waits, a reconnect in time cancels it, and a
// session that ends first publishes it at once [MQTT-3.1.3-9].
func TestWillDelay(t *testing.T) {
	t.Parallel()
	b := start(t, open())
	w := subscriber(t, b, 5, "watcher", "will/#", 0)

	c, _ := connectWith(t, b, willConnect(5, "later", 1, 60))
	start := time.Now()
	c.Close()
	expectPublish(t, w, "will/later", "gone")
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("delayed will published after %v, want about 1 s", el)
	}

	c, _ = connectWith(t, b, willConnect(5, "back", 1, 60))
	c.Close()
	testutil.WaitFor(t, "the disconnect", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "1" })
	connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "back", CleanStart: false, Properties: expiryProps(60)})
	w.ExpectNothing(1500 * time.Millisecond)

	// Session expiry (1 s) before the will delay (60 s): published when the
	// session ends.
	c, _ = connectWith(t, b, willConnect(5, "short", 60, 1))
	start = time.Now()
	c.Close()
	expectPublish(t, w, "will/short", "gone")
	if el := time.Since(start); el < 900*time.Millisecond || el > 3*time.Second {
		t.Errorf("will published %v after close, want at session expiry (1 s)", el)
	}
}

// A retained will is stored as a retained message.
func TestWillRetain(t *testing.T) {
	b := start(t, open())
	cp := willConnect(4, "r", 0, 0)
	cp.Will.Retain = true
	c, _ := connectWith(t, b, cp)
	c.Close()
	testutil.WaitFor(t, "the retained will", func() bool { return b.SysValues()["$SYS/broker/retained messages/count"] == "1" })
	s := subscriber(t, b, 4, "s", "will/r", 1)
	if m := expectPublish(t, s, "will/r", "gone"); !m.Retain {
		t.Error("retained will delivered without RETAIN")
	}
}

// Server shutdown: MQTT 5 clients get DISCONNECT 0x8B and their wills are
// published.
func TestShutdownDisconnects(t *testing.T) {
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	subscriber(t, b, 4, "watcher", "will/#", 0)
	c5, _ := connectWith(t, b, willConnect(5, "five", 0, 0))
	c4 := connect(t, b, 4, "four")
	done := make(chan struct{})
	go func() { b.Stop(t); close(done) }()
	expectDisconnect(t, c5, packet.ServerShuttingDown)
	c4.ExpectClosed()
	<-done
}

// A will to a topic its client may not publish to does not refuse the
// CONNECT: as in Mosquitto 2.0, the client is accepted and the will is
// dropped, and logged, when it would be published.
func TestForbiddenWillDroppedWhenDue(t *testing.T) {
	var out testutil.LockedBuffer
	cfg := open()
	cfg.Logger = slog.New(slog.NewTextHandler(&out, nil))
	cfg.Authorizers = []broker.Authorizer{rules(func(c *broker.Client, topic string, a broker.Access) bool {
		return a != broker.Write || !strings.HasPrefix(topic, "secret/")
	})}
	b := start(t, cfg)
	w := subscriber(t, b, packet.Version5, "watcher", "#", 1)
	for _, v := range []byte{packet.Version311, packet.Version5} {
		cp := willConnect(v, "sneaky", 0, 0)
		cp.Will.Topic = "secret/w"
		c, ack := connectWith(t, b, cp)
		if ack.ReasonCode != packet.Success {
			t.Fatalf("v%d: CONNACK %v, want success", v, ack.ReasonCode)
		}
		c.Close()
		testutil.WaitFor(t, "the dropped will in the log", func() bool {
			return strings.Count(out.String(), "Denied will") == int(v-3)
		})
		if got := ping(t, w); len(got) != 0 {
			t.Fatalf("v%d: the watcher got %v", v, got)
		}
	}
}
