package bridge_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

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

// The local session is durable across remote outages: a QoS 1 and a QoS 2
// publisher keep publishing while the remote goes away and comes back
// again and again; every message the local broker acknowledged reaches a
// persistent subscriber of the remote, and QoS 2 messages once.
func TestRemoteOutagesLoseNothing(t *testing.T) {
	dir := t.TempDir()
	lst, err := store.OpenBolt(filepath.Join(dir, "local.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lst.Close()
	rst, err := store.OpenBolt(filepath.Join(dir, "remote.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	raddr := ln.Addr().String()
	ln.Close()
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
	b := startBridge(t, config(raddr, packet.Version311, top), local.Server)
	waitState(t, b, bridge.Connected)

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
				c.Send(&packet.Publish{Topic: "o/" + strconv.Itoa(int(qos)), QoS: qos, PacketID: uint16(i%60000 + 1), Payload: []byte(payload)})
				testutil.Expect[*packet.Ack](c)
				if qos == 2 {
					c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: uint16(i%60000 + 1)})
					testutil.Expect[*packet.Ack](c)
				}
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
