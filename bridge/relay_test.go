package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
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
			remote := anonBroker(t)
			local := anonBroker(t)
			b := startConnected(t, config(remote.Addr, v, mustTopic(t, "a/#", bridge.Both, "edge/", "site/")), local.Server)

			rsub := subscriber(t, remote.Addr, packet.Version5, "rsub", "#", 2)
			lsub := subscriber(t, local.Addr, packet.Version5, "lsub", "edge/#", 2)
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
	remote := anonBroker(t)
	local := anonBroker(t)
	startConnected(t, configOne(t, remote.Addr, packet.Version311, bridge.Out, "x"), local.Server)
	topic := stateTopic
	for _, addr := range []string{remote.Addr, local.Addr} {
		c := subscriber(t, addr, packet.Version5, "n", topic, 1)
		p := expectPublish(t, c)
		if p.Topic != topic || string(p.Payload) != "1" || !p.Retain {
			t.Fatalf("%s: got %q %q retain %v", addr, p.Topic, p.Payload, p.Retain)
		}
	}
	lsub := subscriber(t, local.Addr, packet.Version5, "n2", topic, 1)
	expectPublish(t, lsub)
	remote.Stop(t)
	p := expectPublish(t, lsub)
	if string(p.Payload) != "0" {
		t.Fatalf("after the remote stopped: %q", p.Payload)
	}
}

// The local session is durable across remote outages: a QoS 1 and a QoS 2
// publisher keep publishing while the remote goes away and comes back
// again and again; every message the local broker acknowledged reaches a
// persistent subscriber of the remote, and QoS 2 messages once.
func TestRemoteOutagesLoseNothing(t *testing.T) {
	lst := openBolt(t)
	rst := openBolt(t)
	raddr := deadAddr(t)
	stop := remoteAt(t, raddr, rst)

	// The persistent subscriber first, so that every message is its.
	subscribe := func() *testutil.Client {
		c := testutil.Dial(t, raddr, packet.Version311)
		c.Connect(&packet.Connect{ClientID: "rsub", KeepAlive: 60})
		c.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "o/#", QoS: 2}}})
		return c
	}
	subscribe().Close()

	// No max_queued_messages: on a loaded machine an outage can outlast
	// 1000 messages, which would then be dropped by design.
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, Store: lst, MaxQueuedMessages: broker.Unlimited})
	top := mustTopic(t, "o/#", bridge.Out, "", "")
	top.QoS = 2
	b := startConnected(t, config(raddr, packet.Version311, top), local.Server)

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, qos := range []byte{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := testutil.Connect(t, local.Addr, packet.Version311, fmt.Sprint("pub", qos))
			for i := 1; ctx.Err() == nil; i++ {
				payload := fmt.Sprintf("q%d-%d", qos, i)
				publish(t, c, uint16(i%60000+1), "o/"+strconv.Itoa(int(qos)), payload, qos)
				mu.Lock()
				acked[payload] = true
				mu.Unlock()
			}
		}()
	}
	for range outageCycles {
		time.Sleep(100 * time.Millisecond) // the outage's length and the time between: the workload, not a wait
		stop()
		time.Sleep(100 * time.Millisecond)
		stop = remoteAt(t, raddr, rst)
	}
	cancel()
	wg.Wait()
	defer func() { stop() }()

	got := map[string]int{}
	c := subscribe()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	for len(got) < want {
		p, err := c.Read(testutil.Timeout)
		if err != nil {
			var lost []string
			mu.Lock()
			for k := range acked {
				if got[k] == 0 {
					lost = append(lost, k)
				}
			}
			mu.Unlock()
			slices.Sort(lost)
			t.Logf("lost %d: %v", len(lost), lost)
			info, _ := local.Session("local.testhost.test")
			t.Fatalf("received %d of %d: %v; bridge %+v; local session queued %d inflight %d connected %v", len(got), want, err, b.Status(), info.Queued, info.Inflight, info.Connected)
		}
		switch p := p.(type) {
		case *packet.Publish:
			got[string(p.Payload)]++
			if p.QoS == 1 {
				c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
			} else if p.QoS == 2 {
				c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
			}
		case *packet.Ack:
			c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
		}
	}
	for k := range acked {
		if got[k] == 0 {
			t.Errorf("lost %s", k)
		}
		if k[1] == '2' && got[k] > 1 {
			t.Errorf("QoS 2 %s received %d times", k, got[k])
		}
	}
	t.Logf("%d acknowledged messages, all received", want)
}

// outageCycles is how often TestRemoteOutagesLoseNothing stops the remote.
const outageCycles = 6
