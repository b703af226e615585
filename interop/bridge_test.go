package interop_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// startMosquittoBridgePeer runs Debian's mosquitto, anonymous, with conf
// added to its configuration, and returns it with its host:port.
func startMosquittoBridgePeer(t *testing.T, dir, conf string) (*proc, string) {
	t.Helper()
	p, ports := startDebianMosquitto(t, dir, 1, func(ports []string) string {
		return "listener " + ports[0] + " 127.0.0.1\nallow_anonymous true\n" + conf
	})
	return p, net.JoinHostPort("127.0.0.1", ports[0])
}

// rawClient connects a raw client with a persistent-enough clean session.
func rawClient(t *testing.T, addr, id string) *testutil.Client {
	t.Helper()
	c, _ := testutil.Connect(t, addr, packet.Version311, id)
	return c
}

// subscriber connects a raw client that subscribes to filter at QoS 2.
func subscriber(t *testing.T, addr, id, filter string) *testutil.Client {
	t.Helper()
	c := rawClient(t, addr, id)
	c.Subscribe(1, filter, 2)
	return c
}

// waitBridgeConnected waits until the broker at addr says in $SYS that the
// bridge connected with the remote client id id is up.
func waitBridgeConnected(t *testing.T, addr, id string) {
	t.Helper()
	state := rawClient(t, addr, "state")
	state.Subscribe(1, "$SYS/broker/connection/"+id+"/state", 1)
	sameSet(t, collect(t, state, 1, 0), "$SYS/broker/connection/"+id+"/state 1")
}

// collect reads application messages for d, acknowledging them, and
// returns "topic payload" lines.
func collect(t *testing.T, c *testutil.Client, n int, quiet time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(waitTimeout)
	for {
		wait := time.Until(deadline)
		if len(got) >= n {
			if quiet == 0 {
				return got
			}
			wait = quiet
		}
		if wait <= 0 {
			t.Fatalf("got %d messages %q, want %d", len(got), got, n)
		}
		p, err := c.Read(wait)
		if err != nil {
			if len(got) >= n {
				return got
			}
			t.Fatalf("after %q: %v", got, err)
		}
		switch p := p.(type) {
		case *packet.Publish:
			got = append(got, p.Topic+" "+string(p.Payload))
			switch p.QoS {
			case 1:
				c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
			case 2:
				c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
			}
		case *packet.Ack:
			if p.Kind == packet.TypePubrel {
				c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
			}
		}
	}
}

func sendAll(t *testing.T, c *testutil.Client, topic string) {
	t.Helper()
	for qos := byte(0); qos <= 2; qos++ {
		c.Send(&packet.Publish{Topic: topic, Payload: []byte(fmt.Sprint("q", qos)), QoS: qos, PacketID: uint16(qos + 1)})
		switch qos {
		case 1:
			testutil.Expect[*packet.Ack](c)
		case 2:
			testutil.Expect[*packet.Ack](c)
			c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 3})
			testutil.Expect[*packet.Ack](c)
		}
	}
}

func sameSet(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// midge bridging to Debian's Mosquitto, in MQTT 3.1.1 and 5: messages cross
// both ways once, remapped; the notification reaches Mosquitto.
func TestBridgeMidgeToMosquitto(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"mqttv311", "mqttv50"} {
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			_, maddr := startMosquittoBridgePeer(t, dir, "")
			mid, ports := startMidge(t, dir, 1, func(ports []string) string {
				return fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nconnection m\naddress %s\nremote_clientid edge1\nbridge_protocol_version %s\nrestart_timeout 1\ntopic a/# both 2 edge/ site/\n",
					ports[0], maddr, v)
			})
			waitBridgeConnected(t, maddr, "edge1")
			mid.waitLine("local.edge1 2 edge/a/#")

			raddr := net.JoinHostPort("127.0.0.1", ports[0])
			rsub := subscriber(t, maddr, "rsub", "#")
			lsub := subscriber(t, raddr, "lsub", "edge/#")
			sendAll(t, rawClient(t, raddr, "lpub"), "edge/a/out")
			sameSet(t, collect(t, rsub, 3, 300*time.Millisecond), "site/a/out q0", "site/a/out q1", "site/a/out q2")
			sameSet(t, collect(t, lsub, 3, 0), "edge/a/out q0", "edge/a/out q1", "edge/a/out q2")
			sendAll(t, rawClient(t, maddr, "rpub"), "site/a/in")
			sameSet(t, collect(t, lsub, 3, 300*time.Millisecond), "edge/a/in q0", "edge/a/in q1", "edge/a/in q2")
			sameSet(t, collect(t, rsub, 3, 300*time.Millisecond), "site/a/in q0", "site/a/in q1", "site/a/in q2")
		})
	}
}

// Debian's Mosquitto bridging to midge: midge sees its private protocol
// bit ("New bridge connected"), sends nothing back that came from it, and
// takes its $SYS notification.
func TestBridgeMosquittoToMidge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mid, ports := startMidge(t, dir, 1, func(ports []string) string {
		return fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\n", ports[0])
	})
	maddr := net.JoinHostPort("127.0.0.1", ports[0])
	_, eaddr := startMosquittoBridgePeer(t, dir, fmt.Sprintf("connection tomidge\naddress %s\nremote_clientid mosq-edge\ntopic b/# both 2\n", maddr))
	mid.waitLine("New bridge connected from")
	waitBridgeConnected(t, maddr, "mosq-edge")
	mid.waitLine("mosq-edge 2 b/#")

	msub := subscriber(t, maddr, "msub", "b/#")
	esub := subscriber(t, eaddr, "esub", "b/#")
	sendAll(t, rawClient(t, eaddr, "epub"), "b/edge")
	sameSet(t, collect(t, msub, 3, 300*time.Millisecond), "b/edge q0", "b/edge q1", "b/edge q2")
	// Once each: midge did not send them back to the bridge that sent them.
	sameSet(t, collect(t, esub, 3, 500*time.Millisecond), "b/edge q0", "b/edge q1", "b/edge q2")
	sendAll(t, rawClient(t, maddr, "mpub"), "b/central")
	sameSet(t, collect(t, esub, 3, 300*time.Millisecond), "b/central q0", "b/central q1", "b/central q2")
	sameSet(t, collect(t, msub, 3, 500*time.Millisecond), "b/central q0", "b/central q1", "b/central q2")
}
