package mosqdb_test

import (
	"encoding/binary"

	"github.com/midge-mqtt/midge/internal/mosqdb"
)

// builder writes a Mosquitto persistence file of a given version, field by
// field as Mosquitto's persist_write*.c lay them out (described in the
// package documentation): the fixtures of the versions other than 6, which
// Debian's mosquitto 2.0 writes, come from here.
type builder struct {
	version uint32
	b       []byte
}

func newBuilder(version uint32) *builder {
	w := &builder{version: version, b: []byte(mosqdb.Magic)}
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // CRC
	w.b = binary.BigEndian.AppendUint32(w.b, version)
	return w
}

func (w *builder) bytes() []byte { return w.b }

// chunk appends a chunk header and body.
func (w *builder) chunk(t mosqdb.ChunkType, body []byte) *builder {
	if w.version >= 5 {
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(t))
	} else {
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(t))
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(body)))
	w.b = append(w.b, body...)
	return w
}

func be16(b []byte, v int) []byte    { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
func pstr(b []byte, s string) []byte { return append(be16(b, len(s)), s...) }

func (w *builder) cfg(lastID uint64, shutdown bool) *builder {
	var b []byte
	sd := byte(0)
	if shutdown {
		sd = 1
	}
	if w.version >= 5 {
		b = le64(b, lastID)
		b = append(b, sd, 8, 0, 0, 0, 0, 0, 0)
	} else {
		b = append(b, sd, 8)
		b = le64(b, lastID)
	}
	return w.chunk(mosqdb.ChunkCfg, b)
}

// msg is a stored message for the builder.
type msg struct {
	id         uint64
	expiry     int64
	sourceMID  int
	sourceID   string
	sourceUser string
	port       int
	topic      string
	qos        byte
	retain     bool
	payload    string
	props      []byte // v5 properties, with their length first
}

func (w *builder) msg(m msg) *builder {
	var b []byte
	r := byte(0)
	if m.retain {
		r = 1
	}
	if w.version >= 5 {
		b = le64(b, m.id)
		b = le64(b, uint64(m.expiry))
		b = be32(b, uint32(len(m.payload)))
		b = be16(b, m.sourceMID)
		b = be16(b, len(m.sourceID))
		b = be16(b, len(m.sourceUser))
		b = be16(b, len(m.topic))
		b = be16(b, m.port)
		b = append(b, m.qos, r)
		b = append(b, m.sourceID...)
		b = append(b, m.sourceUser...)
		b = append(b, m.topic...)
		b = append(b, m.payload...)
		b = append(b, m.props...)
	} else {
		b = le64(b, m.id)
		b = pstr(b, m.sourceID)
		if w.version == 4 {
			b = pstr(b, m.sourceUser)
			b = be16(b, m.port)
		}
		b = be16(b, m.sourceMID)
		b = be16(b, 0) // mid
		b = pstr(b, m.topic)
		b = append(b, m.qos, r)
		b = be32(b, uint32(len(m.payload)))
		b = append(b, m.payload...)
	}
	return w.chunk(mosqdb.ChunkBaseMsg, b)
}

// cmsg is a client message for the builder.
type cmsg struct {
	client      string
	id          uint64
	mid         int
	qos         byte
	retain, dup bool
	dir         mosqdb.Direction
	state       mosqdb.State
	subID       byte // < 128, one byte varint
}

func (w *builder) cmsg(m cmsg) *builder {
	var b []byte
	var r, d byte
	if m.retain {
		r = 1
	}
	if m.dup {
		d = 1
	}
	if w.version >= 5 {
		b = le64(b, m.id)
		b = be16(b, m.mid)
		b = be16(b, len(m.client))
		b = append(b, m.qos, byte(m.state), r<<4|d, byte(m.dir))
		b = append(b, m.client...)
		if m.subID != 0 {
			b = append(b, 2, 0x0b, m.subID)
		}
	} else {
		b = pstr(b, m.client)
		b = le64(b, m.id)
		b = be16(b, m.mid)
		b = append(b, m.qos, r, byte(m.dir), byte(m.state), d)
	}
	return w.chunk(mosqdb.ChunkClientMsg, b)
}

func (w *builder) retain(id uint64) *builder {
	return w.chunk(mosqdb.ChunkRetain, le64(nil, id))
}

func (w *builder) sub(client, topic string, qos, options byte, identifier uint32) *builder {
	var b []byte
	if w.version >= 5 {
		b = be32(b, identifier)
		b = be16(b, len(client))
		b = be16(b, len(topic))
		b = append(b, qos, options, 0, 0)
		b = append(b, client...)
		b = append(b, topic...)
	} else {
		b = pstr(b, client)
		b = pstr(b, topic)
		b = append(b, qos)
	}
	return w.chunk(mosqdb.ChunkSub, b)
}

func (w *builder) client(id, username string, expiryTime int64, interval uint32, lastMID int) *builder {
	var b []byte
	if w.version >= 5 {
		b = le64(b, uint64(expiryTime))
		b = be32(b, interval)
		b = be16(b, lastMID)
		b = be16(b, len(id))
		if w.version == 6 {
			b = be16(b, 1883)
			b = be16(b, len(username))
			b = append(b, 0, 0, 0, 0)
		}
		b = append(b, id...)
		if w.version == 6 {
			b = append(b, username...)
		}
	} else {
		b = pstr(b, id)
		b = be16(b, lastMID)
		if w.version > 2 {
			b = le64(b, 0) // disconnect_t
		}
	}
	return w.chunk(mosqdb.ChunkClient, b)
}

// sample builds a file of the version with a retained message, a
// persistent session "s1" with two subscriptions, a queued QoS 1 message,
// a QoS 2 message in flight (PUBLISH sent, mid 7) and a QoS 1 message in
// flight (mid 8), and an incoming QoS 2 message awaiting PUBREL (mid 3).
func sample(version uint32) []byte {
	w := newBuilder(version).cfg(10, true)
	w.msg(msg{id: 1, sourceID: "pub", sourceUser: "alice", port: 1883, topic: "r/t", qos: 1, retain: true, payload: "kept"})
	w.msg(msg{id: 2, sourceID: "pub", topic: "a/b", qos: 2, payload: "in flight 2"})
	w.msg(msg{id: 3, sourceID: "pub", topic: "a/c", qos: 1, payload: "in flight 1"})
	w.msg(msg{id: 4, sourceID: "pub", topic: "a/d", qos: 1, payload: "queued"})
	w.msg(msg{id: 5, sourceID: "s1", topic: "a/in", qos: 2, payload: "incoming"})
	w.client("s1", "bob", 0, 0xFFFFFFFF, 8)
	w.cmsg(cmsg{client: "s1", id: 5, mid: 3, qos: 2, dir: mosqdb.In, state: mosqdb.StateWaitForPubrel})
	w.cmsg(cmsg{client: "s1", id: 2, mid: 7, qos: 2, dir: mosqdb.Out, state: mosqdb.StateWaitForPubrec})
	w.cmsg(cmsg{client: "s1", id: 3, mid: 8, qos: 1, dir: mosqdb.Out, state: mosqdb.StateWaitForPuback})
	w.cmsg(cmsg{client: "s1", id: 4, mid: 9, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued})
	w.sub("s1", "a/#", 2, 0, 0)
	w.sub("s1", "r/#", 1, 0, 0)
	w.retain(1)
	return w.bytes()
}
