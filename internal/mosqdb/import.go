package mosqdb

import (
	"context"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// Imported counts what Import wrote, and what it left out.
type Imported struct {
	Retained      int // retained messages
	Sessions      int // persistent sessions
	Subscriptions int
	Queued        int // outgoing messages not yet sent
	InFlight      int // outgoing QoS 1/2 messages sent and not yet acknowledged, with their packet ids
	Incoming      int // incoming QoS 2 messages not yet released, delivered and their packet ids kept
	// Expired counts messages (and the deliveries of them) left out because
	// they had expired; Mosquitto drops them on loading too.
	Expired int
	// Dropped counts records left out because they name nothing (a client
	// message whose message is not in the file, a retained message id that
	// is not) or hold what MQTT does not allow (an invalid topic or
	// filter); Mosquitto skips the former too.
	Dropped int
}

// String returns the counts as a sentence for the log.
func (n Imported) String() string {
	return fmt.Sprintf("%d retained messages, %d sessions with %d subscriptions, %d queued messages, "+
		"%d in-flight messages, %d incoming QoS 2 messages (%d expired and %d unusable records left out)",
		n.Retained, n.Sessions, n.Subscriptions, n.Queued, n.InFlight, n.Incoming, n.Expired, n.Dropped)
}

// ImportOptions are the options of Import.
type ImportOptions struct {
	// MaxID is the highest message id the store holds (Loader.MaxMessageID):
	// the imported messages are numbered above it.
	MaxID uint64
	// Now is the time of the import: messages that expired before it are
	// left out. Zero means time.Now().
	Now time.Time
	// Listener, if set, names the listener (broker.Listener.Name) a session
	// last connected to from the port Mosquitto recorded (version 6), so
	// that per-listener security applies to it; "" if none matches.
	Listener func(port uint16) string
}

// Import writes the state in f into s in one synced Commit, so that the
// broker loads it at start-up as if it were its own:
//
//   - each RETAIN chunk's message becomes a retained message;
//   - each CLIENT (and each client named only by SUB or CLIENT_MSG chunks,
//     as Mosquitto does) becomes a persistent session with its username,
//     session expiry interval and the time it went offline (from its
//     expiry time), and its SUB chunks become its subscriptions with QoS,
//     No Local, Retain As Published and subscription identifier;
//   - its outgoing CLIENT_MSG chunks become its queue, in file order: those
//     Mosquitto had sent and not seen acknowledged (waiting for PUBACK,
//     PUBREC or PUBCOMP) keep their packet identifier, are resent with DUP
//     set, and a QoS 2 message whose PUBREC had arrived continues with
//     PUBREL; the others are queued;
//   - its incoming QoS 2 messages whose PUBREL had not arrived are
//     delivered, as Mosquitto would have done on PUBREL, to the imported
//     sessions whose subscriptions match (and retained if they were), and
//     their packet identifiers are kept so that the client's PUBREL is
//     answered.
//
// Messages that expired before now are left out. Mosquitto does not record
// a session's protocol version: a session is recorded as MQTT 5 when its
// expiry interval or subscriptions use MQTT 5 features, else as 3.1.1; the
// client's next CONNECT replaces it.
func Import(ctx context.Context, s broker.Store, f *File, o ImportOptions) (Imported, error) {
	var n Imported
	maxID, now := o.MaxID, o.Now
	if now.IsZero() {
		now = time.Now()
	}
	msgs := map[uint64]*broker.Message{}
	ids := map[uint64]uint64{} // Mosquitto store id → midge message id
	expired := map[uint64]bool{}
	sessions := map[string]*session{}
	var order []string
	sess := func(id string) *session {
		ss := sessions[id]
		if ss == nil {
			ss = &session{rec: &broker.StoredSession{ClientID: id, Version: packet.Version311, Expiry: 0xFFFFFFFF, OfflineSince: now}}
			sessions[id] = ss
			order = append(order, id)
		}
		return ss
	}
	var retained []*broker.Message
	var incoming []*ClientMsg
	for _, c := range f.Chunks {
		switch {
		case c.BaseMsg != nil:
			m := c.BaseMsg
			if m.ExpiryTime > 0 && m.ExpiryTime <= now.Unix() {
				expired[m.StoreID] = true
				n.Expired++
				continue
			}
			msgs[m.StoreID] = message(m, now)
			maxID++
			ids[m.StoreID] = maxID
		case c.Client != nil:
			cl := c.Client
			ss := sess(cl.ClientID)
			ss.rec.Username, ss.rec.HasUsername = cl.Username, cl.Username != ""
			if cl.ListenerPort != 0 && o.Listener != nil {
				ss.rec.Listener = o.Listener(cl.ListenerPort)
			}
			ss.rec.Expiry = cl.SessionExpiryInterval
			if cl.SessionExpiryInterval != 0xFFFFFFFF && cl.SessionExpiryInterval != 0 {
				ss.rec.Version = packet.Version5
			}
			if cl.SessionExpiryTime > 0 && cl.SessionExpiryInterval != 0xFFFFFFFF {
				ss.rec.OfflineSince = time.Unix(cl.SessionExpiryTime-int64(cl.SessionExpiryInterval), 0)
			}
		case c.Sub != nil:
			sub := c.Sub
			if topic.ValidFilter(sub.Topic) != nil {
				n.Dropped++
				continue
			}
			ss := sess(sub.ClientID)
			ss.rec.Subscriptions = append(ss.rec.Subscriptions, broker.StoredSubscription{
				Filter: sub.Topic, QoS: sub.QoS, NoLocal: sub.NoLocal(), RetainAsPublished: sub.RetainAsPublished(), ID: sub.Identifier})
			if sub.Options != 0 || sub.Identifier != 0 {
				ss.rec.Version = packet.Version5
			}
			n.Subscriptions++
		case c.Retain != nil:
			m := msgs[c.Retain.StoreID]
			switch {
			case m == nil && expired[c.Retain.StoreID]:
			case m == nil || topic.ValidName(m.Topic) != nil:
				n.Dropped++
			default:
				r := *m
				r.Retain = true
				retained = append(retained, &r)
			}
		case c.ClientMsg != nil:
			cm := c.ClientMsg
			if msgs[cm.StoreID] == nil {
				if !expired[cm.StoreID] {
					n.Dropped++
				}
				continue
			}
			if cm.Direction == In {
				sess(cm.ClientID)
				if cm.QoS == 2 && (cm.State == StateWaitForPubrel || cm.State == StateSendPubrec) {
					incoming = append(incoming, cm)
				}
				continue
			}
			if topic.ValidName(msgs[cm.StoreID].Topic) != nil {
				n.Dropped++
				continue
			}
			sess(cm.ClientID).out = append(sess(cm.ClientID).out, cm)
		}
	}

	var b broker.Batch
	for _, m := range retained {
		b.PutRetained(m)
		n.Retained++
	}
	for _, id := range order {
		ss := sessions[id]
		var lo uint64 // the lowest sequence number still free
		for _, cm := range ss.out {
			d := &broker.StoredDelivery{ID: ids[cm.StoreID], Msg: msgs[cm.StoreID], QoS: cm.QoS, Retain: cm.Retain}
			if cm.SubscriptionID != 0 {
				d.SubIDs = []uint32{cm.SubscriptionID}
			}
			if sentState(cm) && cm.MID != 0 {
				// The smallest free sequence number that yields the
				// packet identifier Mosquitto used.
				d.Seq = lo + (uint64(cm.MID-1)+65535-lo%65535)%65535
				d.Released = cm.State == StateResendPubrel || cm.State == StateWaitForPubcomp
				ss.rec.SentUpTo = d.Seq + 1
				n.InFlight++
			} else {
				d.Seq = lo
				n.Queued++
			}
			lo = d.Seq + 1
			ss.deliveries = append(ss.deliveries, d)
		}
		ss.next = lo
	}
	// Incoming QoS 2 messages: delivered as Mosquitto would on PUBREL.
	for _, cm := range incoming {
		m := msgs[cm.StoreID]
		if topic.ValidName(m.Topic) != nil {
			n.Dropped++
			continue
		}
		for _, id := range order {
			ss := sessions[id]
			// One delivery per session, at the highest QoS of its matching
			// subscriptions, with all their identifiers [MQTT-3.3.4-2].
			var d *broker.StoredDelivery
			for _, sub := range ss.rec.Subscriptions {
				_, inner, shared, _ := topic.ParseShared(sub.Filter)
				if shared || !topic.Match(inner, m.Topic) || (sub.NoLocal && m.Publisher == id) {
					continue
				}
				if d == nil {
					d = &broker.StoredDelivery{Seq: ss.next, ID: ids[cm.StoreID], Msg: m}
				}
				d.QoS = max(d.QoS, min(m.QoS, sub.QoS))
				d.Retain = d.Retain || (sub.RetainAsPublished && m.Retain)
				if sub.ID != 0 {
					d.SubIDs = append(d.SubIDs, sub.ID)
				}
			}
			if d != nil {
				ss.next++
				ss.deliveries = append(ss.deliveries, d)
			}
		}
		if m.Retain {
			if len(m.Payload) == 0 {
				b.DeleteRetained(m.Topic)
			} else {
				b.PutRetained(m)
			}
		}
		sessions[cm.ClientID].inbound = append(sessions[cm.ClientID].inbound, cm.MID)
		n.Incoming++
	}
	for _, id := range order {
		ss := sessions[id]
		b.PutSession(ss.rec)
		for _, d := range ss.deliveries {
			b.PutDelivery(id, d)
		}
		for _, mid := range ss.inbound {
			b.PutInbound(id, mid)
		}
		n.Sessions++
	}
	if err := s.Commit(ctx, &b, true); err != nil {
		return Imported{}, fmt.Errorf("mosqdb: import: %w", err)
	}
	return n, nil
}

// session is an imported session being built.
type session struct {
	rec        *broker.StoredSession
	out        []*ClientMsg // outgoing client messages, in file order
	deliveries []*broker.StoredDelivery
	next       uint64   // the next free sequence number
	inbound    []uint16 // incoming QoS 2 packet ids awaiting PUBREL
}

// sentState reports whether Mosquitto had sent the outgoing message and
// was waiting for the client's acknowledgement.
func sentState(cm *ClientMsg) bool {
	if cm.QoS == 0 {
		return false
	}
	switch cm.State {
	case StateWaitForPuback, StateWaitForPubrec, StateResendPubrel, StateWaitForPubcomp:
		return true
	}
	return false
}

// message converts a stored message.
func message(m *BaseMsg, now time.Time) *broker.Message {
	bm := &broker.Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Publisher: m.SourceID, Received: now}
	if m.ExpiryTime > 0 {
		bm.Expiry = time.Unix(m.ExpiryTime, 0)
	}
	if p := m.Properties; p != nil {
		// Expiry is kept apart; topic aliases and subscription
		// identifiers belong to a connection.
		q := *p
		q.Clear(packet.PropMessageExpiry)
		q.Clear(packet.PropTopicAlias)
		q.Clear(packet.PropSubscriptionID)
		if !q.Empty() {
			bm.Properties = &q
		}
	}
	return bm
}
