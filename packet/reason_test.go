package packet_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// specCodes are the MQTT 5 reason codes each packet may carry, copied from
// the tables of 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3,
// 3.14.2.1 and 3.15.2.1 independently of the codec.
var specCodes = map[packet.Type][]byte{
	packet.TypeConnack: {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90,
		0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f},
	packet.TypePuback:   {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99},
	packet.TypePubrec:   {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99},
	packet.TypePubrel:   {0x00, 0x92},
	packet.TypePubcomp:  {0x00, 0x92},
	packet.TypeSuback:   {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2},
	packet.TypeUnsuback: {0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91},
	packet.TypeDisconnect: {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93,
		0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2},
	packet.TypeAuth: {0x00, 0x18, 0x19},
}

// TestValidFor checks ValidFor for every packet type, every byte value and
// every version against the specification's tables.
func TestValidFor(t *testing.T) {
	for ty := packet.Type(0); ty < 16; ty++ {
		for c := 0; c < 256; c++ {
			code := packet.ReasonCode(c)
			if got, want := code.ValidFor(ty, packet.Version5), slices.Contains(specCodes[ty], byte(c)); got != want {
				t.Errorf("ReasonCode(0x%02x).ValidFor(%v, 5) = %v, want %v", c, ty, got, want)
			}
			var want3 bool
			switch ty {
			case packet.TypeConnack:
				want3 = c <= 5 // 3.2.2.3 (3.1.1), Table 3.1
			case packet.TypeSuback:
				want3 = c <= 2 || c == 0x80 // [MQTT-3.9.3-2] (3.1.1)
			default:
				want3 = c == 0
			}
			for _, v := range []byte{packet.Version31, packet.Version311} {
				if got := code.ValidFor(ty, v); got != want3 {
					t.Errorf("ReasonCode(0x%02x).ValidFor(%v, %d) = %v, want %v", c, ty, v, got, want3)
				}
			}
		}
	}
}

// TestReasonCodesInPackets decodes and encodes every reason code in every
// MQTT 5 packet that has one: valid codes round trip, others are refused.
func TestReasonCodesInPackets(t *testing.T) {
	build := map[packet.Type]func(c byte) ([]byte, packet.Packet){
		packet.TypeConnack: func(c byte) ([]byte, packet.Packet) {
			return pkt(0x20, []byte{0, c}, plist()), &packet.Connack{ReasonCode: packet.ReasonCode(c)}
		},
		packet.TypePuback: func(c byte) ([]byte, packet.Packet) {
			return pkt(0x40, u16(1), []byte{c}), &packet.Ack{Kind: packet.TypePuback, PacketID: 1, ReasonCode: packet.ReasonCode(c)}
		},
		packet.TypePubrec: func(c byte) ([]byte, packet.Packet) {
			return pkt(0x50, u16(1), []byte{c}), &packet.Ack{Kind: packet.TypePubrec, PacketID: 1, ReasonCode: packet.ReasonCode(c)}
		},
		packet.TypePubrel: func(c byte) ([]byte, packet.Packet) {
			return pkt(0x62, u16(1), []byte{c}), &packet.Ack{Kind: packet.TypePubrel, PacketID: 1, ReasonCode: packet.ReasonCode(c)}
		},
		packet.TypePubcomp: func(c byte) ([]byte, packet.Packet) {
			return pkt(0x70, u16(1), []byte{c}), &packet.Ack{Kind: packet.TypePubcomp, PacketID: 1, ReasonCode: packet.ReasonCode(c)}
		},
		packet.TypeSuback: func(c byte) ([]byte, packet.Packet) {
			return pkt(0x90, u16(1), plist(), []byte{c}), &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{packet.ReasonCode(c)}}
		},
		packet.TypeUnsuback: func(c byte) ([]byte, packet.Packet) {
			return pkt(0xb0, u16(1), plist(), []byte{c}), &packet.Unsuback{PacketID: 1, ReasonCodes: []packet.ReasonCode{packet.ReasonCode(c)}}
		},
		packet.TypeDisconnect: func(c byte) ([]byte, packet.Packet) {
			return pkt(0xe0, []byte{c}), &packet.Disconnect{ReasonCode: packet.ReasonCode(c)}
		},
		packet.TypeAuth: func(c byte) ([]byte, packet.Packet) {
			return pkt(0xf0, []byte{c}, plist()), &packet.Auth{ReasonCode: packet.ReasonCode(c)}
		},
	}
	for ty, f := range build {
		for c := 0; c < 256; c++ {
			raw, want := f(byte(c))
			valid := slices.Contains(specCodes[ty], byte(c))
			got, err := decodeRaw(raw, packet.Version5)
			_, encErr := packet.Append(nil, want, packet.Version5)
			if valid {
				if err != nil || diff(got, want) != "" || encErr != nil {
					t.Errorf("%v code 0x%02x: decode %s, %v; encode %v", ty, c, dump(got), err, encErr)
				}
				continue
			}
			if !errors.Is(err, packet.ErrProtocol) || !errors.Is(encErr, packet.ErrEncode) {
				t.Errorf("%v invalid code 0x%02x: decode %v, encode %v", ty, c, err, encErr)
			}
		}
	}
}

func TestReasonCodeString(t *testing.T) {
	for ty, codes := range specCodes {
		for _, c := range codes {
			if s := packet.ReasonCode(c).String(); strings.HasPrefix(s, "ReasonCode(") {
				t.Errorf("%v code 0x%02x has no name", ty, c)
			}
		}
	}
	for c, want := range map[packet.ReasonCode]string{
		0x00: "Success", 0x81: "Malformed Packet", 0x95: "Packet too large", 0xa2: "Wildcard Subscriptions not supported",
		0x03: "ReasonCode(0x3)", 0xff: "ReasonCode(0xff)",
	} {
		if got := c.String(); got != want {
			t.Errorf("ReasonCode(0x%02x).String() = %q, want %q", byte(c), got, want)
		}
	}
	for c := 0; c < 256; c++ {
		if got := packet.ReasonCode(c).IsError(); got != (c >= 0x80) {
			t.Errorf("ReasonCode(0x%02x).IsError() = %v", c, got)
		}
	}
}

func TestConnackV3(t *testing.T) {
	for c := 0; c < 256; c++ {
		code := packet.ReasonCode(c)
		if !code.ValidFor(packet.TypeConnack, packet.Version5) {
			continue
		}
		v3 := packet.ConnackV3(code)
		if !v3.ValidFor(packet.TypeConnack, packet.Version311) {
			t.Errorf("ConnackV3(%v) = 0x%02x, not a 3.1.1 return code", code, byte(v3))
		}
		if (v3 == packet.ConnackV3Accepted) != (code == packet.Success) {
			t.Errorf("ConnackV3(%v) = %d", code, v3)
		}
	}
	for in, want := range map[packet.ReasonCode]packet.ReasonCode{
		packet.UnsupportedProtocolVersion: packet.ConnackV3UnacceptableProtocolVersion,
		packet.ClientIdentifierNotValid:   packet.ConnackV3IdentifierRejected,
		packet.BadUserNameOrPassword:      packet.ConnackV3BadUsernameOrPassword,
		packet.NotAuthorized:              packet.ConnackV3NotAuthorized,
		packet.ServerBusy:                 packet.ConnackV3ServerUnavailable,
	} {
		if got := packet.ConnackV3(in); got != want {
			t.Errorf("ConnackV3(%v) = %d, want %d", in, got, want)
		}
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"Type(0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
		"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH", "Type(16)"}
	for i, w := range want {
		if got := packet.Type(i).String(); got != w {
			t.Errorf("Type(%d).String() = %q, want %q", i, got, w)
		}
	}
}

func TestErrorMatching(t *testing.T) {
	e := &packet.Error{Code: packet.ProtocolError, Reason: "why"}
	wrapped := fmt.Errorf("conn: %w", e)
	if !errors.Is(wrapped, packet.ErrProtocol) || errors.Is(wrapped, packet.ErrMalformed) {
		t.Error("errors.Is does not tell codes apart")
	}
	if errors.Is(packet.ErrProtocol, e) {
		t.Error("a sentinel matches an error with a reason")
	}
	if e.Error() != "packet: why" || packet.ErrTooLarge.Error() != "packet: Packet too large" {
		t.Errorf("Error() = %q, %q", e.Error(), packet.ErrTooLarge.Error())
	}
	if errors.Is(e, errors.New("packet: why")) {
		t.Error("matches an unrelated error")
	}
}
