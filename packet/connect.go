package packet

// Connect is the CONNECT packet (3.1).
type Connect struct {
	// ProtocolName is "MQTT" (3.1.1, 5.0) or "MQIsdp" (3.1). Append fills it
	// in from ProtocolVersion when empty.
	ProtocolName    string
	ProtocolVersion byte // Version31, Version311 or Version5
	// Bridge is the high bit of the protocol level, set by Mosquitto bridges
	// ("try_private").
	Bridge      bool
	CleanStart  bool   // Clean Session in 3.1/3.1.1
	KeepAlive   uint16 // seconds; 0 disables keep alive
	ClientID    string
	Will        *Will // nil: no will
	HasUsername bool
	Username    string
	HasPassword bool
	Password    []byte
	Properties  Properties // MQTT 5 only
}

// Will is the will message of a CONNECT (3.1.2.5, 3.1.3.2-4).
type Will struct {
	Topic      string
	Payload    []byte
	QoS        byte
	Retain     bool
	Properties Properties // MQTT 5 only: Will Delay Interval and the PUBLISH properties
}

// Type returns TypeConnect.
func (*Connect) Type() Type  { return TypeConnect }
func (*Connect) flags() byte { return 0 }

func protocolName(p *Connect) string {
	if p.ProtocolName != "" {
		return p.ProtocolName
	}
	if p.ProtocolVersion == Version31 {
		return "MQIsdp"
	}
	return "MQTT"
}

func (p *Connect) size(v byte) int {
	n := 2 + len(protocolName(p)) + 1 + 1 + 2
	if v == Version5 {
		n += p.Properties.fullSize(inConnect)
	}
	n += 2 + len(p.ClientID)
	if w := p.Will; w != nil {
		if v == Version5 {
			n += w.Properties.fullSize(inWill)
		}
		n += 2 + len(w.Topic) + 2 + len(w.Payload)
	}
	if p.HasUsername {
		n += 2 + len(p.Username)
	}
	if p.HasPassword {
		n += 2 + len(p.Password)
	}
	return n
}

func (p *Connect) check(v byte) error {
	if p.ProtocolVersion != v {
		return encodeErr("CONNECT protocol version %d encoded as version %d", p.ProtocolVersion, v)
	}
	if name := protocolName(p); name != "MQIsdp" && v == Version31 || name != "MQTT" && v != Version31 {
		return encodeErr("CONNECT protocol name %q with version %d", name, v) // [MQTT-3.1.2-1]
	}
	if !ValidString(protocolName(p)) || len(p.ClientID) > 65535 || !ValidString(p.ClientID) ||
		(p.HasUsername && !ValidString(p.Username)) || len(p.Password) > 65535 {
		return encodeErr("CONNECT string field invalid or too long")
	}
	if v < Version5 && p.HasPassword && !p.HasUsername {
		return encodeErr("CONNECT password without username") // [MQTT-3.1.2-22] (3.1.1)
	}
	if w := p.Will; w != nil {
		if w.QoS > 2 || !ValidTopicName(w.Topic) || len(w.Payload) > 65535 {
			return encodeErr("CONNECT will invalid")
		}
		if v == Version5 {
			if err := w.Properties.check(inWill); err != nil {
				return err
			}
			if w.Properties.Has(PropResponseTopic) && !ValidTopicName(w.Properties.ResponseTopic) {
				return encodeErr("CONNECT will Response Topic %q", w.Properties.ResponseTopic)
			}
		}
	}
	if v == Version5 {
		if p.Properties.Has(PropAuthData) && !p.Properties.Has(PropAuthMethod) {
			return encodeErr("CONNECT Authentication Data without Authentication Method") // 3.1.2.11.10
		}
		return p.Properties.check(inConnect)
	}
	return nil
}

func (p *Connect) appendBody(b []byte, v byte) []byte {
	b = appendString(b, protocolName(p))
	level := p.ProtocolVersion
	if p.Bridge {
		level |= 0x80
	}
	b = append(b, level)
	var f byte
	if p.CleanStart {
		f |= 0x02
	}
	if w := p.Will; w != nil {
		f |= 0x04 | w.QoS<<3
		if w.Retain {
			f |= 0x20
		}
	}
	if p.HasPassword {
		f |= 0x40
	}
	if p.HasUsername {
		f |= 0x80
	}
	b = append(b, f)
	b = appendUint16(b, p.KeepAlive)
	if v == Version5 {
		b = p.Properties.appendTo(b, inConnect)
	}
	b = appendString(b, p.ClientID)
	if w := p.Will; w != nil {
		if v == Version5 {
			b = w.Properties.appendTo(b, inWill)
		}
		b = appendString(b, w.Topic)
		b = appendBinary(b, w.Payload)
	}
	if p.HasUsername {
		b = appendString(b, p.Username)
	}
	if p.HasPassword {
		b = appendBinary(b, p.Password)
	}
	return b
}

// decodeConnect decodes a CONNECT body. On error it returns the packet as far
// as it was decoded, so that the receiver knows the protocol version to answer
// in: ProtocolVersion is the level the client sent (without the bridge bit)
// even when it is unsupported, and 0 when not even that could be read.
func decodeConnect(body []byte) (*Connect, error) {
	d := decoder{b: body}
	p := &Connect{}
	// The two names the decoder accepts are not allocated.
	switch name := d.rawBytes("protocol name"); {
	case d.err != nil:
	case string(name) == "MQTT":
		p.ProtocolName = "MQTT"
	case string(name) == "MQIsdp":
		p.ProtocolName = "MQIsdp"
	case !validUTF8(name):
		d.fail(malformed("protocol name: not a well-formed UTF-8 string")) // [MQTT-1.5.4-1]
	default:
		p.ProtocolName = string(name)
	}
	level := d.byte("protocol level")
	if d.err != nil {
		return p, d.err
	}
	p.Bridge = level&0x80 != 0
	level &^= 0x80
	p.ProtocolVersion = level
	switch {
	case p.ProtocolName == "MQIsdp" && level == Version31,
		p.ProtocolName == "MQTT" && (level == Version311 || level == Version5):
	case p.ProtocolName == "MQIsdp" || p.ProtocolName == "MQTT":
		// [MQTT-3.1.2-2]: answer CONNACK 0x01 (0x84) and close.
		return p, &Error{Code: UnsupportedProtocolVersion, Reason: "unsupported protocol level " + itoa(int(level))}
	default:
		// [MQTT-3.1.2-1]: the receiver may close without CONNACK.
		return p, &Error{Code: UnsupportedProtocolVersion, Reason: "invalid protocol name " + quote(p.ProtocolName)}
	}
	v := p.ProtocolVersion
	f := d.byte("connect flags")
	p.KeepAlive = d.uint16("keep alive")
	if d.err != nil {
		return p, d.err
	}
	if f&0x01 != 0 {
		return p, malformed("CONNECT reserved flag set") // [MQTT-3.1.2-3]
	}
	p.CleanStart = f&0x02 != 0
	willFlag := f&0x04 != 0
	willQoS := f >> 3 & 0x03
	willRetain := f&0x20 != 0
	p.HasPassword = f&0x40 != 0
	p.HasUsername = f&0x80 != 0
	if !willFlag && (willQoS != 0 || willRetain) {
		return p, malformed("CONNECT will QoS or retain set without will flag") // [MQTT-3.1.2-11], [MQTT-3.1.2-13]
	}
	if willQoS == 3 {
		return p, malformed("CONNECT will QoS 3") // [MQTT-3.1.2-12]
	}
	if v < Version5 && p.HasPassword && !p.HasUsername {
		return p, malformed("CONNECT password flag without username flag") // [MQTT-3.1.2-22] (3.1.1)
	}
	if v == Version5 {
		d.properties(&p.Properties, inConnect)
		if d.err == nil && p.Properties.Has(PropAuthData) && !p.Properties.Has(PropAuthMethod) {
			return p, protocolErr("CONNECT Authentication Data without Authentication Method") // 3.1.2.11.10
		}
	}
	p.ClientID = d.string("client identifier")
	if willFlag {
		w := &Will{QoS: willQoS, Retain: willRetain}
		if v == Version5 {
			d.properties(&w.Properties, inWill)
		}
		w.Topic = d.string("will topic")
		w.Payload = d.binary("will payload")
		if d.err == nil && !ValidTopicName(w.Topic) {
			d.fail(&Error{Code: TopicNameInvalid, Reason: "invalid will topic " + quote(w.Topic)})
		}
		if d.err == nil && w.Properties.Has(PropResponseTopic) && !ValidTopicName(w.Properties.ResponseTopic) {
			d.fail(protocolErr("will Response Topic is not a valid topic name")) // [MQTT-3.3.2-14]
		}
		p.Will = w
	}
	if p.HasUsername {
		p.Username = d.string("user name")
	}
	if p.HasPassword {
		p.Password = d.binary("password")
	}
	d.end("CONNECT")
	return p, d.err
}

// Connack is the CONNACK packet (3.2).
type Connack struct {
	// SessionPresent is the Session Present flag. MQTT 3.1 has no such flag:
	// Append leaves it out and the decoder reports false.
	SessionPresent bool
	// ReasonCode is the MQTT 5 reason code, or for 3.1/3.1.1 the return code
	// (ConnackV3Accepted ...; see ConnackV3).
	ReasonCode ReasonCode
	Properties Properties // MQTT 5 only
}

// Type returns TypeConnack.
func (*Connack) Type() Type  { return TypeConnack }
func (*Connack) flags() byte { return 0 }

func (p *Connack) size(v byte) int {
	if v == Version5 {
		return 2 + p.Properties.fullSize(inConnack)
	}
	return 2
}

func (p *Connack) check(v byte) error {
	if !p.ReasonCode.ValidFor(TypeConnack, v) {
		return encodeErr("CONNACK reason code 0x%02x", byte(p.ReasonCode))
	}
	if p.SessionPresent && p.ReasonCode != Success && v != Version31 {
		return encodeErr("CONNACK Session Present with reason code 0x%02x", byte(p.ReasonCode)) // [MQTT-3.2.2-6]
	}
	if v == Version5 {
		return p.Properties.check(inConnack)
	}
	return nil
}

func (p *Connack) appendBody(b []byte, v byte) []byte {
	var f byte
	if p.SessionPresent && v != Version31 {
		f = 1
	}
	b = append(b, f, byte(p.ReasonCode))
	if v == Version5 {
		b = p.Properties.appendTo(b, inConnack)
	}
	return b
}

func decodeConnack(body []byte, v byte) (*Connack, error) {
	d := decoder{b: body}
	p := &Connack{}
	f := d.byte("connack flags")
	p.ReasonCode = ReasonCode(d.byte("connack reason code"))
	if d.err != nil {
		return nil, d.err
	}
	// In MQTT 3.1 the first byte is reserved and not used: it is ignored.
	if v != Version31 {
		if f&0xfe != 0 {
			return nil, malformed("CONNACK reserved flags set") // [MQTT-3.2.2-1]
		}
		p.SessionPresent = f&1 != 0
	}
	if !p.ReasonCode.ValidFor(TypeConnack, v) {
		return nil, protocolErr("CONNACK reason code 0x" + hex2(byte(p.ReasonCode))) // [MQTT-3.2.2-8]
	}
	if p.SessionPresent && p.ReasonCode != Success {
		// [MQTT-3.2.2-6]; [MQTT-3.2.2-4] in 3.1.1.
		return nil, protocolErr("CONNACK Session Present with reason code 0x" + hex2(byte(p.ReasonCode)))
	}
	if v == Version5 {
		d.properties(&p.Properties, inConnack)
	}
	d.end("CONNACK")
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}
