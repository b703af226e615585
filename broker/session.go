package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// identity is who a session's client is and the rules that apply to it.
type identity struct {
	client Client
	sec    *Security
}

// delivery is one message on its way to one session.
type delivery struct {
	seq    uint64 // position in the session's queue order, see collectLocked
	msg    *Message
	qos    byte
	retain bool
	subIDs []uint32
	// group is the shared subscription the message came through, nil for an
	// ordinary subscription; a message of a session that ends unacknowledged
	// is given to another member [MQTT-4.8.2-?] (4.8.2 "SHOULD send ... to
	// another Client").
	group *topic.Group[*session]
}

// inflightState is where an outgoing QoS 1 or 2 message stands.
type inflightState byte

const (
	awaitPuback  inflightState = iota // QoS 1 PUBLISH sent
	awaitPubrec                       // QoS 2 PUBLISH sent
	awaitPubcomp                      // QoS 2 PUBREL sent
)

// inflight is an outgoing QoS 1 or 2 message that holds a packet identifier.
type inflight struct {
	delivery
	id    uint16
	state inflightState
	sent  bool // written on the current connection
	dup   bool // written before: a resend sets DUP [MQTT-3.3.1-1]
	done  bool // acknowledged; removed lazily from the order slice
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
	// expiry is the Session Expiry Interval in seconds (0xFFFFFFFF: never).
	expiry uint32
	// expireTimer ends the session when it stays offline for expiry.
	expireTimer *time.Timer
	// version is the protocol level of the last connection.
	version byte
	// subs are the session's subscriptions, filter (as subscribed) to options.
	subs map[string]topic.Options

	// queue holds deliveries not yet handed to the writer: queue[qhead:].
	queue       []delivery
	qhead       int
	queuedBytes int
	// enqSeq numbers deliveries as they are queued, so that control packets
	// queued after a delivery are written after it (see collectLocked).
	enqSeq uint64

	// order lists in-flight messages in the order they were first sent;
	// byID finds them by packet identifier.
	order         []*inflight
	byID          map[uint16]*inflight
	inflightBytes int
	nextID        uint16

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
	return &session{srv: srv, id: id, subs: make(map[string]topic.Options)}
}

// queueLen returns the number of queued deliveries. s.mu must be held.
func (s *session) queueLen() int { return len(s.queue) - s.qhead }

// inflightLen returns the number of unacknowledged messages. s.mu must be
// held.
func (s *session) inflightLen() int { return len(s.byID) }

// deliver queues d for the session, dropping it if the session cannot take
// it. It never blocks on the network.
func (s *session) deliver(d delivery) {
	lim := &s.srv.lim
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	c := s.conn
	if c == nil && d.qos == 0 && !s.srv.cfg.QueueQoS0Messages {
		s.mu.Unlock()
		return // QoS 0 messages are not queued for offline sessions (3.1.2.4)
	}
	if lim.maxQueued > 0 && s.queueLen() >= lim.maxQueued ||
		lim.maxQueuedBytes > 0 && s.queuedBytes+d.msg.size() > lim.maxQueuedBytes {
		if !s.makeRoomLocked(d) {
			s.dropped++
			n := s.dropped
			s.mu.Unlock()
			s.srv.stats.dropped.Add(1)
			s.srv.logDrop(s.id, n)
			return
		}
		s.srv.stats.dropped.Add(1)
	}
	d.seq = s.enqSeq
	s.enqSeq++
	s.queue = append(s.queue, d)
	s.queuedBytes += d.msg.size()
	s.mu.Unlock()
	if c != nil {
		c.wake()
	}
}

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
		if _, used := s.byID[s.nextID]; !used {
			return s.nextID
		}
	}
}

// addInflightLocked records d as sent with a new packet identifier.
func (s *session) addInflightLocked(d delivery) *inflight {
	if s.byID == nil {
		s.byID = make(map[uint16]*inflight)
	}
	f := &inflight{delivery: d, id: s.allocIDLocked(), sent: true}
	if d.qos == 2 {
		f.state = awaitPubrec
	}
	s.byID[f.id] = f
	s.order = append(s.order, f)
	s.inflightBytes += d.msg.size()
	return f
}

// removeInflightLocked forgets the in-flight message f.
func (s *session) removeInflightLocked(f *inflight) {
	delete(s.byID, f.id)
	f.done = true
	s.inflightBytes -= f.msg.size()
	// Trim acknowledged messages from the front; usually the oldest is acked.
	i := 0
	for i < len(s.order) && s.order[i].done {
		s.order[i] = nil
		i++
	}
	if i > 0 {
		n := copy(s.order, s.order[i:])
		clear(s.order[n:])
		s.order = s.order[:n]
	}
	if len(s.byID) == 0 {
		s.order = s.order[:0]
	}
}

// windowOpenLocked reports whether another QoS 1/2 message of size n may be
// sent on connection c: within the client's Receive Maximum
// [MQTT-3.3.4-9], max_inflight_messages and max_inflight_bytes.
func (s *session) windowOpenLocked(c *conn, n int) bool {
	lim := &s.srv.lim
	inf := s.inflightLen()
	if inf >= int(c.receiveMax) || lim.maxInflight > 0 && inf >= lim.maxInflight {
		return false
	}
	return lim.maxInflightBytes == 0 || inf == 0 || s.inflightBytes+n <= lim.maxInflightBytes
}

// resetForResumeLocked prepares in-flight messages for resending on a new
// connection [MQTT-4.4.0-1]: every one is marked unsent.
func (s *session) resetForResumeLocked() {
	for _, f := range s.order {
		if !f.done {
			f.sent = false
		}
	}
}

// clearStateLocked discards subscriptions' queue and in-flight state, for a
// Clean Start or a session that ends. It returns the deliveries that came
// through shared subscriptions and were not completed, to be offered to
// other members of their groups: the queued ones and the QoS 1 ones in
// flight.
func (s *session) clearStateLocked() (orphans []delivery) {
	for _, f := range s.order {
		if f.done {
			continue
		}
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
	s.queue, s.qhead, s.queuedBytes = nil, 0, 0
	s.order, s.byID, s.inflightBytes = nil, nil, 0
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

// neverExpires is the Session Expiry Interval meaning "never" (3.1.2.11.2).
const neverExpires = 0xFFFFFFFF

// ackInbound handles a PUBACK, PUBREC or PUBCOMP from the client for an
// outgoing message, and reports the reason code to answer a PUBREC with
// (PUBREL) and whether the window opened.
func (s *session) ack(kind packet.Type, id uint16) (found bool) {
	s.mu.Lock()
	f := s.byID[id]
	switch {
	case f == nil:
		found = false
	case kind == packet.TypePuback && f.state == awaitPuback,
		kind == packet.TypePubcomp && f.state == awaitPubcomp:
		s.removeInflightLocked(f)
		found = true
	case kind == packet.TypePubrec && (f.state == awaitPubrec || f.state == awaitPubcomp):
		f.state = awaitPubcomp
		found = true
	}
	c := s.conn
	more := s.queueLen() > 0
	s.mu.Unlock()
	if found && more && c != nil {
		c.wake()
	}
	return found
}
