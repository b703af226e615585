// Package packet is the MQTT wire format: it encodes and decodes every control
// packet of MQTT 3.1 (protocol level 3, "MQIsdp"), 3.1.1 (level 4) and 5.0
// (level 5), with every MQTT 5 property, and validates what it decodes as the
// specifications require.
//
// Decoding is bounded: a Reader checks the Remaining Length against its
// maximum packet size before it reads (or allocates for) the body. Decoded
// packets never alias the Reader's buffer; strings and byte slices in them are
// owned by the caller.
//
// Errors that a peer's bytes can cause are *Error values carrying the reason
// code the receiver must answer with (MalformedPacket, ProtocolError,
// PacketTooLarge, ...). Match them with errors.Is against ErrMalformed,
// ErrProtocol, ErrTooLarge and ErrUnsupportedVersion, or with errors.As to
// read the code and the reason. Comments name the normative statement a check
// enforces, as [MQTT-x.x.x-y] (MQTT 5.0 numbering unless noted).
//
// The package imports nothing else of midge's and has no global state; all
// functions are safe for concurrent use on distinct values.
package packet
