package packet_test

import (
	"bytes"

	"github.com/midge-mqtt/midge/packet"
)

// fixture is one well-formed packet as raw bytes with its decoded value.
type fixture struct {
	name    string
	version byte // Reader.Version to decode with, and the version to encode for
	raw     []byte
	want    packet.Packet
	// canonical is what Append produces when it differs from raw (a longer
	// form the spec allows, such as a PUBACK with Property Length 0).
	canonical []byte
}

// encoded returns the bytes Append must produce for f.want.
func (f fixture) encoded() []byte {
	if f.canonical != nil {
		return f.canonical
	}
	return f.raw
}

// shortAck is a PUBACK, PUBREC, PUBREL or PUBCOMP fixture in its two-byte
// form: the fixed header (type and flags, Remaining Length 2) then the packet
// identifier, decoding to an Ack of kind with packet id and no reason code.
// raw is spelled out, not derived from kind and id, so that decoding is
// checked against independently written bytes.
func shortAck(name string, version byte, kind packet.Type, id uint16, raw ...byte) fixture {
	return fixture{name: name, version: version, raw: raw, want: &packet.Ack{Kind: kind, PacketID: id}}
}

// bigPayload is larger than the default Reader buffer, so the body of
// "PUBLISH big" goes through the body buffer with every buffer size.
var bigPayload = bytes.Repeat([]byte("0123456789abcdef"), 3000/16+1)[:3000]

// fixtures covers every packet type at every protocol level where it exists,
// and every MQTT 5 property in at least one packet.
var fixtures = []fixture{
	// ---- CONNECT ----------------------------------------------------------
	{
		name: "CONNECT 3.1 minimal", version: packet.Version31,
		raw: []byte{
			0x10, 0x10, // CONNECT, remaining 16
			0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name "MQIsdp"
			0x03,       // protocol level 3
			0x02,       // flags: clean session
			0x00, 0x3c, // keep alive 60
			0x00, 0x02, 'c', '1', // client id "c1"
		},
		want: &packet.Connect{ProtocolName: "MQIsdp", ProtocolVersion: 3, CleanStart: true, KeepAlive: 60, ClientID: "c1"},
	},
	{
		name: "CONNECT 3.1 will user password", version: packet.Version31,
		raw: []byte{
			0x10, 0x1e, // CONNECT, remaining 30
			0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name
			0x03,       // protocol level 3
			0xee,       // flags: user, password, will retain, will QoS 1, will, clean session
			0x00, 0x0a, // keep alive 10
			0x00, 0x02, 'c', '1', // client id "c1"
			0x00, 0x01, 'w', // will topic "w"
			0x00, 0x03, 'b', 'y', 'e', // will message "bye"
			0x00, 0x01, 'u', // user name "u"
			0x00, 0x01, 'p', // password "p"
		},
		want: &packet.Connect{ProtocolName: "MQIsdp", ProtocolVersion: 3, CleanStart: true, KeepAlive: 10, ClientID: "c1",
			Will:        &packet.Will{Topic: "w", Payload: []byte("bye"), QoS: 1, Retain: true},
			HasUsername: true, Username: "u", HasPassword: true, Password: []byte("p")},
	},
	{
		name: "CONNECT 3.1.1 minimal", version: packet.Version311,
		raw: []byte{
			0x10, 0x0c, // CONNECT, remaining 12
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x04,       // protocol level 4
			0x02,       // flags: clean session
			0x00, 0x00, // keep alive 0
			0x00, 0x00, // client id ""
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 4, CleanStart: true},
	},
	{
		name: "CONNECT 3.1.1 bridge", version: packet.Version311,
		raw: []byte{
			0x10, 0x0e, // CONNECT, remaining 14
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x84,       // protocol level 4 with the bridge bit
			0x00,       // flags: none
			0x00, 0x3c, // keep alive 60
			0x00, 0x02, 'b', 'r', // client id "br"
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 4, Bridge: true, KeepAlive: 60, ClientID: "br"},
	},
	{
		name: "CONNECT 3.1.1 full", version: packet.Version311,
		raw: []byte{
			0x10, 0x22, // CONNECT, remaining 34
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x04,       // protocol level 4
			0xf6,       // flags: user, password, will retain, will QoS 2, will, clean session
			0x01, 0x2c, // keep alive 300
			0x00, 0x03, 'c', 'i', 'd', // client id "cid"
			0x00, 0x03, 'a', '/', 'b', // will topic "a/b"
			0x00, 0x02, 0x00, 0xff, // will message {0x00, 0xff}
			0x00, 0x04, 'u', 's', 'e', 'r', // user name "user"
			0x00, 0x02, 'p', 'w', // password "pw"
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 4, CleanStart: true, KeepAlive: 300, ClientID: "cid",
			Will:        &packet.Will{Topic: "a/b", Payload: []byte{0x00, 0xff}, QoS: 2, Retain: true},
			HasUsername: true, Username: "user", HasPassword: true, Password: []byte("pw")},
	},
	{
		name: "CONNECT 3.1.1 empty will message and password", version: packet.Version311,
		raw: []byte{
			0x10, 0x17, // CONNECT, remaining 23
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x04,       // protocol level 4
			0xc4,       // flags: user, password, will QoS 0, will
			0x00, 0x00, // keep alive 0
			0x00, 0x01, 'c', // client id "c"
			0x00, 0x01, 't', // will topic "t"
			0x00, 0x00, // will message: empty
			0x00, 0x01, 'u', // user name "u"
			0x00, 0x00, // password: empty
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 4, ClientID: "c",
			Will:        &packet.Will{Topic: "t"},
			HasUsername: true, Username: "u", HasPassword: true},
	},
	{
		name: "CONNECT 5 minimal", version: packet.Version5,
		raw: []byte{
			0x10, 0x0d, // CONNECT, remaining 13
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x05,       // protocol level 5
			0x02,       // flags: clean start
			0x00, 0x00, // keep alive 0
			0x00,       // property length 0
			0x00, 0x00, // client id ""
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, CleanStart: true},
	},
	{
		name: "CONNECT 5 password without user name", version: packet.Version5,
		raw: []byte{
			0x10, 0x10, // CONNECT, remaining 16
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x05,       // protocol level 5
			0x42,       // flags: password, clean start (no user name: allowed in 5.0, 3.1.2.9)
			0x00, 0x00, // keep alive 0
			0x00,       // property length 0
			0x00, 0x00, // client id ""
			0x00, 0x01, 'p', // password "p"
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, CleanStart: true, HasPassword: true, Password: []byte("p")},
	},
	{
		name: "CONNECT 5 every CONNECT and will property", version: packet.Version5,
		raw: []byte{
			0x10, 0x67, // CONNECT, remaining 103
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
			0x05,       // protocol level 5
			0xee,       // flags: user, password, will retain, will QoS 1, will, clean start
			0x00, 0x1e, // keep alive 30
			0x28,                         // property length 40
			0x11, 0x00, 0x00, 0x0e, 0x10, // Session Expiry Interval 3600
			0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // Authentication Method "SCRAM"
			0x16, 0x00, 0x02, 0x01, 0x02, // Authentication Data {1, 2}
			0x17, 0x00, // Request Problem Information 0
			0x19, 0x01, // Request Response Information 1
			0x21, 0x00, 0x14, // Receive Maximum 20
			0x22, 0x00, 0x0a, // Topic Alias Maximum 10
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
			0x27, 0x00, 0x01, 0x00, 0x00, // Maximum Packet Size 65536
			0x00, 0x02, 'i', 'd', // client id "id"
			0x21,       // will property length 33
			0x01, 0x01, // Payload Format Indicator 1
			0x02, 0x00, 0x00, 0x00, 0x3c, // Message Expiry Interval 60
			0x03, 0x00, 0x03, 't', '/', 'p', // Content Type "t/p"
			0x08, 0x00, 0x01, 'r', // Response Topic "r"
			0x09, 0x00, 0x01, 0xab, // Correlation Data {0xab}
			0x18, 0x00, 0x00, 0x00, 0x05, // Will Delay Interval 5
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', // User Property a=b
			0x00, 0x03, 'w', '/', 't', // will topic "w/t"
			0x00, 0x01, 'x', // will payload "x"
			0x00, 0x01, 'u', // user name "u"
			0x00, 0x01, 'p', // password "p"
		},
		want: &packet.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, CleanStart: true, KeepAlive: 30, ClientID: "id",
			Properties: props(pUint(packet.PropSessionExpiry, 3600), pStr(packet.PropAuthMethod, "SCRAM"),
				pAuthData([]byte{1, 2}), pUint(packet.PropRequestProblemInfo, 0), pUint(packet.PropRequestResponseInfo, 1),
				pUint(packet.PropReceiveMaximum, 20), pUint(packet.PropTopicAliasMaximum, 10), pUser("k", "v"),
				pUint(packet.PropMaximumPacketSize, 65536)),
			Will: &packet.Will{Topic: "w/t", Payload: []byte("x"), QoS: 1, Retain: true,
				Properties: props(pUint(packet.PropPayloadFormat, 1), pUint(packet.PropMessageExpiry, 60),
					pStr(packet.PropContentType, "t/p"), pStr(packet.PropResponseTopic, "r"), pCorr([]byte{0xab}),
					pUint(packet.PropWillDelay, 5), pUser("a", "b"))},
			HasUsername: true, Username: "u", HasPassword: true, Password: []byte("p")},
	},

	// ---- CONNACK ----------------------------------------------------------
	{
		name: "CONNACK 3.1 accepted", version: packet.Version31,
		raw: []byte{
			0x20, 0x02, // CONNACK, remaining 2
			0x00, // reserved (3.1 has no Session Present)
			0x00, // return code: accepted
		},
		want: &packet.Connack{},
	},
	{
		name: "CONNACK 3.1 not authorized", version: packet.Version31,
		raw: []byte{
			0x20, 0x02, // CONNACK, remaining 2
			0x00, // reserved
			0x05, // return code 5: not authorized
		},
		want: &packet.Connack{ReasonCode: packet.ConnackV3NotAuthorized},
	},
	{
		name: "CONNACK 3.1.1 session present", version: packet.Version311,
		raw: []byte{
			0x20, 0x02, // CONNACK, remaining 2
			0x01, // flags: session present
			0x00, // return code: accepted
		},
		want: &packet.Connack{SessionPresent: true},
	},
	{
		name: "CONNACK 3.1.1 bad user name or password", version: packet.Version311,
		raw: []byte{
			0x20, 0x02, // CONNACK, remaining 2
			0x00, // flags: none
			0x04, // return code 4: bad user name or password
		},
		want: &packet.Connack{ReasonCode: packet.ConnackV3BadUsernameOrPassword},
	},
	{
		name: "CONNACK 5 minimal", version: packet.Version5,
		raw: []byte{
			0x20, 0x03, // CONNACK, remaining 3
			0x01, // flags: session present
			0x00, // reason code: Success
			0x00, // property length 0
		},
		want: &packet.Connack{SessionPresent: true},
	},
	{
		name: "CONNACK 5 every property", version: packet.Version5,
		raw: []byte{
			0x20, 0x55, // CONNACK, remaining 85
			0x00, // flags: none
			0x00, // reason code: Success
			0x52, // property length 82
			// Mosquitto's order first, then the others by identifier
			0x22, 0x00, 0x08, // Topic Alias Maximum 8
			0x13, 0x00, 0x1e, // Server Keep Alive 30
			0x12, 0x00, 0x06, 'a', 'u', 't', 'o', '-', '1', // Assigned Client Identifier "auto-1"
			0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // Authentication Method "SCRAM"
			0x16, 0x00, 0x01, 0x09, // Authentication Data {9}
			0x25, 0x00, // Retain Available 0
			0x27, 0x00, 0x10, 0x00, 0x00, // Maximum Packet Size 1 MiB
			0x21, 0x01, 0x00, // Receive Maximum 256
			0x24, 0x01, // Maximum QoS 1
			0x11, 0x00, 0x00, 0x00, 0x78, // Session Expiry Interval 120
			0x1a, 0x00, 0x04, 'r', 'e', 's', 'p', // Response Information "resp"
			0x1c, 0x00, 0x0a, 'o', 't', 'h', 'e', 'r', ':', '1', '8', '8', '3', // Server Reference "other:1883"
			0x1f, 0x00, 0x02, 'o', 'k', // Reason String "ok"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
			0x28, 0x00, // Wildcard Subscription Available 0
			0x29, 0x01, // Subscription Identifier Available 1
			0x2a, 0x00, // Shared Subscription Available 0
		},
		want: &packet.Connack{Properties: props(pUint(packet.PropSessionExpiry, 120), pStr(packet.PropAssignedClientID, "auto-1"),
			pUint(packet.PropServerKeepAlive, 30), pStr(packet.PropAuthMethod, "SCRAM"), pAuthData([]byte{9}),
			pStr(packet.PropResponseInfo, "resp"), pStr(packet.PropServerReference, "other:1883"),
			pStr(packet.PropReasonString, "ok"), pUint(packet.PropReceiveMaximum, 256), pUint(packet.PropTopicAliasMaximum, 8),
			pUint(packet.PropMaximumQoS, 1), pUint(packet.PropRetainAvailable, 0), pUser("k", "v"),
			pUint(packet.PropMaximumPacketSize, 1<<20), pUint(packet.PropWildcardSubAvailable, 0),
			pUint(packet.PropSubscriptionIDAvailable, 1), pUint(packet.PropSharedSubAvailable, 0))},
	},
	{
		name: "CONNACK 5 not authorized", version: packet.Version5,
		raw: []byte{
			0x20, 0x08, // CONNACK, remaining 8
			0x00,                       // flags: none
			0x87,                       // reason code: Not authorized
			0x05,                       // property length 5
			0x1f, 0x00, 0x02, 'n', 'o', // Reason String "no"
		},
		want: &packet.Connack{ReasonCode: packet.NotAuthorized, Properties: props(pStr(packet.PropReasonString, "no"))},
	},

	// ---- PUBLISH ----------------------------------------------------------
	{
		name: "PUBLISH 3.1 QoS 0", version: packet.Version31,
		raw: []byte{
			0x30, 0x07, // PUBLISH QoS 0, remaining 7
			0x00, 0x03, 'a', '/', 'b', // topic "a/b"
			'h', 'i', // payload "hi"
		},
		want: &packet.Publish{Topic: "a/b", Payload: []byte("hi")},
	},
	{
		name: "PUBLISH 3.1.1 QoS 0", version: packet.Version311,
		raw: []byte{
			0x30, 0x07, // PUBLISH QoS 0, remaining 7
			0x00, 0x03, 'a', '/', 'b', // topic "a/b"
			'h', 'i', // payload "hi"
		},
		want: &packet.Publish{Topic: "a/b", Payload: []byte("hi")},
	},
	{
		name: "PUBLISH 3.1.1 QoS 1 retain", version: packet.Version311,
		raw: []byte{
			0x33, 0x06, // PUBLISH QoS 1 retain, remaining 6
			0x00, 0x01, 't', // topic "t"
			0x00, 0x01, // packet id 1
			'x', // payload "x"
		},
		want: &packet.Publish{QoS: 1, Retain: true, Topic: "t", PacketID: 1, Payload: []byte("x")},
	},
	{
		name: "PUBLISH 3.1 QoS 2 dup empty payload", version: packet.Version31,
		raw: []byte{
			0x3c, 0x05, // PUBLISH DUP QoS 2, remaining 5
			0x00, 0x01, 't', // topic "t"
			0x12, 0x34, // packet id 0x1234
			// payload: empty
		},
		want: &packet.Publish{Dup: true, QoS: 2, Topic: "t", PacketID: 0x1234},
	},
	{
		name: "PUBLISH 3.1.1 byte order mark and multibyte topic", version: packet.Version311,
		raw: []byte{
			0x30, 0x0a, // PUBLISH QoS 0, remaining 10
			0x00, 0x08, 0xef, 0xbb, 0xbf, '/', 0xc3, 0xa9, '/', 'x', // topic "\uFEFF/é/x" [MQTT-1.5.4-3]
			// payload: empty
		},
		want: &packet.Publish{Topic: "\uFEFF/é/x"},
	},
	{
		name: "PUBLISH 3.1.1 big", version: packet.Version311,
		raw: append([]byte{
			0x30, 0xbd, 0x17, // PUBLISH QoS 0, remaining 3005 (two-byte Remaining Length)
			0x00, 0x03, 'b', 'i', 'g', // topic "big"
		}, bigPayload...), // payload: 3000 bytes
		want: &packet.Publish{Topic: "big", Payload: bigPayload},
	},
	{
		name: "PUBLISH 5 QoS 0 no properties", version: packet.Version5,
		raw: []byte{
			0x30, 0x07, // PUBLISH QoS 0, remaining 7
			0x00, 0x03, 'a', '/', 'b', // topic "a/b"
			0x00, // property length 0
			'h',  // payload "h"
		},
		want: &packet.Publish{Topic: "a/b", Payload: []byte("h")},
	},
	{
		name: "PUBLISH 5 every property", version: packet.Version5,
		raw: []byte{
			0x32, 0x45, // PUBLISH QoS 1, remaining 69
			0x00, 0x03, 'a', '/', 'b', // topic "a/b"
			0x00, 0x07, // packet id 7
			0x38, // property length 56
			// As Mosquitto forwards a message: Subscription Identifiers
			// first, the Message Expiry Interval last
			0x0b, 0x01, // Subscription Identifier 1
			0x0b, 0xff, 0xff, 0xff, 0x7f, // Subscription Identifier 268435455 (repeats allowed in PUBLISH)
			0x01, 0x01, // Payload Format Indicator 1
			0x03, 0x00, 0x0a, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n', // Content Type "text/plain"
			0x08, 0x00, 0x03, 'r', '/', '1', // Response Topic "r/1"
			0x09, 0x00, 0x03, 0x01, 0x02, 0x03, // Correlation Data {1, 2, 3}
			0x23, 0x00, 0x05, // Topic Alias 5
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'w', // User Property k=w (repeated key, order kept)
			0x02, 0x00, 0x00, 0x0e, 0x10, // Message Expiry Interval 3600
			'h', 'e', 'l', 'l', 'o', // payload "hello"
		},
		want: &packet.Publish{QoS: 1, Topic: "a/b", PacketID: 7, Payload: []byte("hello"),
			Properties: props(pUint(packet.PropPayloadFormat, 1), pUint(packet.PropMessageExpiry, 3600),
				pStr(packet.PropContentType, "text/plain"), pStr(packet.PropResponseTopic, "r/1"),
				pCorr([]byte{1, 2, 3}), pSubID(1, packet.MaxSubscriptionID), pUint(packet.PropTopicAlias, 5),
				pUser("k", "v"), pUser("k", "w"))},
	},
	{
		name: "PUBLISH 5 topic alias with empty topic", version: packet.Version5,
		raw: []byte{
			0x30, 0x07, // PUBLISH QoS 0, remaining 7
			0x00, 0x00, // topic "" (3.3.2.3.4: the alias names it)
			0x03,             // property length 3
			0x23, 0x00, 0x07, // Topic Alias 7
			'p', // payload "p"
		},
		want: &packet.Publish{Payload: []byte("p"), Properties: props(pUint(packet.PropTopicAlias, 7))},
	},
	{
		name: "PUBLISH 5 QoS 2 dup retain empty correlation data", version: packet.Version5,
		raw: []byte{
			0x3d, 0x09, // PUBLISH DUP QoS 2 retain, remaining 9
			0x00, 0x01, 't', // topic "t"
			0xff, 0xff, // packet id 65535
			0x03,             // property length 3
			0x09, 0x00, 0x00, // Correlation Data: empty
			// payload: empty
		},
		want: &packet.Publish{Dup: true, QoS: 2, Retain: true, Topic: "t", PacketID: 65535,
			Properties: props(pCorr(nil))},
	},
	{
		name: "PUBLISH 5 big", version: packet.Version5,
		raw: append([]byte{
			0x30, 0xbe, 0x17, // PUBLISH QoS 0, remaining 3006
			0x00, 0x03, 'b', 'i', 'g', // topic "big"
			0x00, // property length 0
		}, bigPayload...), // payload: 3000 bytes
		want: &packet.Publish{Topic: "big", Payload: bigPayload},
	},

	// ---- PUBACK, PUBREC, PUBREL, PUBCOMP ----------------------------------
	shortAck("PUBACK 3.1", packet.Version31, packet.TypePuback, 1, 0x40, 0x02, 0x00, 0x01),
	shortAck("PUBREC 3.1", packet.Version31, packet.TypePubrec, 2, 0x50, 0x02, 0x00, 0x02),
	shortAck("PUBREL 3.1", packet.Version31, packet.TypePubrel, 3, 0x62, 0x02, 0x00, 0x03),
	shortAck("PUBCOMP 3.1", packet.Version31, packet.TypePubcomp, 4, 0x70, 0x02, 0x00, 0x04),
	shortAck("PUBACK 3.1.1", packet.Version311, packet.TypePuback, 65535, 0x40, 0x02, 0xff, 0xff),
	shortAck("PUBREC 3.1.1", packet.Version311, packet.TypePubrec, 256, 0x50, 0x02, 0x01, 0x00),
	shortAck("PUBREL 3.1.1", packet.Version311, packet.TypePubrel, 3, 0x62, 0x02, 0x00, 0x03),
	shortAck("PUBCOMP 3.1.1", packet.Version311, packet.TypePubcomp, 4, 0x70, 0x02, 0x00, 0x04),
	{
		name: "PUBACK 5 two-byte form", version: packet.Version5,
		raw: []byte{
			0x40, 0x02, // PUBACK, remaining 2
			0x00, 0x01, // packet id 1; reason code omitted: Success (3.4.2.1)
		},
		want: &packet.Ack{Kind: packet.TypePuback, PacketID: 1},
	},
	{
		name: "PUBACK 5 three-byte form", version: packet.Version5,
		raw: []byte{
			0x40, 0x03, // PUBACK, remaining 3
			0x00, 0x01, // packet id 1
			0x10, // reason code: No matching subscribers; no Property Length (3.4.2.2.1)
		},
		want: &packet.Ack{Kind: packet.TypePuback, PacketID: 1, ReasonCode: packet.NoMatchingSubscribers},
	},
	{
		name: "PUBACK 5 success with property length 0", version: packet.Version5,
		raw: []byte{
			0x40, 0x04, // PUBACK, remaining 4
			0x00, 0x01, // packet id 1
			0x00, // reason code: Success
			0x00, // property length 0
		},
		want:      &packet.Ack{Kind: packet.TypePuback, PacketID: 1},
		canonical: []byte{0x40, 0x02, 0x00, 0x01},
	},
	{
		name: "PUBREC 5 three-byte form", version: packet.Version5,
		raw: []byte{
			0x50, 0x03, // PUBREC, remaining 3
			0x00, 0x02, // packet id 2
			0x97, // reason code: Quota exceeded
		},
		want: &packet.Ack{Kind: packet.TypePubrec, PacketID: 2, ReasonCode: packet.QuotaExceeded},
	},
	{
		name: "PUBREC 5 error with property length 0", version: packet.Version5,
		raw: []byte{
			0x50, 0x04, // PUBREC, remaining 4
			0x00, 0x02, // packet id 2
			0x80, // reason code: Unspecified error
			0x00, // property length 0
		},
		want:      &packet.Ack{Kind: packet.TypePubrec, PacketID: 2, ReasonCode: packet.UnspecifiedError},
		canonical: []byte{0x50, 0x03, 0x00, 0x02, 0x80},
	},
	{
		name: "PUBREL 5 full", version: packet.Version5,
		raw: []byte{
			0x62, 0x12, // PUBREL (flags 0010), remaining 18
			0x00, 0x03, // packet id 3
			0x92,                                 // reason code: Packet Identifier not found
			0x0e,                                 // property length 14
			0x1f, 0x00, 0x04, 'g', 'o', 'n', 'e', // Reason String "gone"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
		},
		want: &packet.Ack{Kind: packet.TypePubrel, PacketID: 3, ReasonCode: packet.PacketIdentifierNotFound,
			Properties: props(pStr(packet.PropReasonString, "gone"), pUser("k", "v"))},
	},
	shortAck("PUBREL 5 two-byte form", packet.Version5, packet.TypePubrel, 3, 0x62, 0x02, 0x00, 0x03),
	{
		name: "PUBCOMP 5 success with properties", version: packet.Version5,
		raw: []byte{
			0x70, 0x09, // PUBCOMP, remaining 9
			0x00, 0x04, // packet id 4
			0x00,                       // reason code: Success
			0x05,                       // property length 5
			0x1f, 0x00, 0x02, 'o', 'k', // Reason String "ok"
		},
		want: &packet.Ack{Kind: packet.TypePubcomp, PacketID: 4, Properties: props(pStr(packet.PropReasonString, "ok"))},
	},
	shortAck("PUBCOMP 5 two-byte form", packet.Version5, packet.TypePubcomp, 4, 0x70, 0x02, 0x00, 0x04),

	// ---- SUBSCRIBE --------------------------------------------------------
	{
		name: "SUBSCRIBE 3.1", version: packet.Version31,
		raw: []byte{
			0x82, 0x08, // SUBSCRIBE (flags 0010), remaining 8
			0x00, 0x01, // packet id 1
			0x00, 0x03, 'a', '/', '+', // filter "a/+"
			0x01, // QoS 1
		},
		want: &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/+", QoS: 1}}},
	},
	{
		name: "SUBSCRIBE 3.1.1 two filters", version: packet.Version311,
		raw: []byte{
			0x82, 0x10, // SUBSCRIBE (flags 0010), remaining 16
			0x00, 0x0a, // packet id 10
			0x00, 0x03, 'a', '/', '#', // filter "a/#"
			0x02,                                // QoS 2
			0x00, 0x05, '$', 'S', 'Y', 'S', '/', // filter "$SYS/"
			0x00, // QoS 0
		},
		want: &packet.Subscribe{PacketID: 10, Subscriptions: []packet.Subscription{{Filter: "a/#", QoS: 2}, {Filter: "$SYS/"}}},
	},
	{
		name: "SUBSCRIBE 5 no properties", version: packet.Version5,
		raw: []byte{
			0x82, 0x07, // SUBSCRIBE (flags 0010), remaining 7
			0x00, 0x01, // packet id 1
			0x00,            // property length 0
			0x00, 0x01, '#', // filter "#"
			0x00, // options: QoS 0
		},
		want: &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "#"}}},
	},
	{
		name: "SUBSCRIBE 5 options and properties", version: packet.Version5,
		raw: []byte{
			0x82, 0x22, // SUBSCRIBE (flags 0010), remaining 34
			0x00, 0x02, // packet id 2
			0x0a,             // property length 10
			0x0b, 0x80, 0x01, // Subscription Identifier 128 (two-byte variable byte integer)
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
			0x00, 0x03, 'a', '/', '+', // filter "a/+"
			0x2d,                                                                   // options: Retain Handling 2, Retain As Published, No Local, QoS 1
			0x00, 0x0c, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x', '/', '#', // filter "$share/g/x/#"
			0x12, // options: Retain Handling 1, QoS 2
		},
		want: &packet.Subscribe{PacketID: 2, Properties: props(pSubID(128), pUser("k", "v")),
			Subscriptions: []packet.Subscription{
				{Filter: "a/+", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: packet.RetainDoNotSend},
				{Filter: "$share/g/x/#", QoS: 2, RetainHandling: packet.RetainSendIfNewSubscription}}},
	},

	// ---- SUBACK -----------------------------------------------------------
	{
		name: "SUBACK 3.1", version: packet.Version31,
		raw:  []byte{0x90, 0x03 /* SUBACK, remaining 3 */, 0x00, 0x01 /* packet id 1 */, 0x01 /* granted QoS 1 */},
		want: &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{packet.GrantedQoS1}},
	},
	{
		name: "SUBACK 3.1.1 every return code", version: packet.Version311,
		raw: []byte{
			0x90, 0x06, // SUBACK, remaining 6
			0x00, 0x0a, // packet id 10
			0x00, 0x01, 0x02, 0x80, // return codes: QoS 0, 1, 2, failure
		},
		want: &packet.Suback{PacketID: 10, ReasonCodes: []packet.ReasonCode{0x00, 0x01, 0x02, packet.SubackFailureV3}},
	},
	{
		name: "SUBACK 5 no properties", version: packet.Version5,
		raw: []byte{
			0x90, 0x04, // SUBACK, remaining 4
			0x00, 0x01, // packet id 1
			0x00, // property length 0
			0x02, // reason code: Granted QoS 2
		},
		want: &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{packet.GrantedQoS2}},
	},
	{
		name: "SUBACK 5 every reason code", version: packet.Version5,
		raw: []byte{
			0x90, 0x13, // SUBACK, remaining 19
			0x00, 0x02, // packet id 2
			0x04,                  // property length 4
			0x1f, 0x00, 0x01, 'r', // Reason String "r"
			0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2, // the 12 SUBACK reason codes
		},
		want: &packet.Suback{PacketID: 2, Properties: props(pStr(packet.PropReasonString, "r")),
			ReasonCodes: []packet.ReasonCode{packet.GrantedQoS0, packet.GrantedQoS1, packet.GrantedQoS2,
				packet.UnspecifiedError, packet.ImplementationSpecificError, packet.NotAuthorized,
				packet.TopicFilterInvalid, packet.PacketIdentifierInUse, packet.QuotaExceeded,
				packet.SharedSubscriptionsNotSupported, packet.SubscriptionIdentifiersNotSupported,
				packet.WildcardSubscriptionsNotSupported}},
	},

	// ---- UNSUBSCRIBE ------------------------------------------------------
	{
		name: "UNSUBSCRIBE 3.1", version: packet.Version31,
		raw: []byte{
			0xa2, 0x07, // UNSUBSCRIBE (flags 0010), remaining 7
			0x00, 0x01, // packet id 1
			0x00, 0x03, 'a', '/', 'b', // filter "a/b"
		},
		want: &packet.Unsubscribe{PacketID: 1, Filters: []string{"a/b"}},
	},
	{
		name: "UNSUBSCRIBE 3.1.1 two filters", version: packet.Version311,
		raw: []byte{
			0xa2, 0x0a, // UNSUBSCRIBE (flags 0010), remaining 10
			0x00, 0x02, // packet id 2
			0x00, 0x01, '#', // filter "#"
			0x00, 0x03, '+', '/', '+', // filter "+/+"
		},
		want: &packet.Unsubscribe{PacketID: 2, Filters: []string{"#", "+/+"}},
	},
	{
		name: "UNSUBSCRIBE 5 no properties", version: packet.Version5,
		raw: []byte{
			0xa2, 0x06, // UNSUBSCRIBE (flags 0010), remaining 6
			0x00, 0x01, // packet id 1
			0x00,            // property length 0
			0x00, 0x01, 'a', // filter "a"
		},
		want: &packet.Unsubscribe{PacketID: 1, Filters: []string{"a"}},
	},
	{
		name: "UNSUBSCRIBE 5 user property", version: packet.Version5,
		raw: []byte{
			0xa2, 0x1b, // UNSUBSCRIBE (flags 0010), remaining 27
			0x00, 0x03, // packet id 3
			0x07,                                   // property length 7
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
			0x00, 0x03, 'a', '/', '#', // filter "a/#"
			0x00, 0x0a, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a', // filter "$share/g/a"
		},
		want: &packet.Unsubscribe{PacketID: 3, Properties: props(pUser("k", "v")), Filters: []string{"a/#", "$share/g/a"}},
	},

	// ---- UNSUBACK ---------------------------------------------------------
	{
		name: "UNSUBACK 3.1", version: packet.Version31,
		raw:  []byte{0xb0, 0x02 /* UNSUBACK, remaining 2 */, 0x00, 0x01 /* packet id 1 */},
		want: &packet.Unsuback{PacketID: 1},
	},
	{
		name: "UNSUBACK 3.1.1", version: packet.Version311,
		raw:  []byte{0xb0, 0x02 /* UNSUBACK, remaining 2 */, 0x12, 0x34 /* packet id 0x1234 */},
		want: &packet.Unsuback{PacketID: 0x1234},
	},
	{
		name: "UNSUBACK 5 no properties", version: packet.Version5,
		raw: []byte{
			0xb0, 0x04, // UNSUBACK, remaining 4
			0x00, 0x01, // packet id 1
			0x00, // property length 0
			0x11, // reason code: No subscription existed
		},
		want: &packet.Unsuback{PacketID: 1, ReasonCodes: []packet.ReasonCode{packet.NoSubscriptionExisted}},
	},
	{
		name: "UNSUBACK 5 every reason code", version: packet.Version5,
		raw: []byte{
			0xb0, 0x0e, // UNSUBACK, remaining 14
			0x00, 0x02, // packet id 2
			0x04,                  // property length 4
			0x1f, 0x00, 0x01, 'x', // Reason String "x"
			0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91, // the 7 UNSUBACK reason codes
		},
		want: &packet.Unsuback{PacketID: 2, Properties: props(pStr(packet.PropReasonString, "x")),
			ReasonCodes: []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted, packet.UnspecifiedError,
				packet.ImplementationSpecificError, packet.NotAuthorized, packet.TopicFilterInvalid,
				packet.PacketIdentifierInUse}},
	},

	// ---- PINGREQ, PINGRESP ------------------------------------------------
	{name: "PINGREQ 3.1", version: packet.Version31, raw: []byte{0xc0, 0x00 /* PINGREQ, remaining 0 */}, want: &packet.Pingreq{}},
	{name: "PINGREQ 3.1.1", version: packet.Version311, raw: []byte{0xc0, 0x00 /* PINGREQ, remaining 0 */}, want: &packet.Pingreq{}},
	{name: "PINGREQ 5", version: packet.Version5, raw: []byte{0xc0, 0x00 /* PINGREQ, remaining 0 */}, want: &packet.Pingreq{}},
	{name: "PINGRESP 3.1", version: packet.Version31, raw: []byte{0xd0, 0x00 /* PINGRESP, remaining 0 */}, want: &packet.Pingresp{}},
	{name: "PINGRESP 3.1.1", version: packet.Version311, raw: []byte{0xd0, 0x00 /* PINGRESP, remaining 0 */}, want: &packet.Pingresp{}},
	{name: "PINGRESP 5", version: packet.Version5, raw: []byte{0xd0, 0x00 /* PINGRESP, remaining 0 */}, want: &packet.Pingresp{}},

	// ---- DISCONNECT -------------------------------------------------------
	{name: "DISCONNECT 3.1", version: packet.Version31, raw: []byte{0xe0, 0x00 /* DISCONNECT, remaining 0 */}, want: &packet.Disconnect{}},
	{name: "DISCONNECT 3.1.1", version: packet.Version311, raw: []byte{0xe0, 0x00 /* DISCONNECT, remaining 0 */}, want: &packet.Disconnect{}},
	{
		name: "DISCONNECT 5 remaining length 0", version: packet.Version5,
		raw:  []byte{0xe0, 0x00 /* DISCONNECT, remaining 0: Normal disconnection (3.14.2.1) */},
		want: &packet.Disconnect{},
	},
	{
		name: "DISCONNECT 5 reason code only", version: packet.Version5,
		raw: []byte{
			0xe0, 0x01, // DISCONNECT, remaining 1
			0x04, // reason code: Disconnect with Will Message; no Property Length (3.14.2.2.1)
		},
		want: &packet.Disconnect{ReasonCode: packet.DisconnectWithWill},
	},
	{
		name: "DISCONNECT 5 normal with property length 0", version: packet.Version5,
		raw: []byte{
			0xe0, 0x02, // DISCONNECT, remaining 2
			0x00, // reason code: Normal disconnection
			0x00, // property length 0
		},
		want:      &packet.Disconnect{},
		canonical: []byte{0xe0, 0x00},
	},
	{
		name: "DISCONNECT 5 every property", version: packet.Version5,
		raw: []byte{
			0xe0, 0x18, // DISCONNECT, remaining 24
			0x9c,                         // reason code: Use another server
			0x16,                         // property length 22
			0x11, 0x00, 0x00, 0x00, 0x00, // Session Expiry Interval 0
			0x1c, 0x00, 0x01, 's', // Server Reference "s"
			0x1f, 0x00, 0x03, 'b', 'y', 'e', // Reason String "bye"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
		},
		want: &packet.Disconnect{ReasonCode: packet.UseAnotherServer, Properties: props(pUint(packet.PropSessionExpiry, 0),
			pStr(packet.PropServerReference, "s"), pStr(packet.PropReasonString, "bye"), pUser("k", "v"))},
	},

	// ---- AUTH -------------------------------------------------------------
	{
		name: "AUTH 5 remaining length 0", version: packet.Version5,
		raw:  []byte{0xf0, 0x00 /* AUTH, remaining 0: Success, no properties (3.15.2.1) */},
		want: &packet.Auth{},
	},
	{
		name: "AUTH 5 continue", version: packet.Version5,
		raw: []byte{
			0xf0, 0x1b, // AUTH, remaining 27
			0x18,                                      // reason code: Continue authentication
			0x19,                                      // property length 25
			0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // Authentication Method "SCRAM"
			0x16, 0x00, 0x03, 0x01, 0x02, 0x03, // Authentication Data {1, 2, 3}
			0x1f, 0x00, 0x01, 'r', // Reason String "r"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // User Property k=v
		},
		want: &packet.Auth{ReasonCode: packet.ContinueAuthentication, Properties: props(pStr(packet.PropAuthMethod, "SCRAM"),
			pAuthData([]byte{1, 2, 3}), pStr(packet.PropReasonString, "r"), pUser("k", "v"))},
	},
	{
		name: "AUTH 5 re-authenticate", version: packet.Version5,
		raw: []byte{
			0xf0, 0x0a, // AUTH, remaining 10
			0x19,                                      // reason code: Re-authenticate
			0x08,                                      // property length 8
			0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // Authentication Method "SCRAM"
		},
		want: &packet.Auth{ReasonCode: packet.ReAuthenticate, Properties: props(pStr(packet.PropAuthMethod, "SCRAM"))},
	},
	{
		name: "AUTH 5 success with property length 0", version: packet.Version5,
		raw: []byte{
			0xf0, 0x02, // AUTH, remaining 2
			0x00, // reason code: Success
			0x00, // property length 0
		},
		want:      &packet.Auth{},
		canonical: []byte{0xf0, 0x00},
	},
}
