package packet

import (
	"errors"
	"fmt"
)

// Error is a violation of the protocol by the peer. Code is the reason code
// the receiver answers with (in CONNACK or, in MQTT 5, DISCONNECT); for MQTT
// 3.1.1 connections the receiver closes the network connection instead.
type Error struct {
	Code   ReasonCode
	Reason string // what was wrong, for logs; may name the spec statement
	// InProperties is set when the error is in the packet's properties (a
	// broker that matches Mosquitto closes a PUBLISH with such an error
	// without DISCONNECT).
	InProperties bool
}

// Error returns "packet: " followed by the reason, or the code's name.
func (e *Error) Error() string {
	if e.Reason == "" {
		return "packet: " + e.Code.String()
	}
	return "packet: " + e.Reason
}

// Is reports whether target is an *Error without a reason that has the same
// code, so that errors.Is(err, ErrMalformed) matches every malformed packet.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == "" && t.Code == e.Code
}

// Sentinel errors for errors.Is; the *Error values the package returns carry a
// reason as well.
var (
	// ErrMalformed matches every error for a packet that cannot be parsed
	// according to the specification (0x81).
	ErrMalformed = &Error{Code: MalformedPacket}
	// ErrProtocol matches every error for a packet that parses but breaks a
	// rule of the protocol (0x82).
	ErrProtocol = &Error{Code: ProtocolError}
	// ErrTooLarge is returned by Reader.ReadPacket, before the body is read,
	// when a packet exceeds the Reader's maximum size (0x95).
	ErrTooLarge = &Error{Code: PacketTooLarge}
	// ErrUnsupportedVersion matches a CONNECT with a protocol level other than
	// 3, 4 or 5 (0x84; 0x01 in a 3.1.1 CONNACK).
	ErrUnsupportedVersion = &Error{Code: UnsupportedProtocolVersion}
	// ErrEncode is returned by Append for a packet that cannot be encoded for
	// the requested version (a field out of range, too large, or a property
	// the version does not have).
	ErrEncode = errors.New("packet: cannot encode")
)

func malformed(reason string) error   { return &Error{Code: MalformedPacket, Reason: reason} }
func protocolErr(reason string) error { return &Error{Code: ProtocolError, Reason: reason} }

func encodeErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrEncode}, args...)...)
}
