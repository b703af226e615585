package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Item 2: protocol level 0 gets CONNACK 0x01 before the close [MQTT-3.1.2-2].
func TestCompatProtocolLevelZero(t *testing.T) {
	runCompat(t, []compatCase{{"level0", []byte{packet.Version311}, nil, func(t *testing.T, v byte) []testutil.Step {
		return []testutil.Step{{Send: testutil.Hex(t, "10 0c 0004 4d515454 00 02 003c 0000"), Close: true}}
	}}})
}

// Item 3: a PUBREL with DUP set from an MQTT 3.1 client is accepted.
func TestCompatV31PubrelDup(t *testing.T) {
	runCompat(t, []compatCase{{"pubrel-dup", []byte{packet.Version31}, nil, func(t *testing.T, v byte) []testutil.Step {
		return []testutil.Step{
			connStep(t, 0, v, "a"),
			{Send: pk(t, v, &packet.Publish{Topic: "t", QoS: 2, PacketID: 1, Payload: []byte("x")}), Read: 1},
			{Send: testutil.Hex(t, "6a 02 0001"), Read: 1, Quiet: quiet},
		}
	}}})
}

// Item 4: a wrong acknowledgement type is a protocol error.
func TestCompatWrongAckType(t *testing.T) {
	wrong := func(qos byte, ack string) func(t *testing.T, v byte) []testutil.Step {
		return func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{
				connStep(t, 1, v, "sub"),
				{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("t", qos)}), Read: 1},
				connStep(t, 2, v, "pub"),
				{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "t", QoS: qos, PacketID: 1, Payload: []byte("x")}), Read: 1},
				{Conn: 2, Send: testutil.Hex(t, "62 02 0001"), Read: 1}, // PUBREL: Mosquitto delivers QoS 2 on it
				{Conn: 1, Read: 1},
				{Conn: 1, Send: testutil.Hex(t, ack), Close: true},
			}
		}
	}
	runCompat(t, []compatCase{
		{"qos1-pubcomp", both, nil, wrong(1, "70 02 0001")},
		{"qos1-pubrec", both, nil, wrong(1, "50 02 0001")},
		{"qos2-puback", both, nil, wrong(2, "40 02 0001")},
		{"qos2-pubcomp", both, nil, wrong(2, "70 02 0001")},
	})
}

// Item 7: acknowledgements in the short form.
func TestCompatShortAcks(t *testing.T) {
	runCompat(t, []compatCase{
		{"pubrec-no-subscribers", both, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{
				connStep(t, 0, v, "a"),
				{Send: pk(t, v, &packet.Publish{Topic: "t", QoS: 2, PacketID: 1, Payload: []byte("x")}), Read: 1},
				{Send: testutil.Hex(t, "62 02 0001"), Read: 1},
				{Send: testutil.Hex(t, "62 02 0001"), Read: 1},
				{Send: testutil.Hex(t, "62 02 0007"), Read: 1},
				{Send: pk(t, v, &packet.Publish{Topic: "t", QoS: 1, PacketID: 2, Payload: []byte("x")}), Read: 1, Quiet: quiet},
			}
		}},
		{"unknown-ids", both, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{
				connStep(t, 0, v, "a"),
				{Send: testutil.Hex(t, "40 02 0007 70 02 0008 50 02 0009"), Read: 1, Quiet: quiet},
			}
		}},
	})
}

// hexFor returns the bytes of h5 (hex) for MQTT 5, of h311 for the other
// versions.
func hexFor(t *testing.T, v byte, h311, h5 string) []byte {
	if v == packet.Version5 {
		return testutil.Hex(t, h5)
	}
	return testutil.Hex(t, h311)
}

// Item 8: reason codes as Mosquitto picks them.
func TestCompatReasonCodes(t *testing.T) {
	sub := func(raw311, raw5 string) func(t *testing.T, v byte) []testutil.Step {
		return func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{connStep(t, 0, v, "a"), {Send: hexFor(t, v, raw311, raw5), Close: true}}
		}
	}
	runCompat(t, []compatCase{
		{"subscribe-id0", both, nil, sub("82 06 0000 0001 74 00", "82 07 0000 00 0001 74 00")},
		{"subscribe-qos3", both, nil, sub("82 06 0001 0001 74 03", "82 07 0001 00 0001 74 03")},
		{"subscribe-rh3", []byte{packet.Version5}, nil, sub("", "82 07 0001 00 0001 74 30")},
		{"subscribe-empty", both, nil, sub("82 02 0001", "82 03 0001 00")},
		{"subscribe-subid0", []byte{packet.Version5}, nil, sub("", "82 09 0001 02 0b00 0001 74 00")},
		{"unsubscribe-id0", both, nil, sub("a2 05 0000 0001 74", "a2 06 0000 00 0001 74")},
		{"unsubscribe-empty", both, nil, sub("a2 02 0001", "a2 03 0001 00")},
		{"publish-wildcard", both, nil, sub("30 05 0003 612f2b", "30 06 0003 612f2b 00")},
		{"publish-wildcard-hash", both, nil, sub("30 03 0001 23", "30 04 0001 23 00")},
		{"empty-id-refused", both, []string{"allow_zero_length_clientid false"}, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{{Send: pk(t, v, &packet.Connect{ProtocolVersion: v, CleanStart: true, KeepAlive: 60}), Close: true}}
		}},
		{"message-size-limit", []byte{packet.Version311}, []string{"message_size_limit 10"}, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{connStep(t, 0, v, "a"),
				{Send: pk(t, v, &packet.Publish{Topic: "t", QoS: 1, PacketID: 1, Payload: []byte(strings.Repeat("x", 20))}), Read: 1, Quiet: quiet}}
		}},
		{"payload-format-2", []byte{packet.Version5}, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{
				connStep(t, 1, v, "sub"),
				{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("t", 0)}), Read: 1},
				connStep(t, 0, v, "a"),
				{Send: testutil.Hex(t, "30 08 0001 74 02 0102 78"), Quiet: quiet},
				{Conn: 1, Quiet: quiet},
			}
		}},
	})
}

// Item 9: a second CONNECT, or a CONNACK from a client, just closes.
func TestCompatCloseWithoutDisconnect(t *testing.T) {
	runCompat(t, []compatCase{
		{"second-connect", both, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{connStep(t, 0, v, "a"), {Send: conn(t, v, "a"), Close: true}}
		}},
		{"connack-from-client", both, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{connStep(t, 0, v, "a"), {Send: hexFor(t, v, "20 02 0000", "20 03 000000"), Close: true}}
		}},
	})
}

// Item 5: CONNACK properties in Mosquitto's order.
func TestCompatConnackOrder(t *testing.T) {
	runCompat(t, []compatCase{
		{"connack-properties", []byte{packet.Version5},
			[]string{"max_qos 1", "retain_available false", "max_packet_size 1000", "max_inflight_messages 10", "max_keepalive 30"},
			func(t *testing.T, v byte) []testutil.Step { return []testutil.Step{connStep(t, 0, v, "a")} }},
	})
}

// Item 9: the malformed packets and protocol errors of the 5.0 conformance
// suite get Mosquitto's bytes: DISCONNECT only for PUBLISH, SUBSCRIBE and
// UNSUBSCRIBE.
func TestCompatV5Errors(t *testing.T) {
	var cases []compatCase
	for _, tc := range v5ErrorCases {
		cases = append(cases, compatCase{tc.name, []byte{packet.Version5}, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{connStep(t, 0, v, "a"), {Send: tc.raw, Close: true}}
		}})
	}
	runCompat(t, cases)
}

// keptDifferences are the cases, by name, where midge keeps an answer of
// its own (docs/mosquitto-compat.md says why): such a case checks that the
// bytes differ, so that a change on either side shows. Most are packets
// Mosquitto 2.0.11 accepts against the spec, and midge refuses.
var keptDifferences = map[string]string{
	"topic-alias-0":                        "Topic Alias 0: DISCONNECT 0x94, the code for it, where Mosquitto sends 0x81",
	"1.5.5-1 remaining length not minimal": "Mosquitto accepts a remaining length not in its shortest form [MQTT-1.5.5-1]",
	"3.3.1-2 DUP on QoS 0":                 "Mosquitto accepts DUP on QoS 0 [MQTT-3.3.1-2]",
	"2.1.3-1 PINGREQ flags":                "Mosquitto accepts PINGREQ with reserved flags set [MQTT-2.1.3-1]",
	"3.4.2-1 PUBACK reason code 0x03":      "Mosquitto accepts a PUBACK reason code PUBACK may not carry [MQTT-3.4.2-1]",
	"3.3.2-14 wildcard in Response Topic":  "Mosquitto accepts a wildcard in a Response Topic [MQTT-3.3.2-14]",
	"4.8.2-2 + in a ShareName":             "Mosquitto accepts + in a ShareName [MQTT-4.8.2-2]",
	"4.8.2-1 $share without a filter":      "Mosquitto accepts $share/<name> without a filter [MQTT-4.8.2-1]",
}

// Item 9: AUTH without an authentication method, Topic Alias 0.
func TestCompatV5MoreErrors(t *testing.T) {
	raw := func(h string) func(t *testing.T, v byte) []testutil.Step {
		return func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{connStep(t, 0, v, "a"), {Send: testutil.Hex(t, h), Close: true}}
		}
	}
	v5 := []byte{packet.Version5}
	runCompat(t, []compatCase{
		{"auth-without-method", v5, nil, raw("f0 02 19 00")},
		{"topic-alias-0", v5, nil, raw("30 08 0001 61 03 230000 78")},
		{"topic-alias-too-large", v5, nil, raw("30 08 0001 61 03 2300ff 78")},
		{"pubrel-flags-0", v5, nil, raw("60 02 0001")},
		{"disconnect-sets-expiry", v5, nil, raw("e0 07 00 05 110000000a")},
		{"second-connect-undecodable", v5, nil, raw("10 0d 0004 4d515454 06 02 003c 0001 78")},
	})
}

// Item 6: a malformed 5.0 CONNECT is closed without CONNACK, as Mosquitto
// does; 3.1.1 likewise.
func TestCompatMalformedConnect(t *testing.T) {
	raw := func(h311, h5 string) func(t *testing.T, v byte) []testutil.Step {
		return func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{{Send: hexFor(t, v, h311, h5), Close: true}}
		}
	}
	runCompat(t, []compatCase{
		// Client id "a\x00".
		{"nul-in-client-id", both, nil, raw("10 0e 0004 4d515454 04 02 003c 0002 6100", "10 0f 0004 4d515454 05 02 003c 00 0002 6100")},
		// User name "u\x00" with the user name flag.
		{"nul-in-username", both, nil, raw("10 12 0004 4d515454 04 82 003c 0001 61 0002 7500", "10 13 0004 4d515454 05 82 003c 00 0001 61 0002 7500")},
		// Will topic "w\x00".
		{"nul-in-will-topic", both, nil, raw("10 15 0004 4d515454 04 06 003c 0001 61 0002 7700 0001 6d", "10 17 0004 4d515454 05 06 003c 00 0001 61 00 0002 7700 0001 6d")},
		// A user name after the client id, its flag clear.
		{"username-without-flag", both, nil, raw("10 10 0004 4d515454 04 02 003c 0001 61 0001 75", "10 11 0004 4d515454 05 02 003c 00 0001 61 0001 75")},
		// A password after the client id, its flag clear.
		{"password-without-flag", both, nil, raw("10 10 0004 4d515454 04 02 003c 0001 61 0001 70", "10 11 0004 4d515454 05 02 003c 00 0001 61 0001 70")},
		// Will flag set, the will cut short (topic only).
		{"truncated-will", both, nil, raw("10 10 0004 4d515454 04 06 003c 0001 61 0001 77", "10 11 0004 4d515454 05 06 003c 00 0001 61 00 0001 77")},
		// Empty will topic.
		{"empty-will-topic", both, nil, raw("10 12 0004 4d515454 04 06 003c 0001 61 0000 0001 6d", "10 13 0004 4d515454 05 06 003c 00 0001 61 00 0000 0001 6d")},
		// Reserved flag bit set [MQTT-3.1.2-3].
		{"reserved-flag", both, nil, raw("10 0d 0004 4d515454 04 03 003c 0001 61", "10 0e 0004 4d515454 05 03 003c 00 0001 61")},
		// Will QoS 3.
		{"will-qos-3", both, nil, raw("10 13 0004 4d515454 04 1e 003c 0001 61 0001 77 0001 6d", "10 15 0004 4d515454 05 1e 003c 00 0001 61 00 0001 77 0001 6d")},
		// Will topic "w/+".
		{"will-topic-wildcard", both, nil, raw("10 15 0004 4d515454 04 06 003c 0001 61 0003 772f2b 0001 6d", "10 16 0004 4d515454 05 06 003c 00 0001 61 00 0003 772f2b 0001 6d")},
		// Will QoS 2 above max_qos 1: in TestCompatWillAboveMaxQoS.
		// Password flag without user name flag (allowed in 5.0, not 3.1.1).
		{"password-without-username", both, nil, raw("10 10 0004 4d515454 04 42 003c 0001 61 0001 70", "10 11 0004 4d515454 05 42 003c 00 0001 61 0001 70")},
	})
}

// Item 6: the malformed CONNECTs of the 5.0 conformance suite.
func TestCompatV5BadConnect(t *testing.T) {
	var cases []compatCase
	for _, tc := range v5BadConnects() {
		cases = append(cases, compatCase{tc.name, []byte{packet.Version5}, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{{Send: tc.raw, Close: true}}
		}})
	}
	runCompat(t, cases)
}

// Item 6: a will QoS above max_qos.
func TestCompatWillAboveMaxQoS(t *testing.T) {
	runCompat(t, []compatCase{
		{"will-qos-2-max-1", both, []string{"max_qos 1"}, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{{Send: hexFor(t, v,
				"10 13 0004 4d515454 04 16 003c 0001 61 0001 77 0001 6d",
				"10 15 0004 4d515454 05 16 003c 00 0001 61 00 0001 77 0001 6d"), Close: true}}
		}},
	})
}

// Item 1: a CONNECT with Clean Start 0 that takes over a connection whose
// session had to end with it (clean session in 3.1.1, Session Expiry 0 in
// 5.0) starts a new session [MQTT-3.1.2-6], 5.0 §3.1.2.11.2; and the old
// connection's will is published (item 11), as Mosquitto does.
func TestCompatTakeoverOfEndingSession(t *testing.T) {
	runCompat(t, []compatCase{
		{"takeover-clean", both, nil, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{
				connStep(t, 4, v, "w"),
				{Conn: 4, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("will", 0)}), Read: 1},
				{Conn: 1, Send: pk(t, v, &packet.Connect{ProtocolVersion: v, ClientID: "a", CleanStart: true, KeepAlive: 60,
					Will: &packet.Will{Topic: "will", Payload: []byte("gone")}}), Read: 1},
				{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("t", 0)}), Read: 1},
				{Conn: 2, Send: pk(t, v, &packet.Connect{ProtocolVersion: v, ClientID: "a", KeepAlive: 60}), Read: 1},
				// Connection 1 is closed, in 5.0 after DISCONNECT 0x8E,
				// which Mosquitto 2.0.11 does not send [MQTT-3.1.4-3]
				// (2.1 does): not read here.
				{Conn: 4, Read: 1},
				connStep(t, 3, v, "p"),
				{Conn: 3, Send: pk(t, v, &packet.Publish{Topic: "t", QoS: 1, PacketID: 1, Payload: []byte("x")}), Read: 1},
				{Conn: 2, Quiet: quiet},
			}
		}},
	})
}

// Item 11: a reconnect with Clean Start 1 inside the Will Delay Interval
// cancels the will, as Mosquitto does ([MQTT-3.1.3-9]: a new network
// connection for the client identifier).
func TestCompatWillDelayCleanReconnect(t *testing.T) {
	runCompat(t, []compatCase{
		{"will-delay-clean-reconnect", []byte{packet.Version5}, nil, func(t *testing.T, v byte) []testutil.Step {
			cp := &packet.Connect{ProtocolVersion: v, ClientID: "a", CleanStart: true, KeepAlive: 60,
				Will: &packet.Will{Topic: "will", Payload: []byte("gone")}}
			cp.Will.Properties.SetUint(packet.PropWillDelay, 2)
			cp.Properties.SetUint(packet.PropSessionExpiry, 60)
			return []testutil.Step{
				connStep(t, 4, v, "w"),
				{Conn: 4, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("will", 0)}), Read: 1},
				{Conn: 1, Send: pk(t, v, cp), Read: 1, Hangup: true},
				{Conn: 4, Quiet: quiet}, // lets the brokers see the hang-up first
				connStep(t, 2, v, "a"),
				{Conn: 4, Quiet: 3 * time.Second},
			}
		}},
	})
}

// Item 13: a will larger than message_size_limit refuses the CONNECT.
func TestCompatWillOverSizeLimit(t *testing.T) {
	runCompat(t, []compatCase{
		{"will-over-message-size-limit", both, []string{"message_size_limit 4"}, func(t *testing.T, v byte) []testutil.Step {
			return []testutil.Step{{Send: pk(t, v, &packet.Connect{ProtocolVersion: v, ClientID: "a", CleanStart: true, KeepAlive: 60,
				Will: &packet.Will{Topic: "w", Payload: []byte("too large")}}), Close: true}}
		}},
	})
}
