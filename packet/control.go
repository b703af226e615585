package packet

// noBody is the encoding of a packet that is only a fixed header.
type noBody struct{}

func (noBody) flags() byte                        { return 0 }
func (noBody) size(byte) int                      { return 0 }
func (noBody) check(byte) error                   { return nil }
func (noBody) appendBody(b []byte, _ byte) []byte { return b }

// Pingreq is the PINGREQ packet (3.12).
type Pingreq struct{ noBody }

// Type returns TypePingreq.
func (*Pingreq) Type() Type { return TypePingreq }

// Pingresp is the PINGRESP packet (3.13).
type Pingresp struct{ noBody }

// Type returns TypePingresp.
func (*Pingresp) Type() Type { return TypePingresp }

// Disconnect is the DISCONNECT packet (3.14). In 3.1/3.1.1 it has no fields.
type Disconnect struct {
	ReasonCode ReasonCode // MQTT 5
	Properties Properties // MQTT 5: Session Expiry Interval, Reason String, User Property, Server Reference
}

// Type returns TypeDisconnect.
func (*Disconnect) Type() Type  { return TypeDisconnect }
func (*Disconnect) flags() byte { return 0 }

func (p *Disconnect) size(v byte) int {
	return reasonTailSize(v, p.ReasonCode, &p.Properties, inDisconnect) // 3.14.2.1
}

func (p *Disconnect) check(v byte) error {
	if v == Version5 {
		if !p.ReasonCode.ValidFor(TypeDisconnect, v) {
			return encodeErr("DISCONNECT reason code 0x%02x", byte(p.ReasonCode))
		}
		return p.Properties.check(inDisconnect)
	}
	return nil
}

func (p *Disconnect) appendBody(b []byte, v byte) []byte {
	return appendReasonTail(b, p.size(v), p.ReasonCode, &p.Properties, inDisconnect)
}

func decodeDisconnect(body []byte, v byte) (*Disconnect, error) {
	p := &Disconnect{}
	if v != Version5 {
		if len(body) != 0 {
			return nil, malformed("DISCONNECT with a body") // 3.14 (3.1.1): no variable header
		}
		return p, nil
	}
	d := decoder{b: body}
	if d.remaining() > 0 {
		p.ReasonCode = ReasonCode(d.byte("reason code"))
		if !p.ReasonCode.ValidFor(TypeDisconnect, v) {
			return nil, protocolErr("DISCONNECT reason code 0x" + hex2(byte(p.ReasonCode))) // [MQTT-3.14.2-1]
		}
		if d.remaining() > 0 {
			d.properties(&p.Properties, inDisconnect)
		}
	}
	d.end("DISCONNECT")
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// Auth is the MQTT 5 AUTH packet (3.15). The decoder does not require the
// Authentication Method: whether it is present and equal to the CONNECT's
// is for the receiver to check [MQTT-4.12.0-5].
type Auth struct {
	ReasonCode ReasonCode // Success, ContinueAuthentication or ReAuthenticate
	Properties Properties // Authentication Method and Data, Reason String, User Property
}

// Type returns TypeAuth.
func (*Auth) Type() Type  { return TypeAuth }
func (*Auth) flags() byte { return 0 }

func (p *Auth) size(byte) int {
	if p.ReasonCode == Success && p.Properties.Empty() {
		return 0 // 3.15.2.1: may be omitted
	}
	return 1 + p.Properties.fullSize(inAuth)
}

func (p *Auth) check(v byte) error {
	if v != Version5 {
		return encodeErr("AUTH exists only in MQTT 5")
	}
	if !p.ReasonCode.ValidFor(TypeAuth, v) {
		return encodeErr("AUTH reason code 0x%02x", byte(p.ReasonCode))
	}
	return p.Properties.check(inAuth)
}

func (p *Auth) appendBody(b []byte, v byte) []byte {
	if p.size(v) == 0 {
		return b
	}
	b = append(b, byte(p.ReasonCode))
	return p.Properties.appendTo(b, inAuth)
}

func decodeAuth(body []byte) (*Auth, error) {
	d := decoder{b: body}
	p := &Auth{}
	// Reason Code and Property Length are omitted together or not at all:
	// only a Remaining Length of 0 stands for Success without properties
	// (3.15.2.1); unlike DISCONNECT there is no one-byte form.
	if d.remaining() > 0 {
		p.ReasonCode = ReasonCode(d.byte("reason code"))
		if !p.ReasonCode.ValidFor(TypeAuth, Version5) {
			return nil, protocolErr("AUTH reason code 0x" + hex2(byte(p.ReasonCode))) // [MQTT-3.15.2-1]
		}
		d.properties(&p.Properties, inAuth)
	}
	d.end("AUTH")
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}
