package client_test

// The tests in this file follow a client across connections: keep alive
// (dead-peer detection), reconnection, and the session that outlives a
// connection.

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// TestKeepAliveDisabled checks that a client whose keep alive is disabled
// (KeepAlive -1) sends 0 in CONNECT and never pings.
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

// TestReconnect breaks the connection of a clean-start subscriber: it
// reconnects, restores its subscription on the new session, and a publish
// started during the outage goes out once it is back.
func TestReconnect(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		ctx := testContext(t)
		topic := uniqueID("rc")
		tr := &connTracker{addr: srv.addr}
		in := newInbox()
		var lost, back atomic.Int32
		c, _ := dial(t, client.Options{Dial: tr.dial, ProtocolVersion: ver.v, ClientID: uniqueID("rc"), CleanStart: true,
			Reconnect: fastReconnect, OnMessage: in.handler,
			OnConnectionLost: func(err error) {
				if !errors.Is(err, client.ErrConnectionLost) {
					t.Errorf("OnConnectionLost(%v)", err)
				}
				lost.Add(1)
			},
			OnReconnect: func(ack *packet.Connack) {
				if ack.SessionPresent {
					t.Errorf("session present after clean start")
				}
				back.Add(1)
			}})
		if _, err := c.Subscribe(ctx, client.Subscription{Filter: topic + "/#", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		tr.breakLast()
		// Published to itself: sent once the new connection is up,
		// and received through the restored subscription.
		if err := c.Publish(ctx, &client.Message{Topic: topic + "/self", QoS: 1, Payload: []byte("after")}); err != nil {
			t.Fatal(err)
		}
		if m := in.next(t); string(m.Payload) != "after" {
			t.Fatalf("got %q", m.Payload)
		}
		testutil.WaitFor(t, "callbacks", func() bool { return lost.Load() == 1 && back.Load() == 1 })
		if tr.count() != 2 || c.Err() != nil {
			t.Errorf("%d connections, Err %v", tr.count(), c.Err())
		}
	})
}

// TestReconnectGivesUp checks that reconnection is bounded: MaxAttempts
// failures in a row end the client, after backing off between attempts.
func TestReconnectGivesUp(t *testing.T) {
	t.Parallel()
	srv := servers(t, broker.Config{})[0]
	tr := &connTracker{addr: srv.addr}
	c, _ := dial(t, client.Options{Dial: tr.dial, Reconnect: &client.Reconnect{
		MinDelay: 20 * time.Millisecond, MaxDelay: 40 * time.Millisecond, MaxAttempts: 4}})
	tr.mu.Lock()
	tr.fail = true
	tr.mu.Unlock()
	start := time.Now()
	tr.breakLast()
	select {
	case <-c.Done():
	case <-time.After(timeout):
		t.Fatal("still reconnecting")
	}
	// Waits of at least 20, 40, 40 and 40 ms.
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("4 attempts in %v: no backoff", d)
	}
	if err := c.Err(); err == nil || errors.Is(err, client.ErrClosed) {
		t.Errorf("Err %v, want the dial error", err)
	}
}

// TestReconnectRefused checks that a CONNACK refusing the client for good
// ends reconnection at once.
func TestReconnectRefused(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	c, rc, _ := fs.dial(client.Options{ClientID: "x", Reconnect: fastReconnect}, nil)
	rc.Close()
	fs.handshake(packet.Version311, &packet.Connack{ReasonCode: packet.ConnackV3NotAuthorized})
	<-c.Done()
	var ce *client.ConnectError
	if !errors.As(c.Err(), &ce) || ce.ReturnCode != packet.ConnackV3NotAuthorized {
		t.Fatalf("Err %v", c.Err())
	}
}

// TestCloseWhileReconnecting checks that Close stops reconnection.
func TestCloseWhileReconnecting(t *testing.T) {
	t.Parallel()
	srv := servers(t, broker.Config{})[0]
	tr := &connTracker{addr: srv.addr}
	c, _ := dial(t, client.Options{Dial: tr.dial, Reconnect: &client.Reconnect{MinDelay: time.Hour}})
	tr.breakLast()
	testutil.WaitFor(t, "disconnection", func() bool { return !c.Connected() })
	errc := make(chan error, 1)
	go func() { errc <- c.Publish(testContext(t), &client.Message{Topic: "a", QoS: 1}) }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Errorf("Err %v", c.Err())
	}
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Errorf("Publish waiting for the connection: %v", err)
	}
}

// fastReconnect reconnects at once, for tests.
var fastReconnect = &client.Reconnect{MinDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

// TestResendAfterReconnect drops the connection while QoS 1 and 2
// publishes await their acknowledgements: after reconnecting to the same
// session the client resends them with DUP and the same packet identifiers,
// in order [MQTT-4.4.0-1], and a QoS 2 publish past PUBREC resumes with
// PUBREL.
func TestResendAfterReconnect(t *testing.T) {
	t.Parallel()
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t)
			ctx := testContext(t)
			c, rc, cp := fs.dial(client.Options{ProtocolVersion: ver.v, ClientID: "resender", Reconnect: fastReconnect}, nil)
			if cp.CleanStart {
				t.Fatal("clean start set")
			}

			results := make(chan string, 3)
			for i, q := range []byte{1, 2, 2} {
				name := fmt.Sprintf("m%d", i)
				err := c.PublishAsync(ctx, &client.Message{Topic: "t/" + name, QoS: q, Payload: []byte(name)}, func(err error) {
					results <- fmt.Sprintf("%s %v", name, err)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			var ids [3]uint16
			for i := range ids {
				p := testutil.Expect[*packet.Publish](rc)
				if p.Dup || string(p.Payload) != fmt.Sprintf("m%d", i) {
					t.Fatalf("first send: %+v", p)
				}
				ids[i] = p.PacketID
			}
			// m1 gets its PUBREC: the client answers PUBREL.
			rc.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: ids[1]})
			if rel := testutil.Expect[*packet.Ack](rc); rel.Kind != packet.TypePubrel || rel.PacketID != ids[1] {
				t.Fatalf("got %v %d, want PUBREL %d", rel.Kind, rel.PacketID, ids[1])
			}
			rc.Close()

			// Same session: m0 and m2 again with DUP, and m1's PUBREL, in the
			// original order.
			rc, cp = fs.handshake(ver.v, &packet.Connack{SessionPresent: ver.v != packet.Version31})
			if cp.CleanStart || cp.ClientID != "resender" {
				t.Fatalf("reconnect CONNECT: clean %v id %q", cp.CleanStart, cp.ClientID)
			}
			p := testutil.Expect[*packet.Publish](rc)
			if !p.Dup || p.PacketID != ids[0] || string(p.Payload) != "m0" || p.QoS != 1 {
				t.Fatalf("resent %+v, want m0 with DUP and id %d", p, ids[0])
			}
			if rel := testutil.Expect[*packet.Ack](rc); rel.Kind != packet.TypePubrel || rel.PacketID != ids[1] {
				t.Fatalf("got %v %d, want PUBREL %d", rel.Kind, rel.PacketID, ids[1])
			}
			p = testutil.Expect[*packet.Publish](rc)
			if !p.Dup || p.PacketID != ids[2] || string(p.Payload) != "m2" || p.QoS != 2 {
				t.Fatalf("resent %+v, want m2 with DUP and id %d", p, ids[2])
			}
			select {
			case r := <-results:
				t.Fatalf("completed before acknowledgement: %s", r)
			default:
			}
			rc.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: ids[0]})
			rc.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: ids[1]})
			rc.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: ids[2]})
			if rel := testutil.Expect[*packet.Ack](rc); rel.Kind != packet.TypePubrel || rel.PacketID != ids[2] {
				t.Fatalf("got %v %d, want PUBREL %d", rel.Kind, rel.PacketID, ids[2])
			}
			rc.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: ids[2]})
			got := map[string]bool{}
			for range 3 {
				select {
				case r := <-results:
					got[r] = true
				case <-time.After(timeout):
					t.Fatal("publishes not completed")
				}
			}
			for _, w := range []string{"m0 <nil>", "m1 <nil>", "m2 <nil>"} {
				if !got[w] {
					t.Errorf("missing %q in %v", w, got)
				}
			}
		})
	}
}

// TestSessionLostRepublish reconnects to a server that lost the session:
// unacknowledged publishes are sent again as new messages (no DUP), a QoS 2
// publish the server had acknowledged with PUBREC is complete, and the
// subscriptions are restored before them.
func TestSessionLostRepublish(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	ctx := testContext(t)
	c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5, ClientID: "lost", Reconnect: fastReconnect}, nil)

	subDone := make(chan error, 1)
	go func() {
		_, err := c.Subscribe(ctx, client.Subscription{Filter: "s/#", QoS: 1, ID: 7, NoLocal: true})
		subDone <- err
	}()
	sp := testutil.Expect[*packet.Subscribe](rc)
	if len(sp.Properties.SubscriptionIDs) != 1 || sp.Properties.SubscriptionIDs[0] != 7 || !sp.Subscriptions[0].NoLocal {
		t.Fatalf("SUBSCRIBE %+v", sp)
	}
	rc.Send(&packet.Suback{PacketID: sp.PacketID, ReasonCodes: []packet.ReasonCode{packet.GrantedQoS1}})
	if err := <-subDone; err != nil {
		t.Fatal(err)
	}

	results := make(chan string, 2)
	for i, q := range []byte{1, 2} {
		name := fmt.Sprintf("m%d", i)
		if err := c.PublishAsync(ctx, &client.Message{Topic: "t", QoS: q, Payload: []byte(name)}, func(err error) {
			results <- fmt.Sprintf("%s %v", name, err)
		}); err != nil {
			t.Fatal(err)
		}
	}
	p0 := testutil.Expect[*packet.Publish](rc)
	p1 := testutil.Expect[*packet.Publish](rc)
	rc.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p1.PacketID})
	testutil.Expect[*packet.Ack](rc) // PUBREL
	rc.Close()

	rc, _ = fs.handshake(packet.Version5, &packet.Connack{SessionPresent: false})
	if r := <-results; r != "m1 <nil>" {
		t.Fatalf("QoS 2 past PUBREC: %s", r)
	}
	// Subscriptions first, so that the republished messages reach them.
	sp = testutil.Expect[*packet.Subscribe](rc)
	if len(sp.Subscriptions) != 1 || sp.Subscriptions[0].Filter != "s/#" || sp.Subscriptions[0].QoS != 1 ||
		!sp.Subscriptions[0].NoLocal || len(sp.Properties.SubscriptionIDs) != 1 || sp.Properties.SubscriptionIDs[0] != 7 {
		t.Fatalf("restored SUBSCRIBE %+v", sp)
	}
	p := testutil.Expect[*packet.Publish](rc)
	if p.Dup || string(p.Payload) != "m0" || p.PacketID != p0.PacketID {
		t.Fatalf("republished %+v", p)
	}
	rc.Send(&packet.Suback{PacketID: sp.PacketID, ReasonCodes: []packet.ReasonCode{packet.GrantedQoS1}})
	rc.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
	if r := <-results; r != "m0 <nil>" {
		t.Fatalf("QoS 1: %s", r)
	}
}

// TestQoS2NoDuplicate sends a QoS 2 message twice (the second with DUP,
// as after a reconnection) before releasing it: the application sees it
// once, and PUBREC answers both. After PUBREL the identifier is free for a
// new message.
func TestQoS2NoDuplicate(t *testing.T) {
	t.Parallel()
	for _, ackOnReceipt := range []bool{false, true} {
		t.Run(fmt.Sprint("AckOnReceipt=", ackOnReceipt), func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t)
			in := newInbox()
			_, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version311, ClientID: "q2",
				OnMessage: in.handler, AckOnReceipt: ackOnReceipt, Reconnect: fastReconnect}, nil)

			msg := &packet.Publish{Topic: "a/b", QoS: 2, PacketID: 7, Payload: []byte("once")}
			rc.Send(msg)
			if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePubrec || a.PacketID != 7 {
				t.Fatalf("got %v %d", a.Kind, a.PacketID)
			}
			if m := in.next(t); string(m.Payload) != "once" || m.QoS != 2 {
				t.Fatalf("got %q QoS %d", m.Payload, m.QoS)
			}
			// Retransmission on a new connection.
			rc.Close()
			rc, _ = fs.handshake(packet.Version311, &packet.Connack{SessionPresent: true})
			msg.Dup = true
			rc.Send(msg)
			if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePubrec || a.PacketID != 7 {
				t.Fatalf("got %v %d", a.Kind, a.PacketID)
			}
			rc.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 7})
			if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePubcomp || a.PacketID != 7 {
				t.Fatalf("got %v %d", a.Kind, a.PacketID)
			}
			in.none(t, 100*time.Millisecond)
			// A new message with the released identifier is delivered.
			rc.Send(&packet.Publish{Topic: "a/b", QoS: 2, PacketID: 7, Payload: []byte("again")})
			testutil.Expect[*packet.Ack](rc)
			if m := in.next(t); string(m.Payload) != "again" {
				t.Fatalf("got %q", m.Payload)
			}
		})
	}
}

// TestAckAfterHandler checks that QoS 1 and 2 acknowledgements wait for
// OnMessage by default, and are sent at once with AckOnReceipt; and that
// acknowledgements keep the order of the messages [MQTT-4.6.0-2].
func TestAckAfterHandler(t *testing.T) {
	t.Parallel()
	for _, ackOnReceipt := range []bool{false, true} {
		t.Run(fmt.Sprint("AckOnReceipt=", ackOnReceipt), func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t)
			release := make(chan struct{})
			var handled atomic.Int32
			_, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5, AckOnReceipt: ackOnReceipt,
				OnMessage: func(m *client.Message) {
					if m.PacketID == 1 {
						<-release
					}
					handled.Add(1)
				}}, nil)
			rc.Send(&packet.Publish{Topic: "a", QoS: 1, PacketID: 1})
			rc.Send(&packet.Publish{Topic: "a", QoS: 2, PacketID: 2})
			if ackOnReceipt {
				if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePuback || a.PacketID != 1 {
					t.Fatalf("got %v %d", a.Kind, a.PacketID)
				}
				if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePubrec || a.PacketID != 2 {
					t.Fatalf("got %v %d", a.Kind, a.PacketID)
				}
				close(release)
				testutil.WaitFor(t, "handlers", func() bool { return handled.Load() == 2 })
				return
			}
			rc.ExpectNothing(100 * time.Millisecond)
			close(release)
			if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePuback || a.PacketID != 1 {
				t.Fatalf("got %v %d", a.Kind, a.PacketID)
			}
			if a := testutil.Expect[*packet.Ack](rc); a.Kind != packet.TypePubrec || a.PacketID != 2 {
				t.Fatalf("got %v %d", a.Kind, a.PacketID)
			}
		})
	}
}

// TestPersistentSession checks session resumption against the real
// brokers: messages published while a persistent-session client is away
// are delivered when it comes back, and a message whose handler did not
// finish before the connection broke is delivered again with DUP.
func TestPersistentSession(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		ctx := testContext(t)
		id := uniqueID("keep")
		topic := uniqueID("ps") + "/t"
		opts := client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: id}
		if ver.v == packet.Version5 {
			opts.Properties.SetUint(packet.PropSessionExpiry, 300)
		}
		// A new session: clean start with an expiry in MQTT 5; before,
		// a persistent session needs clean start off (the identifier
		// is new).
		opts.CleanStart = ver.v == packet.Version5
		c, _ := dial(t, opts)
		if _, err := c.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect(ctx, 0, nil); err != nil {
			t.Fatal(err)
		}
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("pub"), CleanStart: true})
		if err := pub.Publish(ctx, &client.Message{Topic: topic, QoS: 1, Payload: []byte("while away")}); err != nil {
			t.Fatal(err)
		}

		// Come back; break the connection inside the handler of the
		// first delivery, before its PUBACK.
		tr := &connTracker{addr: srv.addr}
		var mu sync.Mutex
		var got []*client.Message
		opts.CleanStart = false
		opts.Dial = tr.dial
		opts.Reconnect = fastReconnect
		opts.OnMessage = func(m *client.Message) {
			mu.Lock()
			got = append(got, m)
			n := len(got)
			mu.Unlock()
			if n == 1 {
				tr.breakLast()
			}
		}
		c, ack := dial(t, opts)
		if ver.v != packet.Version31 && !ack.SessionPresent {
			t.Fatal("session not present")
		}
		testutil.WaitFor(t, "redelivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
		mu.Lock()
		defer mu.Unlock()
		for i, m := range got[:2] {
			if string(m.Payload) != "while away" || m.QoS != 1 {
				t.Errorf("delivery %d: %q QoS %d", i, m.Payload, m.QoS)
			}
		}
		if !got[1].Dup {
			t.Errorf("redelivery without DUP")
		}
		if tr.count() < 2 {
			t.Errorf("%d connections", tr.count())
		}
	})
}

// TestCloseFailsInflight checks that Close fails publishes awaiting
// acknowledgement with ErrClosed, and that a context ending while waiting
// returns its error.
func TestCloseFailsInflight(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	ctx := testContext(t)
	c, rc, _ := fs.dial(client.Options{}, nil)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.Publish(short, &client.Message{Topic: "a", QoS: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish with a short context: %v", err)
	}
	testutil.Expect[*packet.Publish](rc)
	errc := make(chan error, 1)
	go func() { errc <- c.Publish(ctx, &client.Message{Topic: "a", QoS: 2}) }()
	testutil.Expect[*packet.Publish](rc)
	c.Close()
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	<-c.Done()
	if err := c.Close(); !errors.Is(err, client.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Subscribe(ctx, client.Subscription{Filter: "x"}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}
