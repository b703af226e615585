package broker_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/testutil/mqdiff"
	"github.com/midge-mqtt/midge/packet"
)

// MQTT 5 properties of a PUBLISH or a will, as hex, to combine in any order.
const (
	propPF = "01 01"
	propME = "02 00015180" // Message Expiry Interval 86400
	propCT = "03 0002 6374"
	propRT = "08 0003 722f74"
	propCD = "09 0002 6364"
	propTA = "23 0001"
	propWD = "18 00000000" // Will Delay Interval 0
)

// userProp returns a User Property k=v as hex (one letter each).
func userProp(k, v byte) string { return fmt.Sprintf("26 0001 %02x 0001 %02x", k, v) }

// propSection returns a property section (length prefix and the hex pieces).
func propSection(t *testing.T, pieces ...string) string {
	s := strings.ReplaceAll(strings.Join(pieces, ""), " ", "")
	if len(s)/2 > 127 {
		t.Fatal("properties too long for a one-byte length")
	}
	return fmt.Sprintf("%02x%s", len(s)/2, s)
}

// rawPacket returns the packet of type and flags with body (hex).
func rawPacket(t *testing.T, typ packet.Type, flags byte, body string) []byte {
	b := testutil.Hex(t, body)
	return append(packet.FixedHeader{Type: typ, Flags: flags, Remaining: len(b)}.Append(nil), b...)
}

// rawPub is an MQTT 5 PUBLISH on topic "t" at QoS 1 (packet identifier
// 1) with the property section ps and payload "x".
func rawPub(t *testing.T, retain bool, ps string) []byte {
	var flags byte = 2
	if retain {
		flags |= 1
	}
	return rawPacket(t, packet.TypePublish, flags, "0001 74 0001"+ps+"78")
}

// sameWithExpiry compares the transcripts like mqdiff.SameAsMosquitto,
// except that Mosquitto may count a second less of Message Expiry when a
// second boundary passes between receiving and sending; midge rounds up.
func sameWithExpiry(t *testing.T, conf []string, script []testutil.Step) {
	t.Helper()
	mosq, midge := mqdiff.Differential(t, conf, script)
	m := strings.ReplaceAll(mosq.String(), "020001517f", "0200015180")
	if m != midge.String() {
		t.Errorf("midge's bytes differ from Mosquitto's\nmosquitto:\n%s\nmidge:\n%s", mosq, midge)
	}
}

// subT subscribes connection i to "t" at QoS 1, with Subscription
// Identifier 7 if subID.
func subT(t *testing.T, i int, subID bool) testutil.Step {
	s := &packet.Subscribe{PacketID: 1, Subscriptions: sub1("t", 1)}
	if subID {
		s.Properties.SubscriptionIDs = []uint32{7}
	}
	return testutil.Step{Conn: i, Send: pk(t, packet.Version5, s), Read: 1}
}

// Issue 14 item 5: a forwarded message's properties come in Mosquitto's
// order: the Subscription Identifier, then the publisher's properties in
// the order it sent them (User Properties interleaved as they came), the
// Message Expiry Interval last; the publisher's Topic Alias is not
// forwarded.
func TestCompatForwardedPropertyOrder(t *testing.T) {
	const v = packet.Version5
	orders := map[string]string{
		"mixed":    propSection(t, userProp('a', '1'), propCT, propPF, propME, propTA, propRT, userProp('b', '2'), propCD),
		"reversed": propSection(t, propCD, propME, userProp('b', '2'), propRT, propPF, userProp('a', '1'), userProp('c', '3'), propCT),
		"users":    propSection(t, userProp('z', '1'), userProp('a', '2'), propME, userProp('z', '3')),
		"no-extra": propSection(t, propRT, propPF),
	}
	for name, ps := range orders {
		for _, subID := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/subid=%v", name, subID), func(t *testing.T) {
				t.Parallel()
				sameWithExpiry(t, nil, []testutil.Step{
					connStep(t, 1, v, "sub"),
					subT(t, 1, subID),
					connStep(t, 0, v, "pub"),
					{Send: rawPub(t, false, ps), Read: 1},
					{Conn: 1, Read: 1, Quiet: quiet},
				})
			})
		}
	}
}

// A retained message delivered on subscribe keeps the same order.
func TestCompatRetainedPropertyOrder(t *testing.T) {
	const v = packet.Version5
	t.Parallel()
	ps := propSection(t, propCD, userProp('a', '1'), propME, propCT, userProp('b', '2'), propPF, propRT)
	sameWithExpiry(t, nil, []testutil.Step{
		connStep(t, 0, v, "pub"),
		{Send: rawPub(t, true, ps), Read: 1},
		connStep(t, 1, v, "sub"),
		{Conn: 1, Send: subT(t, 1, true).Send, Read: 2, Quiet: quiet},
	})
}

// A will keeps the order of its will properties, the Will Delay Interval
// left out.
func TestCompatWillPropertyOrder(t *testing.T) {
	const v = packet.Version5
	t.Parallel()
	ps := propSection(t, userProp('a', '1'), propRT, propWD, propME, propCD, userProp('b', '2'), propPF, propCT)
	// CONNECT: clean start, will at QoS 1, client "w", will topic "t",
	// will payload "x".
	connect := rawPacket(t, packet.TypeConnect, 0, "0004 4d515454 05 0e 003c 00 0001 77"+ps+"0001 74 0001 78")
	sameWithExpiry(t, nil, []testutil.Step{
		connStep(t, 1, v, "sub"),
		subT(t, 1, true),
		{Send: connect, Read: 1, Hangup: true},
		{Conn: 1, Read: 1, Quiet: quiet},
	})
}

// A message queued for an offline session is delivered on reconnection in
// the same order.
func TestCompatQueuedPropertyOrder(t *testing.T) {
	const v = packet.Version5
	t.Parallel()
	cp := &packet.Connect{ProtocolVersion: v, ClientID: "sub", KeepAlive: 60}
	cp.Properties.SetUint(packet.PropSessionExpiry, 300)
	ps := propSection(t, propPF, userProp('a', '1'), propME, propCD, propCT, userProp('b', '2'), propRT)
	sameWithExpiry(t, nil, []testutil.Step{
		{Conn: 1, Send: pk(t, v, cp), Read: 1},
		subT(t, 1, true),
		{Conn: 1, Send: pk(t, v, &packet.Disconnect{}), Close: true},
		connStep(t, 0, v, "pub"),
		{Send: rawPub(t, false, ps), Read: 1},
		{Conn: 2, Send: pk(t, v, cp), Read: 2, Quiet: quiet},
	})
}

// Messages restored from the store after a restart keep the order of their
// properties: the store keeps them as a PUBLISH's property section.
func TestPersistPropertyOrder(t *testing.T) {
	const v = packet.Version5
	ps := propSection(t, propCD, userProp('a', '1'), propCT, userProp('b', '2'), propPF, propRT)
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		cp := offline(t, b, "sub", "t", 1)
		testutil.Run(t, b.Addr, []testutil.Step{connStep(t, 0, v, "pub"), {Send: rawPub(t, true, ps), Read: 1}})
		b = restart()
		retained := subT(t, 1, false)
		retained.Read = 2 // SUBACK, the retained message
		tr := testutil.Run(t, b.Addr, []testutil.Step{
			{Send: pk(t, v, cp), Read: 2}, // CONNACK, the queued message
			connStep(t, 1, v, "late"),
			retained,
		})
		if n := strings.Count(tr.String(), strings.ReplaceAll(ps, " ", "")); n != 2 {
			t.Errorf("%d of the 2 restored messages have the properties %s as published:\n%s", n, ps, tr)
		}
	})
}
