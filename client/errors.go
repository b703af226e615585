package client

import (
	"errors"
	"strconv"

	"github.com/midge-mqtt/midge/packet"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrClosed is returned by the methods of a Client after Close or
	// Disconnect, and by Err when the client ended that way. Publishes and
	// subscriptions still awaiting an acknowledgement fail with it.
	ErrClosed = errors.New("client: closed")
	// ErrPingTimeout ends a connection whose server did not answer a
	// PINGREQ within Options.PingTimeout.
	ErrPingTimeout = errors.New("client: no PINGRESP from the server: connection dead")
	// ErrConnectionLost wraps the cause of a connection that ended without
	// the application asking for it (a network error, the server closing
	// the connection, a protocol violation).
	ErrConnectionLost = errors.New("client: connection lost")
	// ErrNotSupported is returned for a publish the server announced it does
	// not support (MQTT 5 Maximum QoS, Retain Available, Topic Alias
	// Maximum), without sending it.
	ErrNotSupported = errors.New("client: not supported by the server")
)

// OptionError reports an invalid field of Options.
type OptionError struct {
	Field  string
	Reason string
}

// Error returns "client: Options.<Field>: <reason>".
func (e *OptionError) Error() string { return "client: Options." + e.Field + ": " + e.Reason }

// ConnectError is returned by Dial when the server refuses the connection
// with a CONNACK: Code is the reason code it sent. ReturnCode gives the
// refusal its MQTT 3.1.1 meaning whatever the protocol version, so that a
// tool can print Mosquitto's messages (see ReturnCodeText).
type ConnectError struct {
	// Code is the CONNACK reason code as received: an MQTT 5 reason code,
	// or for 3.1/3.1.1 the return code (packet.ConnackV3NotAuthorized ...).
	Code packet.ReasonCode
	// ReturnCode is the MQTT 3.1.1 return code: Code for 3.1/3.1.1,
	// packet.ConnackV3(Code) for MQTT 5.
	ReturnCode packet.ReasonCode
	// Version is the protocol version of the connection.
	Version byte
	// Connack is the refusing CONNACK, with its MQTT 5 properties (Reason
	// String, Server Reference, ...).
	Connack *packet.Connack
}

// Error describes the refusal: for MQTT 5 the reason code's name (and the
// server's Reason String), before that Mosquitto's text for the return code.
func (e *ConnectError) Error() string {
	if e.Version == packet.Version5 {
		s := "client: connection refused: " + e.Code.String()
		if e.Connack != nil && e.Connack.Properties.Has(packet.PropReasonString) {
			s += ": " + strconv.Quote(e.Connack.Properties.ReasonString)
		}
		return s
	}
	return "client: " + ReturnCodeText(e.ReturnCode)
}

// ReturnCodeText returns Mosquitto's description of an MQTT 3.1/3.1.1
// CONNACK return code (mosquitto_connack_string), such as "Connection
// Refused: not authorised.".
func ReturnCodeText(rc packet.ReasonCode) string {
	switch rc {
	case packet.ConnackV3Accepted:
		return "Connection Accepted."
	case packet.ConnackV3UnacceptableProtocolVersion:
		return "Connection Refused: unacceptable protocol version."
	case packet.ConnackV3IdentifierRejected:
		return "Connection Refused: identifier rejected."
	case packet.ConnackV3ServerUnavailable:
		return "Connection Refused: broker unavailable."
	case packet.ConnackV3BadUsernameOrPassword:
		return "Connection Refused: bad user name or password."
	case packet.ConnackV3NotAuthorized:
		return "Connection Refused: not authorised."
	}
	return "Connection Refused: unknown reason."
}

// permanent reports whether a refusal will not go away by trying again.
func (e *ConnectError) permanent() bool {
	switch e.ReturnCode {
	case packet.ConnackV3UnacceptableProtocolVersion, packet.ConnackV3IdentifierRejected,
		packet.ConnackV3BadUsernameOrPassword, packet.ConnackV3NotAuthorized:
		return true
	}
	return false
}

// ReasonError is a failure the server reported with an MQTT 5 reason code
// of 0x80 or more: in the PUBACK or PUBREC answering a publish, or in the
// DISCONNECT that ended the connection (then Err wraps it).
type ReasonError struct {
	// Type is the packet that carried the code: packet.TypePuback,
	// TypePubrec, TypePubcomp or TypeDisconnect.
	Type packet.Type
	// Code is the reason code.
	Code packet.ReasonCode
	// Properties are the packet's properties: Reason String, User Property,
	// and for DISCONNECT Server Reference.
	Properties packet.Properties
}

// Error returns "client: server sent <TYPE> <reason>" and the Reason
// String if there is one.
func (e *ReasonError) Error() string {
	s := "client: server sent " + e.Type.String() + " " + e.Code.String()
	if e.Properties.Has(packet.PropReasonString) {
		s += ": " + strconv.Quote(e.Properties.ReasonString)
	}
	return s
}

// Is reports whether target is a *ReasonError with the same Code and, if
// target's Type is set, the same Type.
func (e *ReasonError) Is(target error) bool {
	t, ok := target.(*ReasonError)
	return ok && t.Code == e.Code && (t.Type == 0 || t.Type == e.Type)
}
