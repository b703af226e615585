package broker_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/version"
	"github.com/midge-mqtt/midge/packet"
)

// Wildcards [MQTT-4.7.1-1..3] and the $ rule [MQTT-4.7.2-1].
func TestWildcardMatching(t *testing.T) {
	b := start(t, open())
	s := connect(t, b, 4, "s")
	subscribe(t, s, 1, []packet.Subscription{{Filter: "a/+/c"}, {Filter: "x/#"}, {Filter: "+"}}, packet.Properties{}, 0, 0, 0)
	hash := subscriber(t, b, 4, "hash", "#", 0)
	p := connect(t, b, 4, "p")
	cases := []struct {
		topic string
		s     bool // s receives it
	}{
		{"a/b/c", true}, {"a//c", true}, {"a/b/c/d", false}, {"x", true}, {"x/y/z", true},
		{"top", true}, {"/top", false}, {"$SYSX/a", false}, {"$x", false},
	}
	for _, tc := range cases {
		pub(t, p, 0, tc.topic, tc.topic, 0, false)
	}
	pub(t, p, 0, "x/end", "end", 0, false) // both receive it: marks the end
	for _, c := range []struct {
		client *testutil.Client
		want   func(topic string, s bool) bool
	}{
		{s, func(_ string, s bool) bool { return s }},
		{hash, func(topic string, _ bool) bool { return topic[0] != '$' }},
	} {
		var want []string
		for _, tc := range cases {
			if c.want(tc.topic, tc.s) {
				want = append(want, tc.topic)
			}
		}
		want = append(want, "x/end")
		var got []string
		for len(got) == 0 || got[len(got)-1] != "x/end" {
			got = append(got, testutil.Expect[*packet.Publish](c.client).Topic)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// $SYS is read-only for clients, and readable with an explicit filter.
func TestSysTopics(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: 50 * 1e6})
	// The $SYS goroutine publishes the version once it runs; a SUBSCRIBE
	// racing that publish may get it live as well as retained.
	testutil.WaitFor(t, "the retained version", func() bool {
		found := false
		b.Server.RetainedMessages("$SYS/broker/version", func(*broker.Message) bool { found = true; return false })
		return found
	})
	s := subscriber(t, b, 5, "s", "$SYS/broker/version", 0)
	got := expectPublish(t, s, "$SYS/broker/version", "midge version "+version.Version)
	if !got.Retain {
		t.Error("$SYS/broker/version not retained")
	}
	p := connect(t, b, 5, "p")
	if rc := pub(t, p, 1, "$SYS/broker/version", "fake", 1, false); rc != packet.NotAuthorized {
		t.Errorf("PUBACK %v for a $SYS publish, want 0x87", rc)
	}
	expectNoMore(t, s, "client publish reached $SYS")
	s.Subscribe(2, "$SYS/broker/uptime", 0)
	testutilExpectTopic(t, s, "$SYS/broker/uptime")
}

func testutilExpectTopic(t *testing.T, c interface {
	Next() packet.Packet
}, topicName string) {
	t.Helper()
	p, ok := c.Next().(*packet.Publish)
	if !ok || p.Topic != topicName {
		t.Fatalf("got %+v, want PUBLISH on %q", p, topicName)
	}
}

// Re-subscribing replaces the subscription [MQTT-3.8.4-3]; UNSUBSCRIBE stops
// delivery and answers per filter, 0x11 for no subscription (v5).
func TestResubscribeAndUnsubscribe(t *testing.T) {
	b := start(t, open())
	s := subscriber(t, b, 5, "s", "r", 2)
	s.Subscribe(2, "r", 0) // replaces
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "r", "m", 2, false)
	if got := expectPublish(t, s, "r", "m"); got.QoS != 0 {
		t.Errorf("QoS %d after resubscribing at 0", got.QoS)
	}
	expectNoMore(t, s, "duplicate after resubscribe")
	s.Send(&packet.Unsubscribe{PacketID: 3, Filters: []string{"r", "never"}})
	ua, ok := s.Next().(*packet.Unsuback)
	if !ok || ua.PacketID != 3 || !slices.Equal(ua.ReasonCodes, []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted}) {
		t.Fatalf("UNSUBACK %+v", ua)
	}
	pub(t, p, 2, "r", "m", 1, false)
	expectNoMore(t, s, "delivered after unsubscribe")
	// 3.1.1 UNSUBACK has no payload [MQTT-3.10.4-4].
	s3 := connect(t, b, 4, "s3")
	s3.Send(&packet.Unsubscribe{PacketID: 4, Filters: []string{"nothing"}})
	if ua, ok := s3.Next().(*packet.Unsuback); !ok || ua.PacketID != 4 {
		t.Fatalf("3.1.1 UNSUBACK %+v", ua)
	}
}

// Overlapping subscriptions: one copy at the highest QoS, with the
// Subscription Identifier if one of them has it [MQTT-3.3.4-2],
// [MQTT-3.3.4-4]; subscriptions that each have an identifier get a copy
// each [MQTT-3.3.4-5]; with allow_duplicate_messages, one copy per
// subscription.
func TestOverlappingSubscriptions(t *testing.T) {
	b := start(t, open())
	s := connect(t, b, 5, "s")
	var id1, id2 packet.Properties
	id1.SubscriptionIDs = []uint32{11}
	id2.SubscriptionIDs = []uint32{22}
	subscribe(t, s, 1, []packet.Subscription{{Filter: "o/+", QoS: 0}}, packet.Properties{}, 0)
	subscribe(t, s, 2, []packet.Subscription{{Filter: "o/#", QoS: 2}}, id2, 2)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "o/x", "m", 1, false)
	got := expectPublish(t, s, "o/x", "m")
	if got.QoS != 1 || !slices.Equal(got.Properties.SubscriptionIDs, []uint32{22}) {
		t.Errorf("got QoS %d ids %v, want QoS 1 ids [22]", got.QoS, got.Properties.SubscriptionIDs)
	}
	ackAll(t, s, got)
	expectNoMore(t, s, "extra copies")

	subscribe(t, s, 3, []packet.Subscription{{Filter: "o/+", QoS: 0}}, id1, 0) // now both have one
	pub(t, p, 2, "o/x", "n", 1, false)
	copies := map[uint32]byte{}
	for range 2 {
		m := expectPublish(t, s, "o/x", "n")
		if len(m.Properties.SubscriptionIDs) != 1 {
			t.Fatalf("ids %v, want one", m.Properties.SubscriptionIDs)
		}
		copies[m.Properties.SubscriptionIDs[0]] = m.QoS
		ackAll(t, s, m)
	}
	if len(copies) != 2 || copies[11] != 0 || copies[22] != 1 {
		t.Errorf("copies by identifier and QoS: %v, want 11 at 0 and 22 at 1", copies)
	}

	b = start(t, broker.Config{AllowAnonymous: true, AllowDuplicateMessages: true})
	s = connect(t, b, 4, "s")
	s.Subscribe(1, "o/+", 0)
	s.Subscribe(2, "o/#", 1)
	p = connect(t, b, 4, "p")
	pub(t, p, 1, "o/x", "m", 1, false)
	a := expectPublish(t, s, "o/x", "m")
	c := expectPublish(t, s, "o/x", "m")
	if a.QoS+c.QoS != 1 {
		t.Errorf("copies at QoS %d and %d, want 0 and 1", a.QoS, c.QoS)
	}
}

// SUBACK codes per filter: granted QoS capped by max_qos, 0x87/0x80 for a
// filter the Authorizer refuses [MQTT-3.9.3-1].
func TestSubackCodes(t *testing.T) {
	deny := rules(func(_ *broker.Client, topic string, a broker.Access) bool {
		return !(a == broker.Subscribe && topic == "secret/#")
	})
	b := start(t, broker.Config{AllowAnonymous: true, MaxQoS: 1, Authorizers: []broker.Authorizer{deny}})
	s := connect(t, b, 5, "s")
	subscribe(t, s, 1, []packet.Subscription{{Filter: "a", QoS: 2}, {Filter: "secret/#", QoS: 1}, {Filter: "b", QoS: 0}},
		packet.Properties{}, 1, packet.NotAuthorized, 0)
	s3 := connect(t, b, 4, "s3")
	subscribe(t, s3, 1, []packet.Subscription{{Filter: "secret/#", QoS: 1}, {Filter: "a", QoS: 1}},
		packet.Properties{}, packet.SubackFailureV3, 1)
}

// An invalid filter is a malformed packet: the connection is closed (v5 with
// DISCONNECT 0x81), as Mosquitto does.
func TestInvalidFilterCloses(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		c := connect(t, b, v, "bad")
		// SUBSCRIBE id 1, filter "a/#/b" QoS 0, written by hand (the
		// encoder refuses it).
		raw := []byte{0x82, 0, 0, 1}
		if v == 5 {
			raw = append(raw, 0) // no properties
		}
		raw = append(raw, 0, 5, 'a', '/', '#', '/', 'b', 0)
		raw[1] = byte(len(raw) - 2)
		c.SendRaw(raw)
		if v == 5 {
			expectDisconnect(t, c, packet.MalformedPacket)
		} else if got := c.ExpectClosed(); len(got) != 0 {
			t.Errorf("3.1.1: got %v", got)
		}
	}
}

// Messages are checked against the subscriber's read rights at delivery, as
// Mosquitto 2.0 does.
func TestReadACLAtDelivery(t *testing.T) {
	az := rules(func(c *broker.Client, topic string, a broker.Access) bool {
		return !(a == broker.Read && c.ID == "nosy" && topic == "private")
	})
	b := start(t, broker.Config{AllowAnonymous: true, Authorizers: []broker.Authorizer{az}})
	nosy := subscriber(t, b, 4, "nosy", "#", 0)
	ok := subscriber(t, b, 4, "ok", "#", 0)
	p := connect(t, b, 4, "p")
	pub(t, p, 0, "private", "x", 0, false)
	pub(t, p, 0, "public", "y", 0, false)
	expectPublish(t, nosy, "public", "y")
	expectPublish(t, ok, "private", "x")
	expectPublish(t, ok, "public", "y")
}

// An unauthorised PUBLISH is dropped; MQTT 5 QoS 1 gets PUBACK 0x87, 3.1.1 a
// plain PUBACK.
func TestWriteACL(t *testing.T) {
	az := rules(func(_ *broker.Client, topic string, a broker.Access) bool {
		return !(a == broker.Write && topic == "ro")
	})
	b := start(t, broker.Config{AllowAnonymous: true, Authorizers: []broker.Authorizer{az}})
	s := subscriber(t, b, 5, "s", "#", 1)
	p5 := connect(t, b, 5, "p5")
	if rc := pub(t, p5, 1, "ro", "x", 1, false); rc != packet.NotAuthorized {
		t.Errorf("v5 PUBACK %v, want 0x87", rc)
	}
	p4 := connect(t, b, 4, "p4")
	pub(t, p4, 1, "ro", "x", 2, false)
	expectNoMore(t, s, "denied message delivered")
}

// No Local [MQTT-3.8.3-3]; No Local on a shared subscription is a protocol
// error [MQTT-3.8.3-4].
func TestNoLocal(t *testing.T) {
	b := start(t, open())
	c := connect(t, b, 5, "c")
	subscribe(t, c, 1, []packet.Subscription{{Filter: "n", QoS: 1, NoLocal: true}}, packet.Properties{}, 1)
	other := connect(t, b, 5, "o")
	pub(t, c, 1, "n", "mine", 1, false)
	pub(t, other, 1, "n", "theirs", 1, false)
	expectPublish(t, c, "n", "theirs")
	// SUBSCRIBE id 2, no properties, "$share/g/n" with No Local: the
	// encoder refuses to build it, so write it by hand.
	raw := append([]byte{0x82, 0, 0, 2, 0, 0, 10}, "$share/g/n"...)
	raw = append(raw, 0x04)
	raw[1] = byte(len(raw) - 2)
	c.SendRaw(raw)
	expectDisconnect(t, c, packet.ProtocolError)
}

// Subscriptions that carry the same identifier get one copy, with the
// identifier once [MQTT-3.3.4-4] (different identifiers: a copy each,
// TestOverlappingSubscriptionIDsSpec).
func TestOverlappingIdentifiersGetCopies(t *testing.T) {
	b := start(t, open())
	s := connect(t, b, 5, "s")
	var id packet.Properties
	id.SubscriptionIDs = []uint32{42}
	subscribe(t, s, 1, []packet.Subscription{{Filter: "ov/#", QoS: 1}, {Filter: "ov/b", QoS: 1}}, id, 1, 1)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "ov/b", "m", 1, false)
	m := expectPublish(t, s, "ov/b", "m")
	if !slices.Equal(m.Properties.SubscriptionIDs, []uint32{42}) {
		t.Errorf("ids %v, want [42]", m.Properties.SubscriptionIDs)
	}
	ackAll(t, s, m)
	expectNoMore(t, s, "extra copies")
}

// Every retained message is sent on subscribe, however many there are
// [MQTT-3.3.1-9] (v5), [MQTT-3.3.1-6] (3.1.1): max_queued_messages does not
// cut them off.
func TestManyRetainedOnSubscribe(t *testing.T) {
	cfg := open()
	cfg.MaxQueuedMessages = 10
	b := start(t, cfg)
	p := connect(t, b, 4, "p")
	const n = 50
	for i := range n {
		pub(t, p, uint16(i+1), fmt.Sprint("many/", i), "r", 1, true)
	}
	s := subscriber(t, b, 4, "s", "many/#", 0)
	for range n {
		testutil.Expect[*packet.Publish](s)
	}
}

// check_retain_source: a retained message is not sent to new subscribers
// once its publisher may no longer publish to the topic.
func TestRetainSourceCheck(t *testing.T) {
	var revoked atomic.Bool
	az := rules(func(c *broker.Client, topic string, a broker.Access) bool {
		return !(revoked.Load() && a == broker.Write && c.ID == "p")
	})
	for _, skip := range []bool{false, true} {
		cfg := open()
		cfg.Authorizers = []broker.Authorizer{az}
		cfg.SkipRetainSourceCheck = skip
		b := start(t, cfg)
		revoked.Store(false)
		p := connect(t, b, 4, "p")
		pub(t, p, 1, "rs", "kept", 1, true)
		revoked.Store(true)
		s := subscriber(t, b, 4, "s", "rs", 1)
		got := ping(t, s)
		if skip != (len(got) == 1) {
			t.Errorf("check skipped %v: got %v", skip, got)
		}
	}
}

// log_type subscribe and unsubscribe log "ID QOS FILTER" and "ID FILTER",
// as Mosquitto does; with the default types they are not logged.
func TestSubscribeLogType(t *testing.T) {
	for _, tc := range []struct {
		types logging.Type
		want  []string
	}{
		{logging.Subscribe | logging.Unsubscribe, []string{"logger 1 log/#", "logger log/#"}},
		{logging.DefaultTypes, nil},
	} {
		var out testutil.LockedBuffer
		h, err := logging.New(logging.Options{Types: tc.types, Dests: logging.Stderr, NoTimestamp: true}, logging.Env{Stderr: &out})
		if err != nil {
			t.Fatal(err)
		}
		b := start(t, broker.Config{AllowAnonymous: true, Logger: slog.New(h), QuietConnections: true})
		c := subscriber(t, b, packet.Version5, "logger", "log/#", 1)
		c.Send(&packet.Unsubscribe{PacketID: 2, Filters: []string{"log/#"}})
		testutil.Expect[*packet.Unsuback](c)
		b.Stop(t)
		h.Close()
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if strings.HasPrefix(l, "logger ") {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("log_type %v: lines %q, want %q", tc.types, got, tc.want)
		}
	}
}

// Mosquitto 2.1's $SYS topics: packets by type, sockets, shared
// subscriptions, packets waiting to be written.
func TestSys21(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true})
	c := subscriber(t, b, packet.Version5, "counted", "$share/g/a/#", 1)
	c.Subscribe(2, "plain/#", 0)
	ping(t, c)
	pub(t, c, 3, "x", "y", 1, false)

	num := func(name string) int {
		v, ok := b.SysValues()[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s = %q", name, v)
		}
		return n
	}
	for name, want := range map[string]int{
		"$SYS/broker/mqtt/connect/received":      1,
		"$SYS/broker/mqtt/connack/sent":          1,
		"$SYS/broker/mqtt/subscribe/received":    2,
		"$SYS/broker/mqtt/suback/sent":           2,
		"$SYS/broker/mqtt/pingreq/received":      1,
		"$SYS/broker/mqtt/pingresp/sent":         1,
		"$SYS/broker/mqtt/publish/received":      1,
		"$SYS/broker/mqtt/puback/sent":           1,
		"$SYS/broker/mqtt/publish/sent":          0,
		"$SYS/broker/mqtt/auth/received":         0,
		"$SYS/broker/mqtt/publish/dropped":       0,
		"$SYS/broker/connections/socket/count":   1,
		"$SYS/broker/shared_subscriptions/count": 1,
		"$SYS/broker/subscriptions/count":        2,
		"$SYS/broker/packet/out/count":           0,
		"$SYS/broker/packet/out/bytes":           0,
	} {
		testutil.WaitFor(t, name, func() bool { return num(name) == want })
	}
	c.Send(&packet.Unsubscribe{PacketID: 4, Filters: []string{"$share/g/a/#"}})
	testutil.WaitFor(t, "the shared subscription gone", func() bool {
		return num("$SYS/broker/shared_subscriptions/count") == 0 && num("$SYS/broker/mqtt/unsubscribe/received") == 1 &&
			num("$SYS/broker/mqtt/unsuback/sent") == 1
	})
}
