package packet_test

import (
	"bytes"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// loopReader returns the bytes of b again and again, filling every read, as
// a busy socket would.
type loopReader struct {
	b []byte
	i int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.b[l.i:])
		n += c
		l.i = (l.i + c) % len(l.b)
	}
	return n, nil
}

type benchPublish struct {
	name string
	v    byte
	p    *packet.Publish
}

func benchPublishes() []benchPublish {
	var out []benchPublish
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"4KiB", 4096}} {
		payload := bytes.Repeat([]byte{'x'}, size.n)
		topic := "sensors/building-1/floor-2/room-3/temperature"
		out = append(out,
			benchPublish{"v311/" + size.name, packet.Version311, &packet.Publish{QoS: 1, PacketID: 7, Topic: topic, Payload: payload}},
			benchPublish{"v5/" + size.name, packet.Version5, &packet.Publish{QoS: 1, PacketID: 7, Topic: topic, Payload: payload}},
			benchPublish{"v5+props/" + size.name, packet.Version5, &packet.Publish{QoS: 1, PacketID: 7, Topic: topic, Payload: payload,
				Properties: props(pUint(packet.PropMessageExpiry, 60), pUint(packet.PropTopicAlias, 3),
					pStr(packet.PropContentType, "application/json"), pUser("trace", "abc"))}},
		)
	}
	return out
}

// BenchmarkDecodePublish decodes a PUBLISH into a reused value with
// (*Publish).Decode, and through Reader.ReadPacket from a busy stream.
func BenchmarkDecodePublish(b *testing.B) {
	for _, bp := range benchPublishes() {
		raw := appendOK(b, bp.p, bp.v)
		h, body := splitPacket(b, raw)
		b.Run("Decode/"+bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			var p packet.Publish
			for b.Loop() {
				if err := p.Decode(h.Flags, body, bp.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ReadPacket/"+bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			r := packet.NewReader(&loopReader{b: raw}, 0)
			r.Version = bp.v
			for b.Loop() {
				if _, err := r.ReadPacket(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchConnects() []struct {
	name string
	p    *packet.Connect
} {
	return []struct {
		name string
		p    *packet.Connect
	}{
		{"v311", &packet.Connect{ProtocolVersion: packet.Version311, CleanStart: true, KeepAlive: 60,
			ClientID: "client-0123456789", HasUsername: true, Username: "user", HasPassword: true, Password: []byte("secret"),
			Will: &packet.Will{Topic: "clients/client-0123456789/status", Payload: []byte("offline"), QoS: 1, Retain: true}}},
		{"v5", &packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true, KeepAlive: 60,
			ClientID: "client-0123456789", HasUsername: true, Username: "user", HasPassword: true, Password: []byte("secret"),
			Properties: props(pUint(packet.PropSessionExpiry, 3600), pUint(packet.PropReceiveMaximum, 100),
				pUint(packet.PropTopicAliasMaximum, 10)),
			Will: &packet.Will{Topic: "clients/client-0123456789/status", Payload: []byte("offline"), QoS: 1, Retain: true,
				Properties: props(pUint(packet.PropWillDelay, 5))}}},
	}
}

// BenchmarkDecodeConnect decodes a typical CONNECT with a will, user name
// and password.
func BenchmarkDecodeConnect(b *testing.B) {
	for _, bc := range benchConnects() {
		raw := appendOK(b, bc.p, bc.p.ProtocolVersion)
		h, body := splitPacket(b, raw)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := packet.Decode(h, body, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchAppend encodes p for version v into a reused buffer of capacity
// bufCap.
func benchAppend(b *testing.B, p packet.Packet, v byte, bufCap int) {
	b.ReportAllocs()
	buf := make([]byte, 0, bufCap)
	b.SetBytes(int64(packet.Size(p, v)))
	for b.Loop() {
		var err error
		if buf, err = packet.Append(buf[:0], p, v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePublish encodes a PUBLISH into a reused buffer.
func BenchmarkEncodePublish(b *testing.B) {
	for _, bp := range benchPublishes() {
		b.Run(bp.name, func(b *testing.B) { benchAppend(b, bp.p, bp.v, 8192) })
	}
}

// BenchmarkEncodeConnect encodes a typical CONNECT into a reused buffer.
func BenchmarkEncodeConnect(b *testing.B) {
	for _, bc := range benchConnects() {
		b.Run(bc.name, func(b *testing.B) { benchAppend(b, bc.p, bc.p.ProtocolVersion, 512) })
	}
}

// BenchmarkEncodeAck encodes the acknowledgements a QoS 1 or 2 flow sends.
func BenchmarkEncodeAck(b *testing.B) {
	for _, v := range []byte{packet.Version311, packet.Version5} {
		b.Run(map[byte]string{4: "v311", 5: "v5"}[v], func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 64)
			p := &packet.Ack{Kind: packet.TypePuback, PacketID: 7}
			for b.Loop() {
				buf, _ = packet.Append(buf[:0], p, v)
			}
		})
	}
}

// BenchmarkDecodeAck decodes a PUBACK into a reused Ack, as the broker reads
// a subscriber's acknowledgements: no allocation.
func BenchmarkDecodeAck(b *testing.B) {
	for _, v := range []byte{packet.Version311, packet.Version5} {
		b.Run(map[byte]string{4: "v311", 5: "v5"}[v], func(b *testing.B) {
			b.ReportAllocs()
			wire, _ := packet.Append(nil, &packet.Ack{Kind: packet.TypePuback, PacketID: 7, ReasonCode: packet.NoMatchingSubscribers}, v)
			h := packet.FixedHeader{Type: packet.TypePuback, Remaining: len(wire) - 2}
			var p packet.Ack
			for b.Loop() {
				if err := p.Decode(h, wire[2:], v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
