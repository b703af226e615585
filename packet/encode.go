package packet

// Size returns the number of bytes p occupies on the wire when encoded for
// protocol version v, so that a sender can compare it with the peer's Maximum
// Packet Size before encoding.
func Size(p Packet, v byte) int {
	n := p.size(v)
	return 1 + varintLen(uint32(n)) + n
}

// Append appends p encoded for protocol version v to dst and returns the
// extended slice. It returns an error wrapping ErrEncode, and dst unchanged,
// if p cannot be encoded for v: a field out of range, an invalid string or
// topic, a property not allowed in that packet or with a value the decoder
// would refuse, a packet larger than MaxRemainingLength, AUTH before MQTT 5.
// Fields that version v does not have are left out, not refused: properties,
// acknowledgement and UNSUBACK reason codes, and subscription options other
// than QoS before MQTT 5, and Session Present in MQTT 3.1. Acknowledgements,
// DISCONNECT and AUTH take their shortest form. Encoding into a dst with
// enough capacity allocates nothing.
func Append(dst []byte, p Packet, v byte) ([]byte, error) {
	if v < Version31 || v > Version5 {
		return dst, encodeErr("protocol version %d", v)
	}
	if p.Type() == TypeAuth && v != Version5 {
		return dst, encodeErr("AUTH exists only in MQTT 5")
	}
	if err := p.check(v); err != nil {
		return dst, err
	}
	n := p.size(v)
	if n > MaxRemainingLength {
		return dst, encodeErr("%v of %d bytes exceeds the maximum remaining length", p.Type(), n)
	}
	dst = FixedHeader{p.Type(), p.flags(), n}.Append(dst)
	return p.appendBody(dst, v), nil
}

// Decode decodes one packet from its fixed header and body for protocol
// version v. For a CONNECT, v is ignored (the packet names its own version)
// and a *Connect is returned even with an error, decoded as far as it could
// be, so the receiver can answer in the right version; for every other type
// a non-nil error comes with a nil Packet. The packet does not alias body.
func Decode(h FixedHeader, body []byte, v byte) (Packet, error) {
	if err := checkFlags(h, v); err != nil {
		if h.Type == TypeConnect {
			p, _ := decodeConnect(body)
			return p, err
		}
		return nil, err
	}
	switch h.Type {
	case TypeConnect:
		p, err := decodeConnect(body)
		return p, err
	case TypeConnack:
		return nilOnErr(decodeConnack(body, v))
	case TypePublish:
		p := &Publish{}
		if err := p.Decode(h.Flags, body, v); err != nil {
			return nil, err
		}
		return p, nil
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		return nilOnErr(decodeAck(h.Type, body, v))
	case TypeSubscribe:
		return nilOnErr(decodeSubscribe(body, v))
	case TypeSuback:
		return nilOnErr(decodeSuback(body, v))
	case TypeUnsubscribe:
		return nilOnErr(decodeUnsubscribe(body, v))
	case TypeUnsuback:
		return nilOnErr(decodeUnsuback(body, v))
	case TypePingreq:
		if len(body) != 0 {
			return nil, malformed("PINGREQ with a body")
		}
		return &Pingreq{}, nil
	case TypePingresp:
		if len(body) != 0 {
			return nil, malformed("PINGRESP with a body")
		}
		return &Pingresp{}, nil
	case TypeDisconnect:
		return nilOnErr(decodeDisconnect(body, v))
	case TypeAuth:
		return nilOnErr(decodeAuth(body))
	}
	return nil, malformed("reserved packet type " + itoa(int(h.Type)))
}

// nilOnErr turns a typed nil pointer into a nil Packet.
func nilOnErr[P Packet](p P, err error) (Packet, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkFlags validates the fixed header flags and the packet type for the
// protocol version ([MQTT-2.1.3-1] 3.1.1, 2.1.3).
func checkFlags(h FixedHeader, v byte) error {
	switch h.Type {
	case TypePublish:
		return nil // checked by Publish.Decode
	case TypePubrel, TypeSubscribe, TypeUnsubscribe:
		if v == Version31 && h.Flags == 0x0A {
			return nil // MQTT 3.1 sends them at QoS 1, with DUP on a retry (3.1 §3.6)
		}
		if h.Flags != 0x02 {
			return malformed(h.Type.String() + " fixed header flags not 0010") // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
		}
	case TypeAuth:
		if v != Version5 {
			return malformed("AUTH before MQTT 5")
		}
		fallthrough
	default:
		if h.Type == 0 {
			return protocolErr("reserved packet type 0") // 2.1.2: forbidden; 0x82 as Mosquitto
		}
		if h.Flags != 0 {
			return malformed(h.Type.String() + " reserved fixed header flags set") // 2.1.3
		}
	}
	return nil
}
