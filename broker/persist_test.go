package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// stores runs f against the memory store and the disk store; restart gives
// f a fresh broker on the same data (after a clean shutdown of the last).
func stores(t *testing.T, f func(t *testing.T, restart func() *testutil.Broker)) {
	storeKinds(t, func(t *testing.T, kind string, open func() broker.Store) {
		var cur *testutil.Broker
		var curStore broker.Store
		restart := func() *testutil.Broker {
			if cur != nil {
				cur.Stop(t)
				if kind != "memory" {
					if err := curStore.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
			curStore = open()
			cfg := open_()
			cfg.Store = curStore
			cur = testutil.StartBroker(t, cfg)
			return cur
		}
		t.Cleanup(func() {
			if curStore != nil {
				curStore.Close()
			}
		})
		f(t, restart)
	})
}

// open_ is open() under another name, for where open is shadowed.
func open_() broker.Config { return open() }

// Retained messages survive a restart.
func TestPersistRetained(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		p := connect(t, b, 5, "p")
		pub(t, p, 1, "keep/a", "A", 1, true)
		pub(t, p, 2, "keep/b", "B", 2, true)
		pub(t, p, 3, "keep/b", "", 1, true) // cleared
		b = restart()
		s := subscriber(t, b, 5, "s", "keep/#", 1)
		m := expectPublish(t, s, "keep/a", "A")
		if !m.Retain || m.QoS != 1 {
			t.Errorf("restored retained %+v", m)
		}
		ackAll(t, s, m)
		expectNoMore(t, s, "cleared retained message came back")
	})
}

// A persistent session keeps its subscriptions and the messages queued for
// it across a restart, in order.
func TestPersistSessionQueue(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		persistent := offline(t, b, "sub", "q/#", 2)
		p := connect(t, b, 4, "p")
		pub(t, p, 1, "q/1", "one", 1, false)
		pub(t, p, 2, "q/2", "two", 2, false)
		pub(t, p, 3, "q/3", "three", 1, false)
		b = restart()
		s, ack := connectWith(t, b, persistent)
		if !ack.SessionPresent {
			t.Fatal("session lost across the restart")
		}
		var got []*packet.Publish
		for _, want := range []string{"one", "two", "three"} {
			m := testutil.Expect[*packet.Publish](s)
			if string(m.Payload) != want {
				t.Fatalf("got %q, want %q", m.Payload, want)
			}
			got = append(got, m)
		}
		for _, m := range got {
			ackAll(t, s, m)
		}
		// Still subscribed after the restart.
		p = connect(t, b, 4, "p")
		pub(t, p, 4, "q/4", "four", 1, false)
		ackAll(t, s, expectPublish(t, s, "q/4", "four"))
		// Everything acknowledged: nothing comes back after another restart.
		disconnect(s)
		b = restart()
		s, _ = connectWith(t, b, persistent)
		expectNoMore(t, s, "acknowledged messages redelivered")
	})
}

// inFlight leaves two messages in flight to s, subscribed to "x/#" at QoS
// 2: rel, a QoS 2 "x/released" whose PUBREC s sent (and the PUBREL came),
// and pend, an "x/pending" at pendingQoS that s does not acknowledge.
func inFlight(t *testing.T, b *testutil.Broker, s *testutil.Client, pendingQoS byte) (rel, pend *packet.Publish) {
	t.Helper()
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "x/released", "r", 2, false)
	pub(t, p, 2, "x/pending", "p", pendingQoS, false)
	rel = expectPublish(t, s, "x/released", "r")
	pend = expectPublish(t, s, "x/pending", "p")
	s.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: rel.PacketID})
	expectAck(t, s, packet.TypePubrel, rel.PacketID)
	return rel, pend
}

// QoS 2 across a restart: a PUBLISH whose PUBREC never came is resent with
// the same packet identifier and DUP; one whose PUBREC came gets PUBREL, not
// the PUBLISH again.
func TestPersistQoS2Outbound(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		persistent, s := hourSubscriber(t, b, "sub", "x/#", 2)
		rel, pend := inFlight(t, b, s, 2)
		s.Close()
		b = restart()
		s, _ = connectWith(t, b, persistent)
		expectResent(t, s, rel, pend)
	})
}

// A connection that takes over a live persistent session resends its
// in-flight messages once: the session's state is in memory, and reading
// the store's copy as well sent every PUBREL and PUBLISH twice.
func TestPersistTakeoverResendsOnce(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		persistent, s := hourSubscriber(t, b, "sub", "x/#", 2)
		rel, pend := inFlight(t, b, s, 1)

		s2, ack := connectWith(t, b, persistent) // s is still connected
		if !ack.SessionPresent {
			t.Fatal("session not present on takeover")
		}
		expectAck(t, s2, packet.TypePubrel, rel.PacketID)
		if m := expectPublish(t, s2, "x/pending", "p"); !m.Dup || m.PacketID != pend.PacketID {
			t.Errorf("resent %+v, want DUP and id %d", m, pend.PacketID)
		}
		s2.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: rel.PacketID})
		s2.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: pend.PacketID})
		expectNoMore(t, s2, "sent again")
	})
}

// An inbound QoS 2 message is delivered once even when its publisher
// resends it after a restart.
func TestPersistQoS2Inbound(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		subp := offline(t, b, "sub", "in", 2)
		pubp := hourSession("pub")
		unreleasedQoS2(t, b, pubp, "in", "once", 7)
		b = restart()
		resendQoS2(t, b, pubp, "in", "once", 7)
		s, _ := connectWith(t, b, subp)
		ackAll(t, s, expectPublish(t, s, "in", "once"))
		expectNoMore(t, s, "delivered twice")
	})
}

// A delayed will of a persistent session is kept across a restart and
// published when due.
func TestPersistWill(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		// The watcher's session is persistent and subscribed before the
		// will is due, so it gets the will whenever the delay ends: before
		// the restart it is queued for the watcher, after it the restored
		// will is published. (A watcher that subscribed after the restart
		// could miss a will that fired while it was connecting.)
		watchConnect := &packet.Connect{ProtocolVersion: 5, ClientID: "watch", KeepAlive: 60, Properties: expiryProps(3600)}
		watch := subscribed(t, b, watchConnect, "will/#", 1)
		watch.Close()
		cp := willConnect(5, "w", 2, 3600)
		c, _ := connectWith(t, b, cp)
		c.Close()
		testutil.WaitFor(t, "the disconnects", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "0" })
		b = restart()
		watch, _ = connectWith(t, b, watchConnect)
		expectPublish(t, watch, "will/w", "gone")
	})
}

// failing wraps a Store and fails commits while fail is set.
type failing struct {
	broker.Store
	fail atomic.Bool
}

func (f *failing) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	if f.fail.Load() {
		return errors.New("disk full")
	}
	return f.Store.Commit(ctx, b, sync)
}

// When the store cannot take a message, MQTT 5 publishers get 0x97 instead
// of an acknowledgement of what was not kept, 3.1.1 publishers are
// disconnected, and the broker keeps serving. A QoS 2 subscription never
// sees the refused message. (A QoS 0 or 1 delivery goes out before the
// commit and may have reached an online subscriber: at least once allows
// the copy the publisher sends again.)
func TestPersistCommitFailure(t *testing.T) {
	st := &failing{Store: store.NewMemory()}
	b := startStore(t, st)
	_, s := hourSubscriber(t, b, "sub", "f", 2)
	p5 := connect(t, b, 5, "p5")
	p4 := connect(t, b, 4, "p4")
	st.fail.Store(true)
	if rc := pub(t, p5, 1, "f", "lost", 2, false); rc != packet.QuotaExceeded {
		t.Errorf("PUBREC %v, want 0x97", rc)
	}
	p4.Send(&packet.Publish{Topic: "f", QoS: 2, PacketID: 1, Payload: []byte("lost")})
	p4.ExpectClosed()
	st.fail.Store(false)
	pub(t, p5, 2, "f", "kept", 2, false)
	ackAll(t, s, expectPublish(t, s, "f", "kept"))
	expectNoMore(t, s, "refused message delivered")
}

// A QoS 1 message delivered and acknowledged before its commit never
// reaches the store; one not yet acknowledged is stored and survives a
// restart.
func TestPersistDeliveredBeforeCommit(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		persistent, s := hourSubscriber(t, b, "sub", "d", 1)
		p := connect(t, b, 5, "p")
		for i := range 20 {
			pub(t, p, uint16(i+1), "d", fmt.Sprint("acked ", i), 1, false)
			ackAll(t, s, expectPublish(t, s, "d", fmt.Sprint("acked ", i)))
		}
		pub(t, p, 21, "d", "pending", 1, false)
		expectPublish(t, s, "d", "pending") // not acknowledged
		// The broker answers a PINGREQ after the PUBACKs sent before it: an
		// acknowledgement still unread when the connection closes would
		// rightly not count.
		if extra := ping(t, s); len(extra) != 0 {
			t.Fatalf("unexpected packets: %v", extra)
		}
		s.Close()
		b = restart()
		s, _ = connectWith(t, b, persistent)
		again := expectPublish(t, s, "d", "pending")
		if !again.Dup {
			t.Errorf("resent without DUP: %+v", again)
		}
		ackAll(t, s, again)
		expectNoMore(t, s, "an acknowledged message came back")
	})
}

// PUBACKs keep the order of the PUBLISHes while the store is slow.
func TestPersistAckOrder(t *testing.T) {
	cfg := open()
	cfg.Store = store.NewMemory()
	cfg.MaxInflightMessages = 50 // the Receive Maximum: the 50 sent at once stay within it
	b := testutil.StartBroker(t, cfg)
	p := connect(t, b, 5, "p")
	for i := range 50 {
		qos := byte(1)
		if i%5 == 0 {
			qos = 2
		}
		m := &packet.Publish{Topic: "o", QoS: qos, PacketID: uint16(i + 1), Retain: i%3 == 0, Payload: []byte("x")}
		p.Send(m)
	}
	for i := range 50 {
		a := testutil.Expect[*packet.Ack](p)
		if a.PacketID != uint16(i+1) {
			t.Fatalf("ack %d for packet %d", i, a.PacketID)
		}
	}
}

// A session that cannot be made durable is refused at CONNECT (Server
// unavailable), and the connection closes.
func TestPersistConnectFailure(t *testing.T) {
	st := &failing{Store: store.NewMemory()}
	b := startStore(t, st)
	st.fail.Store(true)
	for _, v := range []byte{4, 5} {
		cp := &packet.Connect{ProtocolVersion: v, ClientID: "p", Properties: expiryProps(60)}
		if v == 4 {
			cp.Properties = packet.Properties{}
		}
		c, ack := connectWith(t, b, cp)
		want := packet.ServerUnavailable
		if v == 4 {
			want = packet.ConnackV3ServerUnavailable
		}
		if ack.ReasonCode != want || ack.SessionPresent {
			t.Errorf("v%d: CONNACK %v present %v", v, ack.ReasonCode, ack.SessionPresent)
		}
		c.Send(&packet.Pingreq{})
		if got := c.ExpectClosed(); len(got) != 0 {
			t.Errorf("v%d: answered %v after refusing", v, got)
		}
	}
	st.fail.Store(false)
	connect(t, b, 5, "ok") // a clean session needs no store
}

// slowLoad holds the first LoadQueue of a session's queue until released.
type slowLoad struct {
	broker.Store
	loading chan struct{} // closed when LoadQueue is called
	release chan struct{} // closed by the test to let it go on
	once    atomic.Bool
}

func (s *slowLoad) LoadQueue(ctx context.Context, clientID string, fn func(*broker.StoredDelivery) error) error {
	if s.once.CompareAndSwap(false, true) {
		close(s.loading)
		<-s.release
	}
	return s.Store.LoadQueue(ctx, clientID, fn)
}

// A message published while a resumed session's queue is read back from
// the store reaches it after what was queued before: it is not in what
// the read sees, and must not be skipped as if it were.
func TestPersistPublishDuringReload(t *testing.T) {
	st := &slowLoad{Store: store.NewMemory(), loading: make(chan struct{}), release: make(chan struct{})}
	b := startStore(t, st)
	persistent := offline(t, b, "sub", "r", 1)
	testutil.WaitFor(t, "the session offline", func() bool { si, ok := b.Session("sub"); return ok && !si.Connected })
	watcher := subscriber(t, b, 5, "watcher", "r", 1)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "r", "before", 1, false)
	ackAll(t, watcher, expectPublish(t, watcher, "r", "before"))

	s, _ := connectWith(t, b, persistent)
	select {
	case <-st.loading:
	case <-time.After(5 * time.Second):
		close(st.release)
		t.Fatal("the resumed session's queue was not read from the store")
	}
	// The watcher's copy shows the broker has routed the message, while
	// the read still waits.
	p.Send(&packet.Publish{Topic: "r", QoS: 1, PacketID: 2, Payload: []byte("during")})
	ackAll(t, watcher, expectPublish(t, watcher, "r", "during"))
	close(st.release)
	testutil.Expect[*packet.Ack](p)
	ackAll(t, s, expectPublish(t, s, "r", "before"))
	ackAll(t, s, expectPublish(t, s, "r", "during"))
}

// After a crash, a message that may have been sent to a session connected
// at the time is sent again with DUP ("might be re-delivery"), even one
// that was only queued; after a clean shutdown the broker knows: the sent
// one has DUP, the queued one not [MQTT-3.3.1-1].
func TestPersistDupAfterCrash(t *testing.T) {
	dir := t.TempDir()
	startOn := func(t *testing.T, path string) (*testutil.Broker, broker.Store) {
		st, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg := open()
		cfg.Store = st
		return testutil.StartBroker(t, cfg), st
	}
	props := expiryProps(3600)
	props.SetUint(packet.PropReceiveMaximum, 1) // the second message stays queued
	persistent := &packet.Connect{ProtocolVersion: 5, ClientID: "sub", Properties: props}

	b, st := startOn(t, dir+"/midge.db")
	s := subscribed(t, b, persistent, "c", 1)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "c", "sent", 1, false)
	if m := expectPublish(t, s, "c", "sent"); m.Dup {
		t.Errorf("first delivery with DUP: %+v", m)
	}
	pub(t, p, 2, "c", "queued", 1, false) // acknowledged: on disk
	// The files as a kill -9 now would leave them: every commit is on disk,
	// in the store file or its write-ahead log.
	for _, suffix := range []string{"", store.WALSuffix} {
		data, err := os.ReadFile(dir + "/midge.db" + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/crashed.db"+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	check := func(t *testing.T, b *testutil.Broker, queuedDup bool) {
		t.Helper()
		s, ack := connectWith(t, b, persistent)
		if !ack.SessionPresent {
			t.Fatal("session lost")
		}
		if m := expectPublish(t, s, "c", "sent"); !m.Dup {
			t.Errorf("resent without DUP: %+v", m)
		} else {
			ackAll(t, s, m)
		}
		if m := expectPublish(t, s, "c", "queued"); m.Dup != queuedDup {
			t.Errorf("queued message: DUP %v, want %v", m.Dup, queuedDup)
		} else {
			ackAll(t, s, m)
		}
		s.Close()
	}
	t.Run("crash", func(t *testing.T) {
		b, _ := startOn(t, dir+"/crashed.db")
		check(t, b, true)
	})
	t.Run("clean", func(t *testing.T) {
		s.Close()
		b.Stop(t)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		b, _ := startOn(t, dir+"/midge.db")
		check(t, b, false)
	})
}

// A store that fails every commit is logged once with its error, not once
// per commit without it.
func TestPersistCommitFailureLogged(t *testing.T) {
	logger, out := testutil.DefaultLogger(t)
	st := &failing{Store: store.NewMemory()}
	cfg := open()
	cfg.Store = st
	cfg.Logger = logger
	cfg.QuietConnections = true
	b := testutil.StartBroker(t, cfg)
	subscribed(t, b, hourSession("sub"), "f", 1)
	p := connect(t, b, 5, "p")
	st.fail.Store(true)
	for i := range 20 {
		if rc := pub(t, p, uint16(i+1), "f", "lost", 1, false); rc != packet.QuotaExceeded {
			t.Fatalf("PUBACK %v, want 0x97", rc)
		}
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "commit") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "commit failed") || !strings.Contains(lines[0], `err="disk full"`) {
		t.Fatalf("log lines %q, want one commit failure with its error", lines)
	}
	b.Stop(t)
	if s := out.String(); !strings.Contains(s, "more like this in the last 10s)") {
		t.Fatalf("log after shutdown %q, want a summary of the other failures", s)
	}
}

// expectResent reads what a resumed session's client gets for the two
// QoS 2 messages inFlight left: a PUBREL for the released one (rel) and
// the pending one (pend) again, with its packet identifier and DUP; the
// released one is not sent again.
func expectResent(t *testing.T, s *testutil.Client, rel, pend *packet.Publish) {
	t.Helper()
	got := map[string]packet.Packet{}
	for range 2 {
		switch m := s.Next().(type) {
		case *packet.Ack:
			got["pubrel"] = m
		case *packet.Publish:
			got[m.Topic] = m
		}
	}
	if a, ok := got["pubrel"].(*packet.Ack); !ok || a.Kind != packet.TypePubrel || a.PacketID != rel.PacketID {
		t.Errorf("released message: got %+v, want PUBREL %d", got["pubrel"], rel.PacketID)
	}
	if m, ok := got["x/pending"].(*packet.Publish); !ok || m.PacketID != pend.PacketID || !m.Dup {
		t.Errorf("pending message: got %+v, want PUBLISH id %d with DUP", got["x/pending"], pend.PacketID)
	}
	if _, ok := got["x/released"]; ok {
		t.Error("a released QoS 2 message was sent again")
	}
}
