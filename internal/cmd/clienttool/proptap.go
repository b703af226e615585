package clienttool

import (
	"net"
	"sync"

	"github.com/midge-mqtt/midge/packet"
)

// propTap reads the byte stream the server sends, alongside the client, to
// note the order of the properties of each MQTT 5 PUBLISH: %j prints them
// in that order, and packet.Properties does not keep it. It only looks at
// the variable header of PUBLISH packets and skips everything else.
//
// Orders are queued in the order the packets arrive; the OnPacket hook,
// which sees the same packets in the same order, takes them with next.
type propTap struct {
	mu     sync.Mutex
	orders [][]packet.PropertyID // guarded by mu: noted and not yet taken
	failed bool                  // guarded by mu: the stream made no sense; stop

	// Parser state, used by the reading goroutine only.
	head []byte // the fixed and variable header of the packet being read
	skip int    // bytes of the current packet still to skip
}

// conn returns nc, reading through the tap.
func (t *propTap) conn(nc net.Conn) net.Conn { return &tapConn{Conn: nc, t: t} }

// next returns the property order of the next PUBLISH, or nil if unknown.
func (t *propTap) next() []packet.PropertyID {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.orders) == 0 {
		return nil
	}
	o := t.orders[0]
	t.orders = t.orders[1:]
	return o
}

type tapConn struct {
	net.Conn
	t *propTap
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.t.feed(p[:n])
	}
	return n, err
}

// feed parses the bytes b that arrived.
func (t *propTap) feed(b []byte) {
	t.mu.Lock()
	failed := t.failed
	t.mu.Unlock()
	if failed {
		return
	}
	for len(b) > 0 {
		if t.skip > 0 {
			n := min(t.skip, len(b))
			t.skip -= n
			b = b[n:]
			continue
		}
		// Collect header bytes one at a time until the header is complete;
		// headers are small, payloads are skipped.
		t.head = append(t.head, b[0])
		b = b[1:]
		done, skip, order, ok := parsePublishHead(t.head)
		if !ok {
			t.mu.Lock()
			t.failed = true
			t.orders = nil
			t.mu.Unlock()
			return
		}
		if !done {
			continue
		}
		if order != nil {
			t.mu.Lock()
			t.orders = append(t.orders, order)
			t.mu.Unlock()
		}
		t.head = t.head[:0]
		t.skip = skip
	}
}

// parsePublishHead looks at the start of a packet, h. done reports whether
// enough of it was seen; then skip is how many bytes of the packet remain,
// and order is the property order for a PUBLISH (empty, not nil, for one
// without properties) or nil for another packet. ok is false for bytes
// that cannot be MQTT.
func parsePublishHead(h []byte) (done bool, skip int, order []packet.PropertyID, ok bool) {
	// Fixed header: type and flags, then Remaining Length.
	rem, n, complete, valid := varint(h[1:])
	if !valid {
		return false, 0, nil, false
	}
	if !complete {
		return false, 0, nil, true
	}
	hdr := 1 + n
	if packet.Type(h[0]>>4) != packet.TypePublish {
		if len(h) > hdr {
			return false, 0, nil, false // cannot happen: we stop at the header
		}
		return true, rem, nil, true
	}
	body := h[hdr:]
	qos := (h[0] >> 1) & 3
	if rem < 2 {
		return false, 0, nil, false // a PUBLISH has at least a topic length
	}
	need := 2
	if len(body) < need {
		return false, 0, nil, true
	}
	tl := int(body[0])<<8 | int(body[1])
	need += tl
	if qos > 0 {
		need += 2
	}
	if need > rem {
		return false, 0, nil, false
	}
	if len(body) < need {
		return false, 0, nil, true
	}
	plen, pn, complete, valid := varint(body[need:])
	if !valid {
		return false, 0, nil, false
	}
	if !complete {
		return false, 0, nil, true
	}
	start := need + pn
	if start+plen > rem {
		return false, 0, nil, false
	}
	if len(body) < start+plen {
		return false, 0, nil, true
	}
	order = make([]packet.PropertyID, 0, 4)
	props := body[start : start+plen]
	for i := 0; i < len(props); {
		id := packet.PropertyID(props[i])
		i++
		var size int
		switch id {
		case packet.PropPayloadFormat:
			size = 1
		case packet.PropMessageExpiry:
			size = 4
		case packet.PropTopicAlias:
			size = 2
		case packet.PropSubscriptionID:
			_, vn, complete, valid := varint(props[i:])
			if !valid || !complete {
				return false, 0, nil, false
			}
			size = vn
		case packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData:
			if i+2 > len(props) {
				return false, 0, nil, false
			}
			size = 2 + (int(props[i])<<8 | int(props[i+1]))
		case packet.PropUser:
			if i+2 > len(props) {
				return false, 0, nil, false
			}
			k := 2 + (int(props[i])<<8 | int(props[i+1]))
			if i+k+2 > len(props) {
				return false, 0, nil, false
			}
			size = k + 2 + (int(props[i+k])<<8 | int(props[i+k+1]))
		default:
			return false, 0, nil, false
		}
		if i+size > len(props) {
			return false, 0, nil, false
		}
		i += size
		order = append(order, id)
	}
	return true, rem - (start + plen), order, true
}

// varint decodes an MQTT Variable Byte Integer at the start of b: its
// value, its length, whether it is complete, and whether it is valid.
func varint(b []byte) (v, n int, complete, valid bool) {
	mul := 1
	for i := 0; i < len(b); i++ {
		if i == 4 {
			return 0, 0, false, false
		}
		v += int(b[i]&0x7f) * mul
		mul *= 128
		if b[i]&0x80 == 0 {
			return v, i + 1, true, true
		}
	}
	return 0, 0, false, len(b) < 4
}
