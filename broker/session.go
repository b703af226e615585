package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/smallmap"
	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/internal/window"
	"github.com/midge-mqtt/midge/packet"
)

// identity is who a session's client is and the rules that apply to it.
type identity struct {
	client Client
	sec    *Security
}

// delivery is one message on its way to one session: 40 bytes, as
// queues of them are most of an offline session's memory.
type delivery struct {
	msg *Message
	// QoS 1 and 2 deliveries are numbered by storeSeq when they are queued
	// (and, with a Store, QoS 0 ones queued for an offline persistent
	// session): it gives their packet identifier (packetIDFor), as
	// Mosquitto assigns one when it queues a message, and for a persistent
	// session it is their key in the store, so that after a restart they
	// are resent with the same identifier.
	storeSeq uint64
	// group is the shared subscription the message came through, nil for an
	// ordinary subscription; a message of a session that ends unacknowledged
	// is given to another member [MQTT-4.8.2-?] (4.8.2 "SHOULD send ... to
	// another Client").
	group *topic.Group[*session]
	// seq is the low 32 bits of the delivery's position in the session's
	// queue order (session.enqSeq, see seqOf and collectLocked).
	seq uint32
	// subID is the Subscription Identifier of the subscription it came
	// through, 0 for none: midge sends at most one (route); an array, so
	// that the writer passes it to the encoder without allocating.
	subID    [1]uint32
	qos      byte
	retain   bool
	seqID    bool // storeSeq is set
	stored   bool // written to the store
	released bool // loaded from the store after its PUBREC: resend PUBREL
	dup      bool // loaded from the store and sent before: set DUP
	// maybeSent marks a delivery loaded from the store of a session that
	// was connected when the broker stopped without a clean shutdown: it
	// may have been sent, so DUP is set ("might be re-delivery", 3.3.1.1),
	// but unlike dup it does not exempt the message from expiry.
	maybeSent bool
	// onSubscribe marks a retained message sent for a new subscription:
	// every one must be sent [MQTT-3.3.1-9], so max_queued_messages does
	// not apply.
	onSubscribe bool
}

// inflightState is where an outgoing QoS 1 or 2 message stands.
type inflightState byte

const (
	awaitPuback  inflightState = iota // QoS 1 PUBLISH sent
	awaitPubrec                       // QoS 2 PUBLISH sent
	awaitPubcomp                      // QoS 2 PUBREL sent
)

// inflight is an outgoing QoS 1 or 2 message that holds a packet
// identifier (its key in session.flight).
type inflight struct {
	delivery
	state inflightState
	sent  bool // written on the current connection
	dup   bool // written before: a resend sets DUP [MQTT-3.3.1-1]
}

// session is the server's state for one client identifier. It outlives
// connections when the client asks for a persistent session.
//
// Lock order: Server.mu before session.mu; no code holds two sessions' locks.
type session struct {
	srv *Server
	id  string

	subCount atomic.Int32 // subscriptions held; read without mu when routing
	// ident describes the last connection, for authorizing deliveries.
	ident atomic.Pointer[identity]

	mu sync.Mutex // guards all fields below
	// conn is the connection attached, nil while offline.
	conn *conn
	// ended is set when the session is discarded; deliveries are refused.
	ended bool
	// exported is set with ended by ExportSession: the session goes on on
	// another server, and its stored deliveries stay in the store until
	// DropExported.
	exported bool
	// expiry is the Session Expiry Interval in seconds (0xFFFFFFFF: never).
	expiry uint32
	// expireTimer ends the session when it stays offline for expiry.
	expireTimer *time.Timer
	// version is the protocol level of the last connection.
	version byte
	// subs are the session's subscriptions, filter (as subscribed) to options.
	subs subSet

	// queue holds deliveries not yet handed to the writer: queue[qhead:].
	queue       []delivery
	qhead       int
	queuedBytes int
	// enqSeq numbers deliveries as they are queued, so that control packets
	// queued after a delivery are written after it (see collectLocked).
	enqSeq uint64

	// flight holds the in-flight messages by value, by packet identifier,
	// in the order they were first sent.
	flight        window.Table[inflight]
	inflightBytes int
	nextID        uint16

	// storeSeq is the next delivery sequence number (see delivery). With
	// a Store: storedQueued counts deliveries stored while offline (they
	// are not in memory); sentUpTo is the highest storeSeq written to the client, for
	// DUP after a reconnect; loading is set while a resumed session's queue
	// is read back from the store.
	storeSeq     uint64
	storedQueued int
	sentUpTo     uint64
	loading      bool
	inStore      bool // a record of the session has been written to the store
	// crashed is set for a session restored from a record written while it
	// was connected (the broker stopped without a clean shutdown): what was
	// sent before is unknown, and the next reload marks its deliveries
	// maybeSent.
	crashed bool

	// loadWait holds the stored deliveries that arrive while loading: the
	// reload adds those it did not read from the store.
	loadWait []delivery

	// inboundQoS2 holds the packet identifiers of QoS 2 PUBLISHes received
	// whose PUBREL has not arrived: a PUBLISH with one of them is a
	// retransmission and is not delivered again [MQTT-4.3.3-9 (v5)].
	inboundQoS2 map[uint16]struct{}

	// will is the will of the last connection, pending publication when
	// willTimer is set.
	will      *Message
	willDelay uint32
	willTimer *time.Timer

	dropped uint64 // messages dropped for this session (queue full, too large)
}

func newSession(srv *Server, id string) *session {
	return &session{srv: srv, id: id}
}

// queueLen returns the number of queued deliveries. s.mu must be held.
func (s *session) queueLen() int { return len(s.queue) - s.qhead }

// deliver queues d for the session, dropping it if the session cannot take
// it. It never blocks on the network. With a Store, a QoS 1 or 2 delivery to
// a persistent session is written to it (without waiting) unless it was
// already.
func (s *session) deliver(d delivery) { s.deliverAll([]delivery{d}) }

// deliverAll queues ds in order under one hold of s.mu, so that no
// delivery routed meanwhile (a live message) lands between them, and wakes
// the writer once.
func (s *session) deliverAll(ds []delivery) {
	if len(ds) == 0 {
		return
	}
	s.mu.Lock()
	queued := s.queueLen() > 0
	var wake *conn
	for i := range ds {
		if c, ok := s.enqueueLocked(&ds[i]); ok && c != nil {
			wake = c
		}
	}
	if wake != nil && queued && s.headBlockedLocked(wake) {
		wake = nil // the acknowledgement that opens the window wakes the writer
	}
	s.mu.Unlock()
	if wake != nil {
		wake.wake()
	}
}

// headBlockedLocked reports whether the first queued delivery waits for
// the in-flight window of connection c. s.mu must be held.
func (s *session) headBlockedLocked(c *conn) bool {
	if s.queueLen() == 0 {
		return false
	}
	head := &s.queue[s.qhead]
	return head.qos > 0 && !s.windowOpenLocked(c, head)
}

// enqueueLocked queues d: in memory for a connected session, in the store
// only for an offline persistent one. It returns the connection to wake and
// whether d was taken. s.mu must be held.
func (s *session) enqueueLocked(d *delivery) (*conn, bool) {
	lim := s.srv.opt()
	if s.ended {
		if d.stored && !s.exported {
			s.srv.commit.add(func(b *Batch) { b.DeleteDelivery(s.id, d.storeSeq) }, nil)
		}
		return nil, false
	}
	c := s.conn
	persistent := s.persistentLocked()
	if c == nil && d.qos == 0 && !s.srv.queuesQoS0(s.id) {
		return nil, false // QoS 0 messages are not queued for offline sessions (3.1.2.4)
	}
	if (d.qos > 0 || persistent && c == nil) && !d.seqID {
		// The packet identifier is given now, when the message is queued,
		// as Mosquitto gives it (packetIDFor).
		d.storeSeq, d.seqID = s.storeSeq, true
		s.storeSeq++
	}
	if c == nil && persistent {
		// Offline with a Store: the queue lives on disk only.
		if !d.stored {
			if lim.maxQueued > 0 && s.storedQueued >= lim.maxQueued {
				s.dropLocked()
				return nil, false
			}
			s.storeDeliveryLocked(d)
		}
		s.storedQueued++
		return nil, true
	}
	if c != nil && s.loading {
		// While the queue is read back from the store, what is routed to
		// the session waits behind it, stored or not, so that nothing
		// overtakes an older message [MQTT-4.6.0-6]. Committed before the
		// reload's fence, the reload reads it from the store; after, it
		// does not: it keeps the copies it did not read (reload).
		if !d.seqID {
			d.storeSeq, d.seqID = s.storeSeq, true // its place in the order
			s.storeSeq++
		}
		s.loadWait = append(s.loadWait, *d)
		return nil, true
	}
	if !d.onSubscribe && (lim.maxQueued > 0 && s.queueLen() >= lim.maxQueued ||
		lim.maxQueuedBytes > 0 && s.queuedBytes+d.msg.size() > lim.maxQueuedBytes) {
		if !s.makeRoomLocked(*d) {
			s.dropLocked()
			if d.stored {
				s.srv.commit.add(func(b *Batch) { b.DeleteDelivery(s.id, d.storeSeq) }, nil)
			}
			return nil, false
		}
		s.srv.stats.Dropped.Add(1)
	}
	if persistent && d.seqID && !d.stored && storable(d.msg.Topic) {
		s.storeDeliveryLocked(d)
	}
	d.seq = uint32(s.enqSeq)
	s.enqSeq++
	s.queue = append(s.queue, *d)
	s.queuedBytes += d.msg.size()
	return c, true
}

// seqOf returns queued delivery d's position: d.seq with the high bits of
// enqSeq (fewer than 2^31 deliveries are queued). s.mu must be held.
func (s *session) seqOf(d *delivery) uint64 { return s.enqSeq - uint64(uint32(s.enqSeq)-d.seq) }

// dropLocked counts a delivery dropped because the session's queue is full.
func (s *session) dropLocked() {
	s.dropped++
	s.srv.stats.Dropped.Add(1)
	s.srv.logDrop(s.id, s.dropped)
}

// forgetStoredLocked deletes d from the store, if it is there, without
// waiting. s.mu must be held.
func (s *session) forgetStoredLocked(d *delivery) {
	if d.stored {
		seq := d.storeSeq
		s.srv.commit.add(func(b *Batch) { b.DeleteDelivery(s.id, seq) }, nil)
	}
}

// storeDeliveryLocked writes d to the store without waiting. s.mu must be
// held.
func (s *session) storeDeliveryLocked(d *delivery) {
	d.stored = true
	sd := d.record()
	s.srv.commit.add(func(b *Batch) { b.PutDelivery(s.id, sd) }, nil)
}

// record returns the store record of d.
func (d *delivery) record() *StoredDelivery {
	sd := &StoredDelivery{Seq: d.storeSeq, Msg: d.msg, QoS: d.qos, Retain: d.retain}
	if d.subID[0] != 0 {
		sd.SubIDs = []uint32{d.subID[0]} // a copy: d's memory is reused
	}
	if d.group != nil {
		sd.Group = d.group.Filter()
	}
	return sd
}

// packetIDFor returns the packet identifier a persistent delivery with
// store sequence number seq uses: derived from seq, so it is the same after
// a restart.
func packetIDFor(seq uint64) uint16 { return uint16(seq%65535) + 1 }

// makeRoomLocked drops the oldest queued QoS 0 message to make room for d, a
// QoS 1 or 2 message, and reports whether it did: overflow drops QoS 0 first.
func (s *session) makeRoomLocked(d delivery) bool {
	if d.qos == 0 {
		return false
	}
	for i := s.qhead; i < len(s.queue); i++ {
		if s.queue[i].qos == 0 {
			s.queuedBytes -= s.queue[i].msg.size()
			copy(s.queue[i:], s.queue[i+1:])
			s.queue[len(s.queue)-1] = delivery{}
			s.queue = s.queue[:len(s.queue)-1]
			s.dropped++
			return true
		}
	}
	return false
}

// popLocked removes and returns the first queued delivery.
func (s *session) popLocked() delivery {
	d := s.queue[s.qhead]
	s.queue[s.qhead] = delivery{}
	s.qhead++
	s.queuedBytes -= d.msg.size()
	if s.qhead == len(s.queue) {
		s.queue, s.qhead = s.queue[:0], 0
		if cap(s.queue) > 1024 {
			s.queue = nil // give back a burst's memory
		}
	} else if s.qhead > 64 && s.qhead > len(s.queue)/2 {
		n := copy(s.queue, s.queue[s.qhead:])
		clear(s.queue[n:])
		s.queue, s.qhead = s.queue[:n], 0
	}
	return d
}

// allocIDLocked returns a free packet identifier.
func (s *session) allocIDLocked() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if s.flight.Get(s.nextID) == nil {
			return s.nextID
		}
	}
}

// addInflightLocked records d as sent with a new packet identifier, which
// it returns with the record (valid until the session's in-flight messages
// change).
func (s *session) addInflightLocked(d delivery) (*inflight, uint16) {
	id := packetIDFor(d.storeSeq)
	if !d.seqID {
		id = s.allocIDLocked()
	}
	f := s.flight.Add(id, inflight{delivery: d, sent: true})
	if d.qos == 2 {
		f.state = awaitPubrec
	}
	if d.released {
		f.state = awaitPubcomp
	}
	if d.seqID && d.storeSeq >= s.sentUpTo {
		s.sentUpTo = d.storeSeq + 1
	}
	s.inflightBytes += d.msg.size()
	return f, id
}

// removeInflightLocked forgets the in-flight message id, if any.
func (s *session) removeInflightLocked(id uint16) {
	if f := s.flight.Get(id); f != nil {
		s.inflightBytes -= f.msg.size()
		s.flight.Remove(id)
	}
}

// windowOpenLocked reports whether another QoS 1/2 delivery d may be sent on
// connection c: within the client's Receive Maximum [MQTT-3.3.4-9],
// max_inflight_messages and max_inflight_bytes, and, for a delivery whose
// packet identifier derives from its store sequence, once that identifier
// is free.
func (s *session) windowOpenLocked(c *conn, d *delivery) bool {
	lim := s.srv.opt()
	n := d.msg.size()
	if d.seqID {
		if s.flight.Get(packetIDFor(d.storeSeq)) != nil {
			return false
		}
	}
	inf := s.flight.Len()
	if inf >= int(c.receiveMax) || lim.maxInflight > 0 && inf >= lim.maxInflight {
		return false
	}
	return lim.maxInflightBytes == 0 || inf == 0 || s.inflightBytes+n <= lim.maxInflightBytes
}

// resetForResumeLocked prepares in-flight messages for resending on a new
// connection [MQTT-4.4.0-1]: every one is marked unsent.
func (s *session) resetForResumeLocked() {
	for _, f := range s.flight.All {
		f.sent = false
	}
}

// clearStateLocked discards subscriptions' queue and in-flight state, for a
// Clean Start or a session that ends. It returns the deliveries that came
// through shared subscriptions and were not completed, to be offered to
// other members of their groups: the queued ones and the QoS 1 ones in
// flight.
func (s *session) clearStateLocked() (orphans []delivery) {
	for _, f := range s.flight.All {
		// A QoS 2 message whose delivery started is completed with this
		// client or not at all [MQTT-4.8.2-4], [MQTT-4.8.2-5].
		if f.group != nil && f.qos < 2 {
			orphans = append(orphans, f.delivery)
		}
	}
	for i := s.qhead; i < len(s.queue); i++ {
		if d := s.queue[i]; d.group != nil {
			orphans = append(orphans, d)
		}
	}
	for _, d := range s.loadWait {
		if d.group != nil {
			orphans = append(orphans, d)
		}
	}
	s.queue, s.qhead, s.queuedBytes = nil, 0, 0
	s.flight.Reset()
	s.inflightBytes = 0
	s.loadWait = nil
	s.inboundQoS2 = nil
	return orphans
}

// stopTimersLocked stops the expiry and will timers.
func (s *session) stopTimersLocked() {
	if s.expireTimer != nil {
		s.expireTimer.Stop()
		s.expireTimer = nil
	}
	if s.willTimer != nil {
		s.willTimer.Stop()
		s.willTimer = nil
	}
}

// online reports whether a connection is attached; used to pick a shared
// subscription member.
func (s *session) online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && !s.ended
}

// Outcomes of receive.
const (
	qos2New  = iota // a new message: deliver it
	qos2Dup         // a QoS 2 retransmission of one received: acknowledge, do not deliver
	qos2Full        // more unacknowledged than limit
)

// receive admits a QoS 1 or 2 PUBLISH the client sent: it says whether
// the message is new, a QoS 2 retransmission, or one too many for limit (0
// for none) with the QoS 2 messages awaiting PUBREL and acking, the QoS 1
// messages not yet acknowledged [MQTT-3.3.4-7]. It notes the packet
// identifier of a new QoS 2 message until its PUBREL.
func (s *session) receive(qos byte, id uint16, limit, acking int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.inboundQoS2[id]; dup && qos == 2 {
		return qos2Dup
	}
	if limit > 0 && len(s.inboundQoS2)+acking >= limit {
		return qos2Full
	}
	if qos == 2 {
		if s.inboundQoS2 == nil {
			s.inboundQoS2 = make(map[uint16]struct{})
		}
		s.inboundQoS2[id] = struct{}{}
	}
	return qos2New
}

// forgetQoS2 ends the flow of an inbound QoS 2 message that was refused.
func (s *session) forgetQoS2(id uint16) {
	s.mu.Lock()
	delete(s.inboundQoS2, id)
	s.mu.Unlock()
}

// neverExpires is the Session Expiry Interval meaning "never" (3.1.2.11.2).
const neverExpires = 0xFFFFFFFF

// ack handles a PUBACK, PUBREC or PUBCOMP from the client for an outgoing
// message and reports whether the packet identifier was in flight in the
// right state. A PUBACK or PUBCOMP ends the flow (and deletes a stored
// delivery, without waiting); for a PUBREC the caller sends PUBREL, after
// release has made the new state durable for a stored delivery.
func (s *session) ack(kind packet.Type, id uint16) (found, release bool, seq uint64, err error) {
	s.mu.Lock()
	f := s.flight.Get(id)
	switch {
	case f == nil:
	case wrongAck(kind, f.state):
		err = &packet.Error{Code: packet.ProtocolError, Reason: fmt.Sprintf("%v for a message in flight at QoS %d", kind, 1+b2i(f.state != awaitPuback))}
	case kind == packet.TypePuback && f.state == awaitPuback,
		kind == packet.TypePubcomp && f.state == awaitPubcomp:
		s.forgetStoredLocked(&f.delivery)
		s.removeInflightLocked(id)
		found = true
	case kind == packet.TypePubrec && (f.state == awaitPubrec || f.state == awaitPubcomp):
		f.state = awaitPubcomp
		found = true
		release, seq = f.stored, f.storeSeq
	}
	c := s.conn
	more := s.queueLen() > 0
	s.mu.Unlock()
	if found && more && c != nil {
		c.wake()
	}
	return found, release, seq, err
}

// wrongAck reports whether an acknowledgement of kind is of the wrong type
// for a message in flight in state: PUBREC or PUBCOMP for QoS 1, PUBACK or
// a PUBCOMP before PUBREC for QoS 2 (4.3.2, 4.3.3). Mosquitto closes the
// connection, and so does midge.
func wrongAck(kind packet.Type, state inflightState) bool {
	switch state {
	case awaitPuback:
		return kind == packet.TypePubrec || kind == packet.TypePubcomp
	case awaitPubrec:
		return kind == packet.TypePuback || kind == packet.TypePubcomp
	default:
		return kind == packet.TypePuback
	}
}

// subOptions converts a stored subscription to index options.
func subOptions(sub StoredSubscription) topic.Options {
	return topic.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
		RetainHandling: sub.RetainHandling, ID: sub.ID}
}

// subSet is a session's subscriptions by filter: most sessions hold a few,
// so it is a slice until it grows, then a map (see internal/smallmap).
type subSet struct {
	m smallmap.Map[topic.Options, smallmap.ForMemory]
}

func (ss *subSet) set(filter string, o topic.Options)                  { ss.m.Set(filter, o) }
func (ss *subSet) delete(filter string)                                { ss.m.Delete(filter) }
func (ss *subSet) len() int                                            { return ss.m.Len() }
func (ss *subSet) all(yield func(filter string, o topic.Options) bool) { ss.m.All(yield) }

// prepareDurable gives d its store sequence number and, for a persistent
// session, marks it stored, for publishDurable to write. It reports whether
// d may be delivered before the commit: not at QoS 2, nor when it is stored
// for an offline session.
func (s *session) prepareDurable(d *delivery) (early bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	early = d.qos < 2
	if s.ended || !s.persistentLocked() || !storable(d.msg.Topic) {
		return early
	}
	if d.qos == 0 && (s.conn != nil || !s.srv.queuesQoS0(s.id)) {
		return early
	}
	if s.conn == nil && s.srv.opt().maxQueued > 0 && s.storedQueued >= s.srv.opt().maxQueued {
		return early // full: deliver will drop and count it
	}
	d.storeSeq, d.seqID, d.stored = s.storeSeq, true, true
	s.storeSeq++
	// Offline, nothing is sent early anyway; delivered after its commit,
	// the message cannot reach a reconnect's reload both from the store
	// and late through deliver, which would send it twice: the reload is a
	// fence, after every earlier commit's completion.
	return early && s.conn != nil
}

// abandonDurable undoes prepareDurable after a failed commit.
func (s *session) abandonDurable(d *delivery) {
	d.stored = false
}

// offloadLocked drops the queue and in-flight messages of a persistent
// session going offline: they are in the store, and a session waiting for
// its client should cost little memory. It counts the stored deliveries for
// max_queued_messages. s.mu must be held.
func (s *session) offloadLocked() {
	n := 0
	for _, f := range s.flight.All {
		if f.stored {
			n++
		}
	}
	for i := s.qhead; i < len(s.queue); i++ {
		if s.queue[i].stored {
			n++
		}
	}
	for i := range s.loadWait {
		d := &s.loadWait[i]
		if !d.stored && (d.qos > 0 || s.srv.queuesQoS0(s.id)) && storable(d.msg.Topic) {
			s.storeDeliveryLocked(d) // routed during a reload that never ran
		}
		if d.stored {
			n++
		}
	}
	s.storedQueued = n
	s.loadWait = nil
	s.queue, s.qhead, s.queuedBytes = nil, 0, 0
	s.flight.Reset()
	s.inflightBytes = 0
}

// endLocked marks s ended and clears its state, returning the shared
// subscription deliveries to offer elsewhere. The caller removes s from the
// index (outside s.mu) and from srv.sessions. s.mu must be held.
func (s *session) endLocked() []delivery {
	s.ended = true
	s.stopTimersLocked()
	orphans := s.clearStateLocked()
	s.subs = subSet{}
	s.subCount.Store(0)
	return orphans
}

// persistent reports whether session s is kept in the store: a store is
// configured and the session outlives its connection. s.mu must be held.
func (s *session) persistentLocked() bool {
	return s.srv.commit != nil && s.expiry > 0 && len(s.id) <= maxStoredKey
}

// storedSessionLocked returns the record of s. s.mu must be held.
func (s *session) storedSessionLocked(offline time.Time, will *Message, willDelay uint32) *StoredSession {
	ss := &StoredSession{ClientID: s.id, Version: s.version, Expiry: s.expiry, OfflineSince: offline,
		Will: will, WillDelay: willDelay, SentUpTo: s.sentUpTo}
	if id := s.ident.Load(); id != nil {
		ss.Username, ss.HasUsername, ss.Listener = id.client.Username, id.client.HasUsername, id.client.Listener
	}
	for f, o := range s.subs.all {
		ss.Subscriptions = append(ss.Subscriptions, StoredSubscription{Filter: f, QoS: o.QoS, NoLocal: o.NoLocal,
			RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, ID: o.ID})
	}
	return ss
}
