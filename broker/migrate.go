package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// This file moves a persistent session from one Server to another (a
// cluster node taking a client over from another node): ExportSession on
// the old one, ImportSession on the new one, then DropExported on the old
// one. See the package documentation, "Session migration".

// ErrNoSession is returned by ExportSession when the server holds no
// session for the client identifier that could continue elsewhere: none,
// or one that ends with its connection (Session Expiry Interval 0, a
// clean session in MQTT 3.1.1).
var ErrNoSession = errors.New("broker: no session to export")

// ErrSessionConnected is returned by ImportSession when a client is
// connected with the session's identifier on this server.
var ErrSessionConnected = errors.New("broker: a client is connected with this client identifier")

// SessionExport is the state of a session as ExportSession hands it over:
// its record (subscriptions with their options, expiry, the last
// connection's identity), the deliveries queued for it or in flight to it
// in the order they are to be sent (StoredDelivery.Released marks a QoS 2
// message whose PUBREC arrived: PUBREL is sent for it, not PUBLISH), and
// the packet identifiers of the QoS 2 messages received from the client
// whose PUBREL has not arrived.
type SessionExport struct {
	Session    StoredSession
	Deliveries []*StoredDelivery
	Inbound    []uint16
}

// ExportSession takes the persistent session of clientID off this server
// and returns its state. A connection attached to it is closed as a
// takeover closes it (DISCONNECT 0x8E Session taken over in MQTT 5), its
// will cancelled if it had a Will Delay Interval (the session goes on),
// and a pending will of the offline session is cancelled too. From the
// moment it returns, the server no longer delivers to the session: its
// subscriptions are gone from the routing index, and nothing else can
// reach it. With a Store, the session's record and queue stay in the
// Store until DropExported: the importing server must commit the session
// (ImportSession) before the exporter forgets it, so that a crash between
// the two keeps a copy (a duplicate, not a loss). A session that ends with
// its connection (Session Expiry 0) is not exported: ErrNoSession.
func (srv *Server) ExportSession(ctx context.Context, clientID string) (*SessionExport, error) {
	srv.mu.Lock()
	s := srv.sessions[clientID]
	if s == nil {
		srv.mu.Unlock()
		return nil, ErrNoSession
	}
	s.mu.Lock()
	if s.ended || s.expiry == 0 {
		s.mu.Unlock()
		srv.mu.Unlock()
		return nil, ErrNoSession
	}
	delete(srv.sessions, clientID)
	old := s.conn
	if old != nil {
		s.conn = nil
		if old.version == packet.Version5 && !old.closing {
			// As a takeover does [MQTT-3.1.4-3]: DISCONNECT 0x8E, then close.
			old.closing = true
			old.ctrl = append(old.ctrl, outItem{kind: outPacket, pkt: &packet.Disconnect{ReasonCode: packet.SessionTakenOver}})
		}
		old.takenOver = true
		if willDelayCancels(old.willDelay) {
			old.will = nil // the session goes on: its client came back elsewhere [MQTT-3.1.3-9]
		}
	}
	exp := &SessionExport{Session: *s.storedSessionLocked(srv.now(), nil, 0)}
	fromStore := srv.commit != nil && s.inStore
	if !fromStore {
		exp.Deliveries = s.memoryDeliveriesLocked()
	}
	for id := range s.inboundQoS2 {
		exp.Inbound = append(exp.Inbound, id)
	}
	slices.Sort(exp.Inbound)
	s.exported = true
	s.will = nil
	s.endLocked()
	s.mu.Unlock()
	srv.mu.Unlock()
	srv.index.UnsubscribeAll(s)
	srv.flushRoutes()
	if old != nil {
		if old.version == packet.Version5 {
			old.wake()
			time.AfterFunc(srv.opt().writeTimeout, old.close)
		} else {
			old.close()
		}
	}
	if fromStore {
		// Every change made to the session before it ended is committed
		// (or added) by now: read the queue back as the store holds it.
		if err := srv.commit.flush(); err != nil {
			return nil, fmt.Errorf("broker: exporting session %q: %w", clientID, err)
		}
		err := srv.cfg.Store.LoadQueue(ctx, clientID, func(sd *StoredDelivery) error {
			exp.Deliveries = append(exp.Deliveries, sd)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("broker: exporting session %q: %w", clientID, err)
		}
	}
	for _, d := range exp.Deliveries {
		exp.Session.NextSeq = max(exp.Session.NextSeq, d.Seq+1)
	}
	exp.Session.Queued = len(exp.Deliveries)
	srv.log.Info(fmt.Sprintf("Session of %s exported with %d messages.", clientID, len(exp.Deliveries)))
	return exp, nil
}

// memoryDeliveriesLocked returns the deliveries of a session kept in
// memory: in flight first (they keep their sequence numbers, hence their
// packet identifiers), then the queue. A queued delivery that was never
// sent is numbered anew after them. s.mu must be held.
func (s *session) memoryDeliveriesLocked() []*StoredDelivery {
	var out []*StoredDelivery
	next := max(s.storeSeq, s.sentUpTo)
	for _, f := range s.flight.All {
		sd := f.delivery.record()
		sd.Released = f.state == awaitPubcomp
		if !f.seqID {
			sd.Seq = next
			next++
		}
		out = append(out, sd)
	}
	queued := append(s.queue[s.qhead:len(s.queue):len(s.queue)], s.loadWait...)
	for i := range queued {
		d := &queued[i]
		sd := d.record()
		sd.Released = d.released
		if !d.seqID || d.storeSeq >= s.sentUpTo {
			sd.Seq = next
			next++
		}
		out = append(out, sd)
	}
	slices.SortStableFunc(out, func(a, b *StoredDelivery) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// DropExported forgets the stored copy of a session that ExportSession
// handed over and another server has committed: with a Store it deletes
// the session's record and queue, unless a new session of clientID began
// here meanwhile. Without a Store it does nothing.
func (srv *Server) DropExported(ctx context.Context, clientID string) error {
	if srv.commit == nil {
		return nil
	}
	srv.mu.Lock()
	s := srv.sessions[clientID]
	srv.mu.Unlock()
	if s != nil {
		return nil // a new session of the client, with its own record
	}
	return srv.commit.wait(func(b *Batch) { b.DeleteSession(clientID) })
}

// ImportSession installs the session ExportSession returned on another
// server, offline, so that the next CONNECT of its client identifier
// without Clean Start resumes it (session present 1) with its
// subscriptions and messages. An offline session of the identifier that
// this server held is replaced; one with a client connected is not
// (ErrSessionConnected). With a Store, it returns once the session and its
// messages are durable here: the exporter may then DropExported. Its
// subscriptions route to it from then on; its expiry runs from now.
func (srv *Server) ImportSession(ctx context.Context, exp *SessionExport) error {
	ss := exp.Session
	id := ss.ClientID
	if id == "" {
		return errors.New("broker: importing a session without a client identifier")
	}
	srv.mu.Lock()
	if prev := srv.sessions[id]; prev != nil {
		prev.mu.Lock()
		connected := prev.conn != nil
		prev.mu.Unlock()
		if connected {
			srv.mu.Unlock()
			return ErrSessionConnected
		}
	}
	srv.mu.Unlock()

	s := newSession(srv, id)
	s.version = ss.Version
	s.ident.Store(&identity{
		client: Client{ID: id, Username: ss.Username, HasUsername: ss.HasUsername, Listener: ss.Listener, Version: ss.Version},
		sec:    srv.securityOf(ss.Listener),
	})
	s.expiry = ss.Expiry
	s.sentUpTo = ss.SentUpTo
	s.storeSeq = max(ss.NextSeq, ss.SentUpTo)
	ds := make([]delivery, 0, len(exp.Deliveries))
	for _, sd := range exp.Deliveries {
		if sd == nil || sd.Msg == nil {
			return fmt.Errorf("broker: importing session %q: a delivery without its message", id)
		}
		d := delivery{msg: importedMessage(sd.Msg), qos: sd.QoS, retain: sd.Retain, storeSeq: sd.Seq, seqID: true,
			released: sd.Released, dup: sd.Seq < ss.SentUpTo}
		if len(sd.SubIDs) > 0 {
			d.subID[0] = sd.SubIDs[0]
		}
		if sd.Group != "" {
			d.group = srv.index.Group(sd.Group)
		}
		s.storeSeq = max(s.storeSeq, sd.Seq+1)
		ds = append(ds, d)
	}
	if len(exp.Inbound) > 0 {
		s.inboundQoS2 = make(map[uint16]struct{}, len(exp.Inbound))
		for _, pid := range exp.Inbound {
			s.inboundQoS2[pid] = struct{}{}
		}
	}
	for _, sub := range ss.Subscriptions {
		s.subs.set(sub.Filter, subOptions(sub))
	}
	s.subCount.Store(int32(s.subs.len()))
	s.inStore = srv.commit != nil && s.expiry > 0 && len(id) <= maxStoredKey
	if s.inStore {
		rec := ss
		rec.Will, rec.WillDelay = nil, 0
		rec.OfflineSince = srv.now()
		recs := make([]*StoredDelivery, len(ds))
		for i := range ds {
			ds[i].stored = true
			recs[i] = ds[i].record()
			recs[i].Released = ds[i].released
		}
		inbound := exp.Inbound
		err := srv.commit.wait(func(b *Batch) {
			b.DeleteSession(id) // an offline session this server held
			b.PutSession(&rec)
			for _, r := range recs {
				b.PutDelivery(id, r)
			}
			for _, pid := range inbound {
				b.PutInbound(id, pid)
			}
		})
		if err != nil {
			return fmt.Errorf("broker: importing session %q: %w", id, err)
		}
		s.storedQueued = len(ds) // the queue lives in the store while offline
	} else {
		for i := range ds {
			ds[i].seq = uint32(s.enqSeq)
			s.enqSeq++
			s.queue = append(s.queue, ds[i])
			s.queuedBytes += ds[i].msg.size()
		}
	}

	// Subscribed before it is installed, as restore does: what is routed
	// to it meanwhile is queued (stored) behind the imported messages.
	for f, o := range s.subs.all {
		if _, err := srv.index.Subscribe(s, f, o); err != nil {
			srv.log.Warn("cannot restore an imported subscription", "client_id", id, "filter", f, "err", err)
		}
	}
	srv.mu.Lock()
	var prev *session
	if prev = srv.sessions[id]; prev != nil {
		prev.mu.Lock()
		if prev.conn != nil {
			prev.mu.Unlock()
			srv.mu.Unlock()
			s.mu.Lock()
			s.endLocked()
			s.mu.Unlock()
			srv.index.UnsubscribeAll(s)
			srv.flushRoutes()
			return ErrSessionConnected // connected meanwhile: its attach replaced the record
		}
		prev.endLocked()
		prev.mu.Unlock()
	}
	srv.sessions[id] = s
	s.mu.Lock()
	srv.scheduleExpiryFromLocked(s, srv.now())
	s.mu.Unlock()
	srv.mu.Unlock()
	if prev != nil {
		srv.index.UnsubscribeAll(prev)
	}
	srv.flushRoutes()
	srv.log.Info(fmt.Sprintf("Session of %s imported with %d messages.", id, len(ds)))
	return nil
}

// importedMessage returns a copy of m for this server: its store id and
// source are the exporter's.
func importedMessage(m *Message) *Message {
	return &Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Properties: m.Properties,
		Expiry: m.Expiry, Publisher: m.Publisher, Received: m.Received}
}
