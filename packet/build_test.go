package packet_test

import "bytes"

// Small builders for hand-made raw packets in tests. They compute lengths so
// that a case can focus on the one byte that breaks a rule.

// pkt returns a packet with first byte b0 and a body made of parts, with
// the Remaining Length computed (and encoded in its shortest form).
func pkt(b0 byte, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat([]byte{b0}, vbi(uint32(len(body))), body)
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// str is a two-byte length followed by s (a UTF-8 Encoded String or Binary
// Data). s may be any bytes.
func str(s string) []byte { return append(u16(uint16(len(s))), s...) }

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// vbi encodes v as a variable byte integer in its shortest form.
func vbi(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

// plist is a property section: its length and the properties.
func plist(ps ...[]byte) []byte {
	b := cat(ps...)
	return cat(vbi(uint32(len(b))), b)
}

// prop is one property: identifier and value bytes.
func prop(id byte, value ...[]byte) []byte { return cat(append([][]byte{{id}}, value...)...) }

// connect5 builds an MQTT 5 CONNECT body: flags, properties and payload.
func connect5(flags byte, properties []byte, payload ...[]byte) []byte {
	return pkt(0x10, str("MQTT"), []byte{5, flags}, u16(0), properties, cat(payload...))
}

// connect4 builds an MQTT 3.1.1 CONNECT with flags and payload.
func connect4(flags byte, payload ...[]byte) []byte {
	return pkt(0x10, str("MQTT"), []byte{4, flags}, u16(0), cat(payload...))
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) }
