package bridge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Two midge brokers bridged both ways with prefixes: messages cross once,
// remapped, at each QoS, and never come back.
func TestRelayBothWays(t *testing.T) {
	for _, v := range []byte{packet.Version311, packet.Version5, packet.Version31} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
			local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
			b := startBridge(t, config(remote.Addr, v, mustTopic(t, "a/#", bridge.Both, "edge/", "site/")), local.Server)
			waitState(t, b, bridge.Connected)

			rsub, _ := testutil.Connect(t, remote.Addr, packet.Version5, "rsub")
			rsub.Subscribe(1, "#", 2)
			lsub, _ := testutil.Connect(t, local.Addr, packet.Version5, "lsub")
			lsub.Subscribe(1, "edge/#", 2)
			lpub, _ := testutil.Connect(t, local.Addr, packet.Version311, "lpub")
			rpub, _ := testutil.Connect(t, remote.Addr, packet.Version311, "rpub")

			for qos := byte(0); qos <= 2; qos++ {
				publish(t, lpub, 10, "edge/a/out", fmt.Sprint("out", qos), qos)
				p := expectPublish(t, rsub)
				if p.Topic != "site/a/out" || string(p.Payload) != fmt.Sprint("out", qos) {
					t.Fatalf("remote got %q %q", p.Topic, p.Payload)
				}
				if got := expectPublish(t, lsub); got.Topic != "edge/a/out" {
					t.Fatalf("local subscriber got %q", got.Topic)
				}
				publish(t, rpub, 11, "site/a/in", fmt.Sprint("in", qos), qos)
				p = expectPublish(t, lsub)
				if p.Topic != "edge/a/in" || string(p.Payload) != fmt.Sprint("in", qos) {
					t.Fatalf("local got %q %q", p.Topic, p.Payload)
				}
				if got := expectPublish(t, rsub); got.Topic != "site/a/in" {
					t.Fatalf("remote subscriber got %q", got.Topic)
				}
			}
			// No loop: nothing more on either side.
			expectQuiet(t, rsub, 200*time.Millisecond)
			expectQuiet(t, lsub, 50*time.Millisecond)
			st := b.Status()
			if st.Sent != 3 || st.Received != 3 {
				t.Errorf("status %+v: want 3 sent, 3 received", st)
			}
		})
	}
}

// The notifications: '1' retained on both sides once connected, '0' on the
// local side when the remote goes away.
func TestNotifications(t *testing.T) {
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	b := startBridge(t, config(remote.Addr, packet.Version311, mustTopic(t, "x", bridge.Out, "", "")), local.Server)
	waitState(t, b, bridge.Connected)
	topic := "$SYS/broker/connection/testhost.test/state"
	for _, addr := range []string{remote.Addr, local.Addr} {
		c, _ := testutil.Connect(t, addr, packet.Version5, "n")
		c.Subscribe(1, topic, 1)
		p := expectPublish(t, c)
		if p.Topic != topic || string(p.Payload) != "1" || !p.Retain {
			t.Fatalf("%s: got %q %q retain %v", addr, p.Topic, p.Payload, p.Retain)
		}
	}
	lsub, _ := testutil.Connect(t, local.Addr, packet.Version5, "n2")
	lsub.Subscribe(1, topic, 1)
	expectPublish(t, lsub)
	remote.Stop(t)
	p := expectPublish(t, lsub)
	if string(p.Payload) != "0" {
		t.Fatalf("after the remote stopped: %q", p.Payload)
	}
}
