package broker_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// open is a configuration that admits anonymous clients and publishes no
// $SYS tree (whose retained messages would be counted by tests).
func open() broker.Config { return broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited} }

// start starts a broker with cfg (anonymous clients admitted unless cfg
// configures security).
func start(t *testing.T, cfg broker.Config) *testutil.Broker {
	t.Helper()
	return testutil.StartBroker(t, cfg)
}

// waitOffline waits until the session of clientID has no connection. (The
// $SYS count of connected clients is no substitute when another client
// connects meanwhile: it is raised only after that client's CONNACK can
// have gone out.)
func waitOffline(t *testing.T, b *testutil.Broker, clientID string) {
	t.Helper()
	testutil.WaitFor(t, clientID+"'s session offline", func() bool {
		si, ok := b.Session(clientID)
		return ok && !si.Connected
	})
}

// connect connects a client with protocol version v and client id, clean
// start.
func connect(t *testing.T, b *testutil.Broker, v byte, id string) *testutil.Client {
	t.Helper()
	c, _ := testutil.Connect(t, b.Addr, v, id)
	return c
}

// subscriber connects a client as connect does and subscribes it to
// filter at qos.
func subscriber(t *testing.T, b *testutil.Broker, v byte, id, filter string, qos byte) *testutil.Client {
	t.Helper()
	c := connect(t, b, v, id)
	c.Subscribe(1, filter, qos)
	return c
}

// connectWith sends cp and returns the client and its CONNACK.
func connectWith(t *testing.T, b *testutil.Broker, cp *packet.Connect) (*testutil.Client, *packet.Connack) {
	t.Helper()
	c := testutil.Dial(t, b.Addr, cp.ProtocolVersion)
	return c, c.Connect(cp)
}

func expectPublish(t *testing.T, c *testutil.Client, topicName, payload string) *packet.Publish {
	t.Helper()
	p := testutil.Expect[*packet.Publish](c)
	if p.Topic != topicName || string(p.Payload) != payload {
		t.Fatalf("got PUBLISH %q %q, want %q %q", p.Topic, p.Payload, topicName, payload)
	}
	return p
}

func expectAck(t *testing.T, c *testutil.Client, kind packet.Type, id uint16) *packet.Ack {
	t.Helper()
	a := testutil.Expect[*packet.Ack](c)
	if a.Kind != kind || a.PacketID != id {
		t.Fatalf("got %v id %d, want %v id %d", a.Kind, a.PacketID, kind, id)
	}
	return a
}

func expectDisconnect(t *testing.T, c *testutil.Client, code packet.ReasonCode) {
	t.Helper()
	got := c.ExpectClosed()
	if len(got) == 0 {
		t.Fatalf("closed without DISCONNECT, want DISCONNECT %v", code)
	}
	d, ok := got[len(got)-1].(*packet.Disconnect)
	if !ok || d.ReasonCode != code {
		t.Fatalf("last packet %+v, want DISCONNECT %v", got[len(got)-1], code)
	}
}

// pub publishes at qos and completes the QoS handshake on the publisher's
// side, returning the PUBACK/PUBREC reason code. For QoS 0 it waits (with a
// PINGREQ) until the broker has routed the message.
func pub(t *testing.T, c *testutil.Client, id uint16, topicName, payload string, qos byte, retain bool) packet.ReasonCode {
	t.Helper()
	p := &packet.Publish{Topic: topicName, Payload: []byte(payload), QoS: qos, Retain: retain}
	if qos > 0 {
		p.PacketID = id
	}
	c.Send(p)
	switch qos {
	case 1:
		return expectAck(t, c, packet.TypePuback, id).ReasonCode
	case 2:
		rc := expectAck(t, c, packet.TypePubrec, id).ReasonCode
		if !rc.IsError() {
			c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: id})
			expectAck(t, c, packet.TypePubcomp, id)
		}
		return rc
	}
	if extra := ping(t, c); len(extra) != 0 {
		t.Fatalf("publisher received %v", extra)
	}
	return packet.Success
}

// ackAll acknowledges p as a subscriber would.
func ackAll(t *testing.T, c *testutil.Client, p *packet.Publish) {
	t.Helper()
	switch p.QoS {
	case 1:
		c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
	case 2:
		c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
		expectAck(t, c, packet.TypePubrel, p.PacketID)
		c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
	}
}

// subscribe subscribes with full options and expects the given codes.
func subscribe(t *testing.T, c *testutil.Client, id uint16, subs []packet.Subscription, props packet.Properties, want ...packet.ReasonCode) {
	t.Helper()
	c.Send(&packet.Subscribe{PacketID: id, Subscriptions: subs, Properties: props})
	ack := testutil.Expect[*packet.Suback](c)
	if ack.PacketID != id || len(ack.ReasonCodes) != len(want) {
		t.Fatalf("SUBACK %+v, want id %d codes %v", ack, id, want)
	}
	for i := range want {
		if ack.ReasonCodes[i] != want[i] {
			t.Fatalf("SUBACK codes %v, want %v", ack.ReasonCodes, want)
		}
	}
}

// sync makes sure the broker handled everything c sent before: it sends a
// PINGREQ and waits for the PINGRESP, returning other packets read first.
func ping(t *testing.T, c *testutil.Client) []packet.Packet {
	t.Helper()
	c.Send(&packet.Pingreq{})
	var before []packet.Packet
	for {
		p := c.Next()
		if _, ok := p.(*packet.Pingresp); ok {
			return before
		}
		before = append(before, p)
	}
}

// disconnect ends c's connection normally (DISCONNECT 0x00) and waits
// until the broker closes it.
func disconnect(c *testutil.Client) {
	c.Send(&packet.Disconnect{})
	c.ExpectClosed()
}

// expectNoMore reports a test error if c receives anything before the
// broker answers a PINGREQ (see ping): format and args say what that
// would be; the packets follow.
func expectNoMore(t *testing.T, c *testutil.Client, format string, args ...any) {
	t.Helper()
	if extra := ping(t, c); len(extra) != 0 {
		t.Errorf(format+": %v", append(args, extra)...)
	}
}

// startDenying starts a broker like open() whose one Authorizer refuses
// what denied reports, to any client.
func startDenying(t *testing.T, denied func(topic string, a broker.Access) bool) *testutil.Broker {
	cfg := open()
	cfg.Authorizers = []broker.Authorizer{rules(func(_ *broker.Client, topic string, a broker.Access) bool {
		return !denied(topic, a)
	})}
	return start(t, cfg)
}

// mosquittoLog returns a logger that writes midge's default log lines,
// as Mosquitto's, without timestamps, to out.
func mosquittoLog(t *testing.T) (*slog.Logger, *testutil.LockedBuffer) {
	t.Helper()
	var out testutil.LockedBuffer
	opts := logging.Defaults()
	opts.NoTimestamp = true
	h, err := logging.New(opts, logging.Env{Stderr: &out, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	return slog.New(h), &out
}

// users is an Authenticator with a fixed table. It defers for clients
// without a user name.
type users map[string]string

func (u users) Authenticate(_ context.Context, c *broker.Client, pw []byte, has bool) (broker.Verdict, error) {
	if !c.HasUsername {
		return broker.Defer, nil
	}
	if want, ok := u[c.Username]; ok && has && string(pw) == want {
		return broker.Allow, nil
	}
	return broker.Deny, nil
}

// rules is an Authorizer that allows what a function says, and denies the
// rest.
type rules func(c *broker.Client, topic string, a broker.Access) bool

func (r rules) Authorize(_ context.Context, c *broker.Client, topic string, a broker.Access) broker.Verdict {
	if r(c, topic, a) {
		return broker.Allow
	}
	return broker.Deny
}

// panicky is an Authorizer that panics on a chosen topic.
type panicky struct{ topic string }

func (p panicky) Authorize(_ context.Context, _ *broker.Client, topic string, _ broker.Access) broker.Verdict {
	if topic == p.topic {
		panic("authorizer exploded")
	}
	return broker.Allow
}

// hourSession is the CONNECT of id, an MQTT 5 client whose session
// outlives its connection by an hour.
func hourSession(id string) *packet.Connect {
	return &packet.Connect{ProtocolVersion: 5, ClientID: id, Properties: expiryProps(3600)}
}

// subscribed connects cp and subscribes it to filter at qos.
func subscribed(t *testing.T, b *testutil.Broker, cp *packet.Connect, filter string, qos byte) *testutil.Client {
	t.Helper()
	c, _ := connectWith(t, b, cp)
	c.Subscribe(1, filter, qos)
	return c
}

// startStore starts a broker open to anyone that persists to st.
func startStore(t *testing.T, st broker.Store) *testutil.Broker {
	cfg := open()
	cfg.Store = st
	return testutil.StartBroker(t, cfg)
}
