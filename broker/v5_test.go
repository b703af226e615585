package broker_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Inbound topic aliases up to max_topic_alias [MQTT-3.3.2-9]..[MQTT-3.3.2-12];
// an alias above it is 0x94, an unknown alias a protocol error.
func TestTopicAliasInbound(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxTopicAlias: 2})
	s := subscriber(t, b, 4, "s", "alias/#", 0)
	p := connect(t, b, 5, "p")
	send := func(topicName string, alias uint16, payload string) {
		m := &packet.Publish{Topic: topicName, Payload: []byte(payload)}
		m.Properties.SetUint(packet.PropTopicAlias, uint32(alias))
		p.Send(m)
	}
	send("alias/one", 1, "a")
	send("", 1, "b")
	send("alias/two", 1, "c") // remaps alias 1
	send("", 1, "d")
	expectPublish(t, s, "alias/one", "a")
	expectPublish(t, s, "alias/one", "b")
	expectPublish(t, s, "alias/two", "c")
	expectPublish(t, s, "alias/two", "d")
	send("", 2, "e") // never set
	expectDisconnect(t, p, packet.ProtocolError)
	p = connect(t, b, 5, "p2")
	send("alias/x", 3, "f")
	expectDisconnect(t, p, packet.TopicAliasInvalid)
}

// Outbound topic aliases within the client's Topic Alias Maximum, when
// enabled (max_topic_alias_broker); by default none are sent, as by Mosquitto.
func TestTopicAliasOutbound(t *testing.T) {
	cfg := open()
	cfg.MaxTopicAliasOut = 10
	b := start(t, cfg)
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "s", CleanStart: true}
	cp.Properties.SetUint(packet.PropTopicAliasMaximum, 1)
	s := subscribed(t, b, cp, "t/#", 0)
	p := connect(t, b, 4, "p")
	for _, topicName := range []string{"t/a", "t/a", "t/b", "t/a"} {
		pub(t, p, 0, topicName, topicName, 0, false)
	}
	want := []struct {
		topic string
		alias uint16
	}{{"t/a", 1}, {"", 1}, {"t/b", 0}, {"", 1}}
	for i, w := range want {
		m := testutil.Expect[*packet.Publish](s)
		alias := uint16(0)
		if m.Properties.Has(packet.PropTopicAlias) {
			alias = m.Properties.TopicAlias
		}
		if m.Topic != w.topic || alias != w.alias {
			t.Errorf("message %d: topic %q alias %d, want %q alias %d", i, m.Topic, alias, w.topic, w.alias)
		}
	}

	b = start(t, open())
	s, _ = connectWith(t, b, cp)
	s.Subscribe(1, "t/#", 0)
	p = connect(t, b, 4, "p")
	pub(t, p, 0, "t/a", "x", 0, false)
	pub(t, p, 0, "t/a", "y", 0, false)
	for _, want := range []string{"x", "y"} {
		if m := expectPublish(t, s, "t/a", want); m.Properties.Has(packet.PropTopicAlias) {
			t.Error("topic alias sent without topic_alias_out")
		}
	}
}

// Maximum Packet Size: the server's limit closes a connection that exceeds
// it (0x95) [MQTT-3.2.2-15]... and the client's limit makes the server drop
// messages too large for it [MQTT-3.1.2-24], [MQTT-3.1.2-25].
func TestMaximumPacketSize(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxPacketSize: 100})
	c := connect(t, b, 5, "big")
	c.Send(&packet.Publish{Topic: "t", Payload: make([]byte, 200)})
	expectDisconnect(t, c, packet.PacketTooLarge)

	b = start(t, open())
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "small", CleanStart: true}
	cp.Properties.SetUint(packet.PropMaximumPacketSize, 50)
	s := subscribed(t, b, cp, "m", 1)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "m", string(make([]byte, 100)), 1, false)
	pub(t, p, 2, "m", "fits", 1, false)
	got := expectPublish(t, s, "m", "fits")
	ackAll(t, s, got)
}

// message_size_limit: a larger payload is dropped; MQTT 5 QoS 1 publishers
// learn it from the PUBACK.
func TestMessageSizeLimit(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MessageSizeLimit: 10})
	s := subscriber(t, b, 4, "s", "#", 0)
	p := connect(t, b, 5, "p")
	if rc := pub(t, p, 1, "t", "01234567890", 1, false); rc != packet.ImplementationSpecificError {
		t.Errorf("PUBACK %v for an oversized payload", rc)
	}
	pub(t, p, 2, "t", "0123456789", 1, false)
	expectPublish(t, s, "t", "0123456789")
}

// A client that exceeds the server's Receive Maximum with QoS 2 gets
// DISCONNECT 0x93 [MQTT-3.3.4-8]... (the server announced 2).
func TestReceiveMaximumExceeded(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxInflightMessages: 2})
	p := connect(t, b, 5, "p")
	for id := uint16(1); id <= 2; id++ {
		p.Send(&packet.Publish{Topic: "q", QoS: 2, PacketID: id})
		expectAck(t, p, packet.TypePubrec, id)
	}
	p.Send(&packet.Publish{Topic: "q", QoS: 2, PacketID: 3})
	expectDisconnect(t, p, packet.ReceiveMaximumExceeded)
}

// Properties pass through unchanged: user properties in order, Payload
// Format Indicator, Content Type, Response Topic and Correlation Data
// [MQTT-3.3.2-4], [MQTT-3.3.2-15], [MQTT-3.3.2-16], [MQTT-3.3.2-17],
// [MQTT-3.3.2-20].
func TestPropertiesPassThrough(t *testing.T) {
	b := start(t, open())
	s := subscriber(t, b, 5, "s", "req", 1)
	p := connect(t, b, 5, "p")
	m := &packet.Publish{Topic: "req", QoS: 1, PacketID: 1, Payload: []byte("hi")}
	m.Properties.SetUint(packet.PropPayloadFormat, 1)
	m.Properties.SetString(packet.PropContentType, "text/plain")
	m.Properties.SetString(packet.PropResponseTopic, "resp/1")
	m.Properties.CorrelationData = []byte{1, 2, 3}
	m.Properties.Set(packet.PropCorrelationData)
	m.Properties.User = []packet.UserProperty{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}, {Key: "b", Value: "3"}}
	p.Send(m)
	expectAck(t, p, packet.TypePuback, 1)
	got := expectPublish(t, s, "req", "hi").Properties
	if got.PayloadFormat != 1 || !got.Has(packet.PropPayloadFormat) || got.ContentType != "text/plain" ||
		got.ResponseTopic != "resp/1" || !bytes.Equal(got.CorrelationData, []byte{1, 2, 3}) ||
		!slices.Equal(got.User, m.Properties.User) {
		t.Errorf("properties %+v", got)
	}
	if got.Has(packet.PropTopicAlias) || got.Has(packet.PropMessageExpiry) {
		t.Errorf("unexpected properties %+v", got)
	}
}

// Payload Format Indicator 1 with a payload that is not UTF-8: PUBACK 0x99,
// and for QoS 0 DISCONNECT 0x99 (3.3.2.3.2).
func TestPayloadFormatInvalid(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	m := &packet.Publish{Topic: "t", QoS: 1, PacketID: 1, Payload: []byte{0xff, 0xfe}}
	m.Properties.SetUint(packet.PropPayloadFormat, 1)
	p.Send(m)
	if a := expectAck(t, p, packet.TypePuback, 1); a.ReasonCode != packet.PayloadFormatInvalid {
		t.Errorf("PUBACK %v, want 0x99", a.ReasonCode)
	}
	m.QoS, m.PacketID = 0, 0
	p.Send(m)
	expectDisconnect(t, p, packet.PayloadFormatInvalid)
}

// MQTT 5 PUBACK tells a publisher nobody subscribed (0x10).
func TestNoMatchingSubscribers(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	if rc := pub(t, p, 1, "nobody/listens", "x", 1, false); rc != packet.NoMatchingSubscribers {
		t.Errorf("PUBACK %v, want 0x10", rc)
	}
}

// A PUBLISH from a client must not carry a Subscription Identifier
// [MQTT-3.3.4-6].
func TestClientPublishWithSubscriptionID(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	m := &packet.Publish{Topic: "t", Payload: []byte("x")}
	m.Properties.SubscriptionIDs = []uint32{3}
	p.Send(m)
	expectDisconnect(t, p, packet.ProtocolError)
}

// Shared subscriptions: each message goes to one member, round robin
// (4.8.2); a member that leaves with unacknowledged messages has them
// redelivered to another member.
func TestSharedSubscriptions(t *testing.T) {
	b := start(t, open())
	var members []*testutil.Client
	for i := range 3 {
		c := connect(t, b, 5, fmt.Sprint("m", i))
		c.Subscribe(1, "$share/g/jobs/#", 1)
		members = append(members, c)
	}
	plain := subscriber(t, b, 4, "plain", "jobs/#", 0)
	p := connect(t, b, 5, "p")
	const n = 30
	for i := range n {
		pub(t, p, uint16(i+1), "jobs/x", fmt.Sprint(i), 1, false)
	}
	for i := range n {
		expectPublish(t, plain, "jobs/x", fmt.Sprint(i))
	}
	total := 0
	for i, m := range members {
		got := ping(t, m)
		if len(got) != n/3 {
			t.Errorf("member %d got %d messages, want %d", i, len(got), n/3)
		}
		for _, g := range got {
			ackAll(t, m, g.(*packet.Publish))
		}
		total += len(got)
	}
	if total != n {
		t.Fatalf("members got %d messages in all, want %d", total, n)
	}

	// Member 0 receives the next message and leaves without acknowledging:
	// another member gets it.
	sole := subscriber(t, b, 5, "sole", "$share/h/work", 1)
	other := subscriber(t, b, 5, "other", "$share/h/work", 1)
	pub(t, p, 100, "work", "a", 1, false)
	pub(t, p, 101, "work", "b", 1, false)
	var first *testutil.Client
	var keep *testutil.Client
	if got := ping(t, sole); len(got) == 1 {
		first, keep = sole, other
	} else {
		first, keep = other, sole
	}
	ping(t, keep) // its own message, left unacknowledged is fine
	first.Close()
	m := testutil.Expect[*packet.Publish](keep)
	if m.Topic != "work" {
		t.Fatalf("got %+v", m)
	}
}

// Subscription Identifiers are sent with matching messages [MQTT-3.3.4-3]
// and a re-subscription's new identifier replaces the old.
func TestSubscriptionIdentifiers(t *testing.T) {
	b := start(t, open())
	s := connect(t, b, 5, "s")
	var id packet.Properties
	id.SubscriptionIDs = []uint32{268435455}
	subscribe(t, s, 1, []packet.Subscription{{Filter: "id/+"}}, id, 0)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "id/x", "m", 1, false)
	if got := expectPublish(t, s, "id/x", "m"); !slices.Equal(got.Properties.SubscriptionIDs, []uint32{268435455}) {
		t.Errorf("ids %v", got.Properties.SubscriptionIDs)
	}
	subscribe(t, s, 2, []packet.Subscription{{Filter: "id/+"}}, packet.Properties{}, 0)
	pub(t, p, 2, "id/x", "n", 1, false)
	if got := expectPublish(t, s, "id/x", "n"); len(got.Properties.SubscriptionIDs) != 0 {
		t.Errorf("ids %v after resubscribing without one", got.Properties.SubscriptionIDs)
	}
}

// Session Expiry Interval: a session expires after it [MQTT-4.1.0-? ] (3.1.2.11.2),
// a DISCONNECT may change it, but not from 0 [MQTT-3.14.2-2].
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	b := start(t, open())
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "e", Properties: expiryProps(1)}
	c := subscribed(t, b, cp, "x", 1)
	c.Close()
	testutil.WaitFor(t, "the session to expire", func() bool { return b.SysValues()["$SYS/broker/clients/total"] == "0" })
	_, ack := connectWith(t, b, cp)
	if ack.SessionPresent {
		t.Error("session present after expiry")
	}

	// DISCONNECT sets the expiry to 0: the session ends at once.
	long := &packet.Connect{ProtocolVersion: 5, ClientID: "d", Properties: expiryProps(600)}
	c, _ = connectWith(t, b, long)
	c.Send(&packet.Disconnect{Properties: expiryProps(0)})
	c.ExpectClosed()
	_, ack = connectWith(t, b, long)
	if ack.SessionPresent {
		t.Error("session kept after DISCONNECT with Session Expiry Interval 0")
	}

	// From 0 to non-zero is a protocol error.
	c = connect(t, b, 5, "z")
	c.Send(&packet.Disconnect{Properties: expiryProps(10)})
	expectDisconnect(t, c, packet.ProtocolError)

	// 3.1.1 clean session 0 survives; clean session 1 does not.
	persistent := &packet.Connect{ProtocolVersion: 4, ClientID: "p4"}
	c, _ = connectWith(t, b, persistent)
	disconnect(c)
	if _, ack := connectWith(t, b, persistent); !ack.SessionPresent {
		t.Error("3.1.1 persistent session lost")
	}
}

// AUTH without an Authentication Method is a protocol error (4.12).
func TestUnexpectedAuth(t *testing.T) {
	b := start(t, open())
	c := connect(t, b, 5, "a")
	c.Send(&packet.Auth{ReasonCode: packet.ReAuthenticate})
	if got := c.ExpectClosed(); len(got) != 0 { // closed without DISCONNECT, as Mosquitto
		t.Errorf("got %v before the close", got)
	}
}

// A malformed packet closes only its own connection (a malformed PUBREL
// without DISCONNECT, as Mosquitto does); others carry on.
func TestMalformedClosesOnlyThatConnection(t *testing.T) {
	b := start(t, open())
	s := subscriber(t, b, 4, "s", "ok", 0)
	bad := connect(t, b, 5, "bad")
	bad.SendRaw([]byte{0x60, 0x02, 0x00, 0x01})   // PUBREL with flags 0000, not 0010 [MQTT-3.6.1-1]
	if got := bad.ExpectClosed(); len(got) != 0 { // closed without DISCONNECT, as Mosquitto
		t.Errorf("got %v before the close", got)
	}
	p := connect(t, b, 4, "p")
	pub(t, p, 1, "ok", "still", 1, false)
	expectPublish(t, s, "ok", "still")
}

// A panic in one connection's handling closes that connection only, and
// the log has the panic's value and stack at the default log types.
func TestPanicRecovered(t *testing.T) {
	logger, out := mosquittoLog(t)
	b := start(t, broker.Config{AllowAnonymous: true, Authorizers: []broker.Authorizer{panicky{topic: "boom"}}, Logger: logger})
	s := subscriber(t, b, 4, "s", "fine", 0)
	c := connect(t, b, 4, "c")
	c.Send(&packet.Publish{Topic: "boom", Payload: []byte("x")})
	c.ExpectClosed()
	p := connect(t, b, 4, "p")
	pub(t, p, 1, "fine", "alive", 1, false)
	expectPublish(t, s, "fine", "alive")
	log := out.String()
	if !strings.Contains(log, "panic=\"authorizer exploded\"") || !strings.Contains(log, "stack=\"goroutine ") {
		t.Errorf("log %q, want the panic's value and stack", log)
	}
}

// Every goroutine ends at Shutdown.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	checkNoLeaks := leakCheck(t)
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, SysInterval: 10 * time.Millisecond})
	for i := range 5 {
		c := connect(t, b, byte(3+i%3), fmt.Sprint("c", i))
		c.Subscribe(1, "#", 1)
	}
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "x", "y", 1, true)
	b.Stop(t)
	checkNoLeaks()
}

// Shutdown reaches parked (idle) connections: each is disconnected and
// nothing is left running.
func TestShutdownParkedConnections(t *testing.T) {
	checkNoLeaks := leakCheck(t)
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited})
	var cs []*testutil.Client
	for i := range 20 {
		cs = append(cs, connect(t, b, byte(4+i%2), fmt.Sprint("idle", i)))
	}
	// Idle longer than a connection waits before parking.
	time.Sleep(400 * time.Millisecond) // the idleness under test, not a wait for a condition
	for _, c := range cs {
		ping(t, c) // a parked connection wakes for its client
	}
	time.Sleep(400 * time.Millisecond)
	done := make(chan struct{})
	go func() { b.Stop(t); close(done) }()
	for i, c := range cs {
		got := c.ExpectClosed()
		if i%2 == 1 && (len(got) != 1 || got[0].(*packet.Disconnect).ReasonCode != packet.ServerShuttingDown) {
			t.Errorf("MQTT 5 client %d got %v", i, got)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hangs on parked connections")
	}
	checkNoLeaks()
}
