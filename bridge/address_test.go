package bridge_test

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Several addresses: a failed one moves the bridge to the next. With
// round_robin true it stays there; with false it probes the primary and
// goes back to it when it answers.
func TestAddresses(t *testing.T) {
	second := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})

	rr := config(deadAddr(t), packet.Version311, mustTopic(t, "x", bridge.Out, "", ""))
	rr.Name, rr.RoundRobin = "rr", true
	rr.Addresses = append(rr.Addresses, second.Addr)
	b := startBridge(t, rr, local.Server)
	waitFor(t, "connected to the second address", func() bool {
		st := b.Status()
		return st.State == bridge.Connected && st.Address == second.Addr
	})

	primary := deadAddr(t)
	cfg := config(primary, packet.Version311, mustTopic(t, "x", bridge.Out, "", ""))
	cfg.Name = "probe"
	cfg.Addresses = append(cfg.Addresses, second.Addr)
	b = startBridge(t, cfg, local.Server)
	waitFor(t, "connected to the second address", func() bool {
		st := b.Status()
		return st.State == bridge.Connected && st.Address == second.Addr
	})
	ln, err := net.Listen("tcp", primary)
	if err != nil {
		t.Fatal(err)
	}
	p := broker.New(broker.Config{AllowAnonymous: true})
	go p.Serve(t.Context(), ln, broker.Listener{})
	defer p.Close()
	deadline := time.Now().Add(15 * time.Second) // the primary is probed every 5 seconds
	for {
		st := b.Status()
		if st.State == bridge.Connected && st.Address == primary {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// local_cleansession true: nothing is queued for the remote while it is
// away; false (with a store): everything acknowledged is kept.
func TestLocalCleanSession(t *testing.T) {
	for _, clean := range []bool{true, false} {
		st, err := store.OpenBolt(filepath.Join(t.TempDir(), "l.db"), store.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		raddr := deadAddr(t)
		local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, Store: st})
		cfg := config(raddr, packet.Version311, mustTopic(t, "q/#", bridge.Out, "", ""))
		cfg.LocalCleanSession = clean
		cfg.Restart = bridge.Backoff{Constant: time.Second} // time for the subscriber to subscribe first
		b := startBridge(t, cfg, local.Server)
		pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
		publish(t, pub, 1, "q/1", "while away", 1)
		stop := remoteAt(t, raddr, nil)
		rsub, _ := testutil.Connect(t, raddr, packet.Version311, "rsub")
		rsub.Subscribe(1, "q/#", 1)
		waitState(t, b, bridge.Connected)
		if clean {
			expectQuiet(t, rsub, 300*time.Millisecond)
		} else if p := expectPublish(t, rsub); string(p.Payload) != "while away" {
			t.Fatalf("got %q", p.Payload)
		}
		stop()
	}
}
