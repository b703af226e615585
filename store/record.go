package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// Records are a compact binary encoding shared by both stores (the memory
// store keeps encoded records too, so that both behave alike and the
// caller's values are never aliased). Every record starts with a format
// byte: recordV2 for delivery records, recordV1 for the others. Lengths and
// integers are unsigned varints (encoding/binary's Uvarint), times are
// signed varints of Unix nanoseconds and present only when their flag bit
// is set, so a zero time stays zero.
//
//	message   := flags(1) qos(1) str(topic) str(publisher)
//	             [varint(expiry)] [varint(received)] [bytes(properties)] bytes(payload)
//	             flags: 1 retain, 2 properties, 4 expiry, 8 received
//	             properties: the MQTT 5 property section of a PUBLISH as
//	             packet.Append writes it, with its own length prefix
//	retained  := 0x01 message
//	stored    := 0x01 message      (a queued message, by id)
//	refs      := 0x01 uvarint(n)   (n > 0 delivery records name the message)
//	session   := 0x01 version(1) flags(1) uvarint(expiry) uvarint(willDelay)
//	             [varint(offlineSince)] [message(will)] uvarint(n) n*sub
//	             flags: 1 offlineSince, 2 will
//	sub       := str(filter) options(1) uvarint(id)
//	             options: qos | noLocal<<2 | retainAsPublished<<3 | retainHandling<<4
//	delivery  := 0x02 flags(1) qos(1) uvarint(message id) str(group) uvarint(n) n*uvarint(subID)
//	             flags: 1 retain, 2 released (always at offset 1: ReleaseDelivery
//	             flips it without decoding the record)
//	inbound   := 0x01
//	str, bytes := uvarint(len) len*byte
//
// Store format 1 (see FormatVersion) had no message table: its delivery
// records held their message,
//
//	deliveryV1 := 0x01 flags(1) qos(1) str(group) uvarint(n) n*uvarint(subID) message
//
// and OpenBolt rewrites them as format 2 (see upgrade).
//
// The key of a session is its client identifier; queue and inbound keys are
// the client identifier, a 0x00 byte and the big-endian sequence number or
// packet identifier; the key of a stored message and of its reference count
// is its big-endian id. Client identifiers cannot contain NUL, so the keys
// of client "a" (prefix "a\x00") never share a prefix with those of "ab"
// or "a/b", and byte order of the keys is sequence order within a client.

// The format bytes that start records.
const (
	recordV1 = 1 // every record but deliveries; deliveries of store format 1
	recordV2 = 2 // deliveries, which name their message by id
)

// Message flags.
const (
	msgRetain = 1 << iota
	msgProperties
	msgExpiry
	msgReceived
)

// Session flags.
const (
	sessOffline = 1 << iota
	sessWill
	sessSent     // SentUpTo follows the offline time
	sessUser     // Username follows SentUpTo
	sessListener // Listener follows Username
)

// Delivery flags.
const (
	delRetain = 1 << iota
	delReleased
)

// Limits on keys. bbolt refuses keys over 32768 bytes; both stores refuse
// the same, so that they behave alike.
const (
	maxKey      = 32768
	maxClientID = maxKey - 9 // room for 0x00 and a sequence number
	maxTopic    = maxKey
)

// errRecord is the cause wrapped by errors about malformed records.
var errRecord = errors.New("malformed record")

// encoder encodes records. Its scratch buffer is reused between records; an
// encoder is not safe for concurrent use.
type encoder struct {
	scratch []byte
}

// appendMessage appends m encoded as a message.
func (e *encoder) appendMessage(b []byte, m *broker.Message) ([]byte, error) {
	var flags byte
	if m.Retain {
		flags |= msgRetain
	}
	if m.Properties != nil && !m.Properties.Empty() {
		flags |= msgProperties
	}
	if !m.Expiry.IsZero() {
		flags |= msgExpiry
	}
	if !m.Received.IsZero() {
		flags |= msgReceived
	}
	b = append(b, flags, m.QoS)
	b = appendString(b, m.Topic)
	b = appendString(b, m.Publisher)
	if flags&msgExpiry != 0 {
		b = binary.AppendVarint(b, m.Expiry.UnixNano())
	}
	if flags&msgReceived != 0 {
		b = binary.AppendVarint(b, m.Received.UnixNano())
	}
	if flags&msgProperties != 0 {
		props, err := e.properties(m.Properties)
		if err != nil {
			return b, fmt.Errorf("message on %q: %w", m.Topic, err)
		}
		b = appendBytes(b, props)
	}
	return appendBytes(b, m.Payload), nil
}

// properties returns p's property section as packet.Append writes it in an
// MQTT 5 PUBLISH, length prefix included. The result aliases e.scratch.
func (e *encoder) properties(p *packet.Properties) ([]byte, error) {
	pub := packet.Publish{Topic: "x", Properties: *p}
	out, err := packet.Append(e.scratch[:0], &pub, packet.Version5)
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	e.scratch = out
	// Skip the fixed header (type byte, Remaining Length) and the topic
	// ("x" with its two-byte length); QoS 0 has no packet identifier and
	// the payload is empty, so the properties run to the end.
	i := 1
	for i < len(out) && out[i]&0x80 != 0 {
		i++
	}
	i += 1 + 3
	if i > len(out) {
		return nil, errors.New("properties: unexpected PUBLISH encoding")
	}
	return out[i:], nil
}

// appendSession appends s encoded as a session record.
func (e *encoder) appendSession(b []byte, s *broker.StoredSession) ([]byte, error) {
	var flags byte
	if !s.OfflineSince.IsZero() {
		flags |= sessOffline
	}
	if s.Will != nil {
		flags |= sessWill
	}
	if s.SentUpTo != 0 {
		flags |= sessSent
	}
	if s.HasUsername {
		flags |= sessUser
	}
	if s.Listener != "" {
		flags |= sessListener
	}
	b = append(b, recordV1, s.Version, flags)
	b = binary.AppendUvarint(b, uint64(s.Expiry))
	b = binary.AppendUvarint(b, uint64(s.WillDelay))
	if flags&sessOffline != 0 {
		b = binary.AppendVarint(b, s.OfflineSince.UnixNano())
	}
	if flags&sessSent != 0 {
		b = binary.AppendUvarint(b, s.SentUpTo)
	}
	if flags&sessUser != 0 {
		b = appendString(b, s.Username)
	}
	if flags&sessListener != 0 {
		b = appendString(b, s.Listener)
	}
	if s.Will != nil {
		var err error
		if b, err = e.appendMessage(b, s.Will); err != nil {
			return b, fmt.Errorf("will: %w", err)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.Subscriptions)))
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		if sub.QoS > 2 || sub.RetainHandling > 2 {
			return b, fmt.Errorf("subscription %q: QoS %d, Retain Handling %d out of range",
				sub.Filter, sub.QoS, sub.RetainHandling)
		}
		b = appendString(b, sub.Filter)
		opts := sub.QoS | sub.RetainHandling<<4
		if sub.NoLocal {
			opts |= 1 << 2
		}
		if sub.RetainAsPublished {
			opts |= 1 << 3
		}
		b = append(b, opts)
		b = binary.AppendUvarint(b, uint64(sub.ID))
	}
	return b, nil
}

// deliveryFlags returns the flags byte of d's delivery record.
func deliveryFlags(d *broker.StoredDelivery) byte {
	var flags byte
	if d.Retain {
		flags |= delRetain
	}
	if d.Released {
		flags |= delReleased
	}
	return flags
}

// appendDelivery appends d encoded as a delivery record: its message by
// id only.
func appendDelivery(b []byte, d *broker.StoredDelivery) []byte {
	b = append(b, recordV2, deliveryFlags(d), d.QoS)
	b = binary.AppendUvarint(b, d.ID)
	b = appendString(b, d.Group)
	b = binary.AppendUvarint(b, uint64(len(d.SubIDs)))
	for _, id := range d.SubIDs {
		b = binary.AppendUvarint(b, uint64(id))
	}
	return b
}

// deliveryMessageID returns the message id of delivery record rec.
func deliveryMessageID(rec []byte) (uint64, error) {
	if len(rec) < 4 || rec[0] != recordV2 {
		return 0, fmt.Errorf("delivery: %w", errRecord)
	}
	id, n := binary.Uvarint(rec[3:])
	if n <= 0 {
		return 0, fmt.Errorf("delivery: %w: bad message id", errRecord)
	}
	return id, nil
}

// releasedRecord returns a copy of delivery record rec with the Released
// flag set.
func releasedRecord(rec []byte) ([]byte, error) {
	if len(rec) < 3 || rec[0] != recordV2 {
		return nil, fmt.Errorf("delivery: %w", errRecord)
	}
	out := append([]byte(nil), rec...)
	out[1] |= delReleased
	return out, nil
}

// appendRefs appends a reference count record.
func appendRefs(b []byte, n uint64) []byte {
	return binary.AppendUvarint(append(b, recordV1), n)
}

// decodeRefs decodes a reference count record.
func decodeRefs(rec []byte) (uint64, error) {
	d := decoder{b: rec}
	d.version(recordV1)
	n := d.uvarint("reference count")
	return n, d.end()
}

// appendMessageID appends the key of message id.
func appendMessageID(b []byte, id uint64) []byte { return binary.BigEndian.AppendUint64(b, id) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a record. Its first error sticks; every read is bounded by
// the record, so a corrupt record yields an error, never a panic. Nothing
// it returns aliases the record.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errRecord, what)
	}
	d.b = nil
}

func (d *decoder) byte(what string) byte {
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32(what string) uint32 {
	v := d.uvarint(what)
	if v > 0xFFFFFFFF {
		d.fail(what)
		return 0
	}
	return uint32(v)
}

func (d *decoder) time(what string) time.Time {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(0, v)
}

// raw returns the next length-prefixed bytes, aliasing the record.
func (d *decoder) raw(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string(what string) string { return string(d.raw(what)) }

// bytes returns a copy of the next length-prefixed bytes; nil if empty.
func (d *decoder) bytes(what string) []byte {
	s := d.raw(what)
	if len(s) == 0 {
		return nil
	}
	return append([]byte(nil), s...)
}

// version reads the format byte and checks that it is want.
func (d *decoder) version(want byte) {
	if v := d.byte("format byte"); d.err == nil && v != want {
		d.err = fmt.Errorf("%w: unknown record format %d", errRecord, v)
		d.b = nil
	}
}

// end checks that the whole record was read.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("record length")
	}
	return d.err
}

// finish returns v, the value decoded, or the decoder's error if it failed
// or did not use the whole record.
func finish[T any](d *decoder, v *T) (*T, error) {
	if err := d.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// optional reads an optional field: read(what) when set (the record's flag
// for the field is set), else the zero value, reading nothing.
func optional[T any](set bool, read func(what string) T, what string) T {
	if !set {
		var zero T
		return zero
	}
	return read(what)
}

func (d *decoder) message() *broker.Message {
	m := &broker.Message{}
	flags := d.byte("message flags")
	m.Retain = flags&msgRetain != 0
	m.QoS = d.byte("message QoS")
	m.Topic = d.string("message topic")
	m.Publisher = d.string("message publisher")
	m.Expiry = optional(flags&msgExpiry != 0, d.time, "message expiry")
	m.Received = optional(flags&msgReceived != 0, d.time, "message received time")
	if flags&msgProperties != 0 {
		raw := d.raw("message properties")
		if d.err == nil {
			p, err := decodeProperties(raw)
			switch {
			case err != nil:
				d.err = fmt.Errorf("%w: message properties: %w", errRecord, err)
				d.b = nil
			case p.Empty():
				// The flag is set only for a set that is not empty, so
				// that nil and empty sets read back alike.
				d.fail("message properties")
			}
			m.Properties = p
		}
	}
	m.Payload = d.bytes("message payload")
	if flags&^(msgRetain|msgProperties|msgExpiry|msgReceived) != 0 {
		d.fail("message flags")
	}
	return m
}

// decodeProperties decodes a property section written by
// encoder.properties, through packet's PUBLISH decoder.
func decodeProperties(raw []byte) (*packet.Properties, error) {
	body := make([]byte, 0, 3+len(raw))
	body = append(body, 0, 1, 'x')
	body = append(body, raw...)
	var pub packet.Publish
	if err := pub.Decode(0, body, packet.Version5); err != nil {
		return nil, err
	}
	if len(pub.Payload) != 0 {
		return nil, errors.New("bytes after the properties")
	}
	p := pub.Properties
	return &p, nil
}

// decodeMessage decodes a retained or stored message record.
func decodeMessage(rec []byte) (*broker.Message, error) {
	d := decoder{b: rec}
	d.version(recordV1)
	m := d.message()
	return finish(&d, m)
}

// decodeSession decodes a session record of clientID.
func decodeSession(clientID string, rec []byte) (*broker.StoredSession, error) {
	d := decoder{b: rec}
	d.version(recordV1)
	s := &broker.StoredSession{ClientID: clientID}
	s.Version = d.byte("session version")
	flags := d.byte("session flags")
	s.Expiry = d.uint32("session expiry")
	s.WillDelay = d.uint32("will delay")
	s.OfflineSince = optional(flags&sessOffline != 0, d.time, "offline time")
	s.SentUpTo = optional(flags&sessSent != 0, d.uvarint, "sent up to")
	s.HasUsername = flags&sessUser != 0
	s.Username = optional(s.HasUsername, d.string, "user name")
	s.Listener = optional(flags&sessListener != 0, d.string, "listener")
	if flags&sessWill != 0 {
		s.Will = d.message()
	}
	if flags&^(sessOffline|sessWill|sessSent|sessUser|sessListener) != 0 {
		d.fail("session flags")
	}
	n := d.uvarint("subscription count")
	if n > uint64(len(d.b))/3 { // a subscription takes at least 3 bytes
		d.fail("subscription count")
	}
	if n > 0 && d.err == nil {
		s.Subscriptions = make([]broker.StoredSubscription, n)
		for i := range s.Subscriptions {
			sub := &s.Subscriptions[i]
			sub.Filter = d.string("subscription filter")
			opts := d.byte("subscription options")
			sub.QoS = opts & 3
			sub.NoLocal = opts&(1<<2) != 0
			sub.RetainAsPublished = opts&(1<<3) != 0
			sub.RetainHandling = opts >> 4 & 3
			sub.ID = d.uint32("subscription identifier")
			if opts&0xC0 != 0 || sub.QoS > 2 || sub.RetainHandling > 2 {
				d.fail("subscription options")
			}
		}
	}
	return finish(&d, s)
}

// decodeDelivery decodes a delivery record with sequence number seq. The
// StoredDelivery has ID set and Msg nil.
func decodeDelivery(seq uint64, rec []byte) (*broker.StoredDelivery, error) {
	d := decoder{b: rec}
	d.version(recordV2)
	sd := d.deliveryFields(seq, true)
	return finish(&d, sd)
}

// decodeDeliveryV1 decodes a delivery record of store format 1, which holds
// its message; the StoredDelivery's ID is 0.
func decodeDeliveryV1(seq uint64, rec []byte) (*broker.StoredDelivery, error) {
	d := decoder{b: rec}
	d.version(recordV1)
	sd := d.deliveryFields(seq, false)
	sd.Msg = d.message()
	return finish(&d, sd)
}

// deliveryFields decodes the fields of a delivery record after its format
// byte, the message id only if withID.
func (d *decoder) deliveryFields(seq uint64, withID bool) *broker.StoredDelivery {
	sd := &broker.StoredDelivery{Seq: seq}
	flags := d.byte("delivery flags")
	sd.Retain = flags&delRetain != 0
	sd.Released = flags&delReleased != 0
	sd.QoS = d.byte("delivery QoS")
	if withID {
		if sd.ID = d.uvarint("message id"); sd.ID == 0 {
			d.fail("message id")
		}
	}
	sd.Group = d.string("delivery group")
	n := d.uvarint("subscription identifier count")
	if n > uint64(len(d.b)) {
		d.fail("subscription identifier count")
	}
	if n > 0 && d.err == nil {
		sd.SubIDs = make([]uint32, n)
		for i := range sd.SubIDs {
			sd.SubIDs[i] = d.uint32("subscription identifier")
		}
	}
	if flags&^(delRetain|delReleased) != 0 {
		d.fail("delivery flags")
	}
	return sd
}

// prefixKey returns the prefix of clientID's queue and inbound keys.
func prefixKey(clientID string) []byte {
	return append([]byte(clientID), 0)
}

// appendQueueKey appends the queue key of delivery seq of clientID.
func appendQueueKey(b []byte, clientID string, seq uint64) []byte {
	b = append(b, clientID...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, seq)
}

// appendInboundKey appends the inbound key of packetID of clientID.
func appendInboundKey(b []byte, clientID string, packetID uint16) []byte {
	b = append(b, clientID...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint16(b, packetID)
}

// splitInboundKey splits an inbound key into client identifier and packet
// identifier.
func splitInboundKey(k []byte) (string, uint16, bool) {
	n := len(k) - 3
	if n < 0 || k[n] != 0 {
		return "", 0, false
	}
	return string(k[:n]), binary.BigEndian.Uint16(k[n+1:]), true
}

// seqOf returns the sequence number at the end of a queue key.
func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// pidOf returns the packet identifier at the end of an inbound key.
func pidOf(k []byte) uint16 { return binary.BigEndian.Uint16(k[len(k)-2:]) }

// messageCache shares one decoded *Message between consecutive deliveries
// of a message within one LoadQueue call: a session's deliveries of one
// message (overlapping subscriptions with allow_duplicate_messages) are
// queued one after another. Keeping every message decoded in the call
// would cost a map entry for each, for a rare gain.
type messageCache struct {
	lastID uint64
	last   *broker.Message
}

// get returns the message decoded last if its id is id, else nil.
func (c *messageCache) get(id uint64) *broker.Message {
	if id == c.lastID {
		return c.last
	}
	return nil
}

// decode decodes the stored message record rec of id and keeps the
// message for get. A nil rec is a message missing from the store.
func (c *messageCache) decode(id uint64, rec []byte) (*broker.Message, error) {
	if rec == nil {
		return nil, fmt.Errorf("%w: message %d missing", errRecord, id)
	}
	m, err := decodeMessage(rec)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", id, err)
	}
	c.lastID, c.last = id, m
	return m, nil
}
