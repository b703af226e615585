package packet

import "strconv"

// ReasonCode is an MQTT 5 reason code (2.4). In MQTT 3.1.1 the same type
// carries SUBACK return codes (0x00-0x02, 0x80); CONNACK return codes of
// 3.1/3.1.1 use the ConnackV3 constants.
type ReasonCode byte

// MQTT 5 reason codes.
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWill                  ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

// SubackFailureV3 is the MQTT 3.1.1 SUBACK return code for a refused
// subscription.
const SubackFailureV3 ReasonCode = 0x80

// CONNACK return codes of MQTT 3.1 and 3.1.1 (3.2.2.3 of 3.1.1).
const (
	ConnackV3Accepted                    ReasonCode = 0x00
	ConnackV3UnacceptableProtocolVersion ReasonCode = 0x01
	ConnackV3IdentifierRejected          ReasonCode = 0x02
	ConnackV3ServerUnavailable           ReasonCode = 0x03
	ConnackV3BadUsernameOrPassword       ReasonCode = 0x04
	ConnackV3NotAuthorized               ReasonCode = 0x05
)

var reasonNames = map[ReasonCode]string{
	0x00: "Success", 0x01: "Granted QoS 1", 0x02: "Granted QoS 2",
	0x04: "Disconnect with Will Message", 0x10: "No matching subscribers",
	0x11: "No subscription existed", 0x18: "Continue authentication", 0x19: "Re-authenticate",
	0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
	0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid", 0x86: "Bad User Name or Password",
	0x87: "Not authorized", 0x88: "Server unavailable", 0x89: "Server busy", 0x8A: "Banned",
	0x8B: "Server shutting down", 0x8C: "Bad authentication method", 0x8D: "Keep Alive timeout",
	0x8E: "Session taken over", 0x8F: "Topic Filter invalid", 0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use", 0x92: "Packet Identifier not found",
	0x93: "Receive Maximum exceeded", 0x94: "Topic Alias invalid", 0x95: "Packet too large",
	0x96: "Message rate too high", 0x97: "Quota exceeded", 0x98: "Administrative action",
	0x99: "Payload format invalid", 0x9A: "Retain not supported", 0x9B: "QoS not supported",
	0x9C: "Use another server", 0x9D: "Server moved", 0x9E: "Shared Subscriptions not supported",
	0x9F: "Connection rate exceeded", 0xA0: "Maximum connect time",
	0xA1: "Subscription Identifiers not supported", 0xA2: "Wildcard Subscriptions not supported",
}

// String returns the reason code's name as the MQTT 5 specification writes
// it ("Success" for 0x00, whose other names are Normal disconnection and
// Granted QoS 0).
func (c ReasonCode) String() string {
	if s, ok := reasonNames[c]; ok {
		return s
	}
	return "ReasonCode(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}

// IsError reports whether the code signals failure (0x80 or above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// validCodes lists, per packet type, the MQTT 5 reason codes the
// specification allows in it.
var validCodes = map[Type][]ReasonCode{
	TypeConnack: {Success, UnspecifiedError, MalformedPacket, ProtocolError, ImplementationSpecificError,
		UnsupportedProtocolVersion, ClientIdentifierNotValid, BadUserNameOrPassword, NotAuthorized,
		ServerUnavailable, ServerBusy, Banned, BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge,
		QuotaExceeded, PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
		ServerMoved, ConnectionRateExceeded},
	TypePuback: {Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError, NotAuthorized,
		TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid},
	TypePubrec: {Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError, NotAuthorized,
		TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid},
	TypePubrel:  {Success, PacketIdentifierNotFound},
	TypePubcomp: {Success, PacketIdentifierNotFound},
	TypeSuback: {GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse, QuotaExceeded,
		SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported},
	TypeUnsuback: {Success, NoSubscriptionExisted, UnspecifiedError, ImplementationSpecificError, NotAuthorized,
		TopicFilterInvalid, PacketIdentifierInUse},
	TypeDisconnect: {NormalDisconnection, DisconnectWithWill, UnspecifiedError, MalformedPacket, ProtocolError,
		ImplementationSpecificError, NotAuthorized, ServerBusy, ServerShuttingDown, KeepAliveTimeout,
		SessionTakenOver, TopicFilterInvalid, TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid,
		PacketTooLarge, MessageRateTooHigh, QuotaExceeded, AdministrativeAction, PayloadFormatInvalid,
		RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved, SharedSubscriptionsNotSupported,
		ConnectionRateExceeded, MaximumConnectTime, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported},
	TypeAuth: {Success, ContinueAuthentication, ReAuthenticate},
}

// ValidFor reports whether the specification allows c in a packet of type t
// with protocol version v. For 3.1/3.1.1 it checks the CONNACK return codes
// (0-5) and the SUBACK return codes (0, 1, 2, 0x80).
func (c ReasonCode) ValidFor(t Type, v byte) bool {
	if v < Version5 {
		switch t {
		case TypeConnack:
			return c <= ConnackV3NotAuthorized
		case TypeSuback:
			return c <= GrantedQoS2 || c == SubackFailureV3
		}
		return c == Success
	}
	for _, x := range validCodes[t] {
		if x == c {
			return true
		}
	}
	return false
}

// ConnackV3 maps an MQTT 5 CONNACK reason code to the nearest MQTT 3.1.1
// return code, as Mosquitto does when it refuses a 3.1.1 client for a reason
// that only MQTT 5 can name.
func ConnackV3(c ReasonCode) ReasonCode {
	switch c {
	case Success:
		return ConnackV3Accepted
	case UnsupportedProtocolVersion:
		return ConnackV3UnacceptableProtocolVersion
	case ClientIdentifierNotValid:
		return ConnackV3IdentifierRejected
	case BadUserNameOrPassword, BadAuthenticationMethod:
		return ConnackV3BadUsernameOrPassword
	case NotAuthorized, Banned:
		return ConnackV3NotAuthorized
	default:
		return ConnackV3ServerUnavailable
	}
}

// reasonTailSize returns the size of what ends an MQTT 5 PUBACK, PUBREC,
// PUBREL, PUBCOMP or DISCONNECT body: its reason code, then its properties
// (allowed at pl). Both are left out when the code is 0x00 (Success,
// Normal disconnection) and there are no properties, the properties alone
// when there are none (3.4.2.1, 3.14.2.1); 3.1.1 packets have neither.
func reasonTailSize(v byte, rc ReasonCode, props *Properties, pl place) int {
	switch {
	case v != Version5 || rc == Success && props.Empty():
		return 0
	case props.Empty():
		return 1
	}
	return 1 + props.fullSize(pl)
}

// appendReasonTail appends the reason code and properties that
// reasonTailSize measured as n bytes.
func appendReasonTail(b []byte, n int, rc ReasonCode, props *Properties, pl place) []byte {
	if n > 0 {
		b = append(b, byte(rc))
	}
	if n > 1 {
		b = props.appendTo(b, pl)
	}
	return b
}
