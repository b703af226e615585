package packet

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf8"
)

// varintLen returns the number of bytes of v as a variable byte integer.
func varintLen(v uint32) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	default:
		return 4
	}
}

// appendVarint appends v as a variable byte integer (1.5.5). v must not
// exceed MaxRemainingLength.
func appendVarint(b []byte, v uint32) []byte {
	// MQTT's encoding is the standard library's unsigned varint: seven bits
	// a byte, least significant first, the top bit marking a byte that has
	// more after it.
	return binary.AppendUvarint(b, uint64(v))
}

func appendUint16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendString(b []byte, s string) []byte {
	b = appendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendBinary(b []byte, s []byte) []byte {
	b = appendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// validUTF8 reports whether s is a well-formed UTF-8 Encoded String: valid
// UTF-8 without surrogate code points [MQTT-1.5.4-1] and without U+0000
// [MQTT-1.5.4-2]. Go's utf8.ValidString rejects encoded surrogates.
func validUTF8(s []byte) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			return utf8.Valid(s[i:]) && !containsNUL(s[i:])
		}
	}
	return true
}

func containsNUL(s []byte) bool {
	for _, c := range s {
		if c == 0 {
			return true
		}
	}
	return false
}

// ValidString reports whether s may be sent as an MQTT UTF-8 Encoded String:
// well-formed UTF-8, no surrogates, no U+0000, at most 65535 bytes.
func ValidString(s string) bool {
	if len(s) > 65535 || strings.IndexByte(s, 0) >= 0 {
		return false
	}
	return utf8.ValidString(s)
}

// decoder reads the fields of one packet's body. The first error sticks: after
// it every read returns a zero value, so callers check err once per packet.
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) remaining() int { return len(d.b) - d.i }

// take returns the next n bytes, aliasing the body. If fewer remain, the
// decoder fails with what and problem.
func (d *decoder) take(n int, what, problem string) []byte {
	if d.err != nil {
		return nil
	}
	if d.i+n > len(d.b) {
		d.fail(malformed(what + problem))
		return nil
	}
	s := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return s
}

func (d *decoder) byte(what string) byte {
	if s := d.take(1, what, ": packet too short"); s != nil {
		return s[0]
	}
	return 0
}

func (d *decoder) uint16(what string) uint16 {
	if s := d.take(2, what, ": packet too short"); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (d *decoder) uint32(what string) uint32 {
	if s := d.take(4, what, ": packet too short"); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// varint reads a variable byte integer of at most four bytes that uses the
// minimum number of bytes for its value [MQTT-1.5.5-1]. Variable byte
// integers inside a body exist only in MQTT 5, so the rule always applies.
func (d *decoder) varint(what string) uint32 {
	if d.err != nil {
		return 0
	}
	var v uint32
	for n := 0; n < 4; n++ {
		if d.i >= len(d.b) {
			d.fail(malformed(what + ": packet too short"))
			return 0
		}
		c := d.b[d.i]
		d.i++
		v |= uint32(c&0x7f) << (7 * n)
		if c&0x80 == 0 {
			if n > 0 && c == 0 {
				d.fail(malformed(what + ": variable byte integer not in its shortest form")) // [MQTT-1.5.5-1]
				return 0
			}
			return v
		}
	}
	d.fail(malformed(what + ": variable byte integer longer than 4 bytes"))
	return 0
}

// rawBytes reads a two-byte length and returns that many bytes, aliasing the
// body.
func (d *decoder) rawBytes(what string) []byte {
	n := int(d.uint16(what))
	return d.take(n, what, ": length exceeds packet")
}

// string reads a UTF-8 Encoded String and copies it.
func (d *decoder) string(what string) string {
	s := d.rawBytes(what)
	if d.err != nil {
		return ""
	}
	if !validUTF8(s) {
		d.fail(malformed(what + ": not a well-formed UTF-8 string")) // [MQTT-1.5.4-1], [MQTT-1.5.4-2]
		return ""
	}
	return string(s)
}

// binary reads Binary Data and copies it. An empty value decodes as nil:
// presence is told by the flags or the property set, never by the slice.
func (d *decoder) binary(what string) []byte {
	s := d.rawBytes(what)
	if d.err != nil || len(s) == 0 {
		return nil
	}
	return append(make([]byte, 0, len(s)), s...)
}

// rest returns the remaining bytes, aliasing the body.
func (d *decoder) rest() []byte {
	s := d.b[d.i:]
	d.i = len(d.b)
	return s
}

// end fails if bytes remain after the last field.
func (d *decoder) end(what string) {
	if d.err == nil && d.i != len(d.b) {
		d.fail(malformed(what + ": unexpected bytes after the last field"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
