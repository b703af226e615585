package broker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// errSessionLimit is attach's error when Config.MaxSessions sessions
// exist already; nothing has been queued for the connection.
var errSessionLimit = errors.New("global_max_clients reached")

// attach binds the accepted connection c to its session: it takes over a
// connection that holds the client identifier [MQTT-3.1.4-3], resumes or
// discards the existing session [MQTT-3.1.2-4], [MQTT-3.1.2-5], and queues
// the CONNACK ahead of anything else for c. If the session cannot be made
// durable, the CONNACK refuses the client (Server unavailable) and attach
// returns the error: the connection must not go on. With MaxSessions
// reached it returns errSessionLimit before touching any session.
// Otherwise it calls connected (which logs the new client) before it lets
// c's writer write the CONNACK, and outside every lock.
func (srv *Server) attach(c *conn, cleanStart bool, expiry uint32, will *Message, willDelay uint32, ack *packet.Connack, connected func()) error {
	id := c.client.ID
	var (
		old     *conn
		orphans []delivery
		present bool
		dropOld bool // the old session was in the store and ends
	)
	srv.mu.Lock()
	s := srv.sessions[id]
	if lim := srv.opt().MaxSessions; lim > 0 {
		others := len(srv.sessions)
		if s != nil {
			others-- // the client's own session is replaced, not added
		}
		if others >= lim {
			srv.mu.Unlock()
			return errSessionLimit
		}
	}
	if s != nil {
		s.mu.Lock()
		// A session whose connection is still open but that ends with it
		// (clean session in 3.1.1, Session Expiry 0 in 5.0) ends now, even
		// for a CONNECT with Clean Start 0: it does not carry over to the
		// new connection [MQTT-3.1.2-6], 5.0 §3.1.2.11.2.
		ends := cleanStart || s.conn != nil && s.expiry == 0
		dropOld = ends && s.inStore
		if old = s.conn; old != nil {
			s.conn = nil
			if old.version == packet.Version5 {
				// [MQTT-3.1.4-3]: DISCONNECT 0x8E, then close.
				old.closing = true
				old.ctrl = append(old.ctrl, outItem{kind: outPacket, pkt: &packet.Disconnect{ReasonCode: packet.SessionTakenOver}})
			}
			old.takenOver = true
		}
		// A new connection before the will delay elapsed cancels the will
		// [MQTT-3.1.3-9], with Clean Start 1 too (the session ends, but
		// because the client is back), as Mosquitto does.
		s.will = nil
		s.stopTimersLocked()
		if ends {
			orphans = s.endLocked()
		} else {
			present = true // [MQTT-3.2.2-3] (v5 3.2.2.1.1)
			s.resetForResumeLocked()
		}
		s.mu.Unlock()
		if ends {
			srv.index.UnsubscribeAll(s)
			s = nil
		}
	}
	if s == nil {
		s = newSession(srv, id)
		srv.sessions[id] = s
	}
	s.mu.Lock()
	s.conn = c
	s.version = c.version
	s.expiry = expiry
	c.ident.sec = c.ln.security(srv) // before the identity is published
	s.ident.Store(c.ident)
	if will != nil {
		will.source = s.ident.Load() // for publishWill
	}
	c.sess = s
	c.will, c.willDelay = will, willDelay
	ack.SessionPresent = present
	// CONNACK goes before everything queued for the session (at 0), and
	// the in-flight messages follow it.
	c.ctrl = append(c.ctrl, outItem{kind: outPacket, pkt: ack, resend: present})
	// A resumed session's messages are checked against the client's rights
	// first (dropUnreadable): nothing is written until then.
	c.hold = present
	var record *StoredSession
	if srv.commit != nil && (s.persistentLocked() || s.inStore) {
		// The session must be durable before CONNACK says it exists: hold
		// the writer until it is.
		record = s.storedSessionLocked(time.Time{}, will, willDelay)
		s.inStore = true
		c.hold = true
		// A session resumed from offline has its queue in the store only;
		// one taken over from a live connection has it in memory, unless
		// that connection's own reload had not run yet.
		s.loading = present && (old == nil || s.loading)
	}
	s.mu.Unlock()
	srv.mu.Unlock()
	srv.flushRoutes() // a discarded session's routes

	var failed error
	if srv.commit != nil && (record != nil || dropOld) {
		err := srv.commit.wait(func(b *Batch) {
			if dropOld {
				b.DeleteSession(id)
			}
			if record != nil {
				b.PutSession(record)
			}
		})
		s.mu.Lock()
		c.hold = present && err == nil
		if err != nil {
			srv.log.Error("persistence: cannot store the session; refusing the client", "client_id", id, "err", err)
			ack.SessionPresent = false
			ack.ReasonCode = packet.ServerUnavailable
			if c.version != packet.Version5 {
				ack.ReasonCode = packet.ConnackV3ServerUnavailable
			}
			c.closing = true
			s.loading = false
			failed = err
		}
		loading := s.loading
		s.mu.Unlock()
		if loading {
			srv.commit.fence(func(error) { srv.reload(c) })
		}
	}

	if n := srv.stats.Connected.Add(1); n > srv.stats.MaxConnected.Load() {
		srv.stats.MaxConnected.Store(n)
	}
	if old != nil {
		if !srv.opt().QuietConnections {
			srv.log.Info(fmt.Sprintf("Client %s already connected, closing old connection.", id))
		}
		if old.version == packet.Version5 {
			old.wake()
			time.AfterFunc(srv.opt().writeTimeout, old.close)
		} else {
			old.close()
		}
	}
	srv.redistribute(orphans)
	if failed == nil {
		connected()
	}
	if present && failed == nil {
		srv.dropUnreadable(c)
	}
	c.wake()
	return failed
}

// dropUnreadable drops the messages queued or in flight for c's resumed
// session that its client may no longer read, as Mosquitto checks them
// again at a reconnect (a SIGHUP may have narrowed the ACL since they were
// routed), and then lets c's writer write. A QoS 2 message whose PUBREC
// arrived is kept: the client has it.
func (srv *Server) dropUnreadable(c *conn) {
	s := c.sess
	s.mu.Lock()
	var names []string
	for i := s.qhead; i < len(s.queue); i++ {
		names = append(names, s.queue[i].msg.Topic)
	}
	for _, f := range s.flight.All {
		if f.state != awaitPubcomp {
			names = append(names, f.msg.Topic)
		}
	}
	s.mu.Unlock()
	denied := srv.unreadable(s, names)
	s.mu.Lock()
	defer s.mu.Unlock()
	c.hold = false
	if len(denied) == 0 {
		return
	}
	n := s.qhead
	for i := s.qhead; i < len(s.queue); i++ {
		if d := s.queue[i]; denied[d.msg.Topic] {
			s.queuedBytes -= d.msg.size()
			s.forgetStoredLocked(&d)
		} else {
			s.queue[n] = d
			n++
		}
	}
	clear(s.queue[n:])
	s.queue = s.queue[:n]
	for id, f := range s.flight.All {
		if f.state != awaitPubcomp && denied[f.msg.Topic] {
			s.forgetStoredLocked(&f.delivery)
			s.removeInflightLocked(id)
		}
	}
}

// unreadable returns the names among names that s's client may not read
// now, nil if none. It calls the Authorizers: no lock may be held.
func (srv *Server) unreadable(s *session, names []string) map[string]bool {
	var denied map[string]bool
	checked := make(map[string]bool)
	for _, name := range names {
		if checked[name] {
			continue
		}
		checked[name] = true
		if !s.canRead(srv.ctx, name) {
			if denied == nil {
				denied = make(map[string]bool)
			}
			denied[name] = true
		}
	}
	return denied
}

// reload reads a resumed session's queue back from the store. It runs as a
// commit fence: after every delivery committed before the reconnect, before
// any committed after it.
func (srv *Server) reload(c *conn) {
	s := c.sess
	s.mu.Lock()
	if s.conn != c || s.ended {
		if s.conn == nil || s.ended {
			s.loading = false
			s.loadWait = nil // in the store, where an offline queue lives
		} // else a connection that took over loads instead
		s.mu.Unlock()
		return
	}
	sentUpTo, crashed := s.sentUpTo, s.crashed
	s.mu.Unlock()
	var loaded []delivery
	err := srv.cfg.Store.LoadQueue(srv.ctx, s.id, func(sd *StoredDelivery) error {
		// The message keeps its store id, so that storing it again (a shared
		// subscription handing it to another member) shares the stored copy.
		// The committer sees the message only after a later commit.
		sd.Msg.id = sd.ID
		d := delivery{msg: sd.Msg, qos: sd.QoS, retain: sd.Retain,
			storeSeq: sd.Seq, seqID: true, stored: true, released: sd.Released, dup: sd.Seq < sentUpTo}
		if len(sd.SubIDs) > 0 {
			d.subID[0] = sd.SubIDs[0] // midge stores at most one (record)
		}
		d.maybeSent = crashed && !d.dup && d.qos > 0
		if sd.Group != "" {
			d.group = srv.index.Group(sd.Group)
		}
		loaded = append(loaded, d)
		return nil
	})
	if err != nil {
		srv.log.Error("persistence: cannot load a session's queue", "client_id", s.id, "err", err)
	}
	names := make([]string, 0, len(loaded))
	for i := range loaded {
		if !loaded[i].released {
			names = append(names, loaded[i].msg.Topic)
		}
	}
	denied := srv.unreadable(s, names) // see dropUnreadable
	s.mu.Lock()
	s.loading = false
	s.storedQueued = 0
	if s.conn == c && len(s.loadWait) > 0 {
		// Deliveries that arrived during the read: those committed before
		// its fence were read, the others follow in store order.
		read := make(map[uint64]bool, len(loaded))
		for i := range loaded {
			read[loaded[i].storeSeq] = true
		}
		for _, d := range s.loadWait {
			if !read[d.storeSeq] {
				loaded = append(loaded, d)
			}
		}
		slices.SortStableFunc(loaded, func(a, b delivery) int { return cmp.Compare(a.storeSeq, b.storeSeq) })
	}
	s.loadWait = nil
	if len(denied) > 0 && s.conn == c {
		loaded = slices.DeleteFunc(loaded, func(d delivery) bool {
			drop := !d.released && denied[d.msg.Topic]
			if drop {
				s.forgetStoredLocked(&d)
			}
			return drop
		})
	}
	if s.conn == c {
		s.crashed = false
		lim := srv.opt()
		for i := range loaded {
			d := &loaded[i]
			if d.seqID && d.storeSeq >= s.storeSeq {
				s.storeSeq = d.storeSeq + 1
			}
			if !d.stored {
				// Routed while the queue was read (loadWait), not in the
				// store: the queue limit and the store apply now, as
				// they do in enqueueLocked.
				if !d.onSubscribe && lim.maxQueued > 0 && s.queueLen() >= lim.maxQueued {
					s.dropLocked()
					continue
				}
				if s.persistentLocked() && d.qos > 0 && storable(d.msg.Topic) {
					s.storeDeliveryLocked(d)
				}
			}
			d.seq = uint32(s.enqSeq)
			s.enqSeq++
			s.queue = append(s.queue, *d)
			s.queuedBytes += d.msg.size()
		}
	}
	s.mu.Unlock()
	c.wake()
}

// detach unbinds c from its session when c closes: the session ends (Session
// Expiry Interval 0) or waits offline for a reconnect, and c's will is
// published now, later (Will Delay Interval), or not at all (DISCONNECT
// 0x00).
func (srv *Server) detach(c *conn) {
	s := c.sess
	srv.mu.Lock()
	s.mu.Lock()
	takenOver := c.takenOver
	will := c.will
	if c.graceful {
		will = nil // [MQTT-3.1.2-10]
	}
	c.will = nil
	var (
		orphans []delivery
		publish *Message
		ended   bool
	)
	switch {
	case takenOver:
		// The new connection continues (or replaced) the session. With a
		// Will Delay Interval the will is cancelled by the reconnect
		// [MQTT-3.1.3-9]; otherwise it is published now, as is the will of
		// a session the new connection discarded.
		if will != nil && (willDelayCancels(c.willDelay) && !s.ended) {
			will = nil
		}
		publish = will
	case s.expiry == 0:
		s.conn = nil
		inStore := s.inStore
		orphans = s.endLocked()
		ended = true
		if srv.sessions[s.id] == s {
			delete(srv.sessions, s.id)
		}
		if inStore {
			srv.commit.add(func(b *Batch) { b.DeleteSession(s.id) }, nil)
		}
		publish = will // the session ends: the will is due whatever its delay
	default:
		s.conn = nil
		s.resetForResumeLocked()
		if srv.commit != nil {
			// The store holds the queue while the client is away: keep
			// only the count in memory.
			s.offloadLocked()
			var w *Message
			if will != nil && c.willDelay > 0 {
				w = will
			}
			rec := s.storedSessionLocked(srv.now(), w, c.willDelay)
			srv.commit.add(func(b *Batch) { b.PutSession(rec) }, nil)
		}
		if will != nil {
			if c.willDelay == 0 {
				publish = will
			} else {
				s.will = will
				if uint64(c.willDelay) < uint64(s.expiry) {
					s.willTimer = time.AfterFunc(time.Duration(c.willDelay)*time.Second, func() { srv.fireWill(s) })
				} // else the will waits for the session to end [MQTT-3.1.3-9]
			}
		}
		srv.scheduleExpiryFromLocked(s, srv.now())
	}
	s.mu.Unlock()
	srv.mu.Unlock()
	srv.stats.Connected.Add(-1) // after the session let go of c
	if f := srv.cfg.OnDisconnect; f != nil {
		f(c.client, takenOver)
	}
	if ended {
		srv.index.UnsubscribeAll(s)
		srv.flushRoutes()
	}
	if !srv.opt().QuietConnections && c.reason() != "" {
		srv.logDisconnect(c)
	}
	if publish != nil {
		srv.publishWill(publish)
	}
	srv.redistribute(orphans)
}

// publishWill publishes a will, unless its client may not publish to its
// topic: Mosquitto 2.0 accepts a CONNECT whatever its will topic and asks
// the ACL when the will is due, dropping it then. Once the server's context
// is cancelled (Close, Shutdown past its deadline) no will is published.
func (srv *Server) publishWill(will *Message) {
	if srv.ctx.Err() != nil {
		return // Close, or past Shutdown's deadline: nothing more is published
	}
	id := will.source
	if sysWriteDenied(will.Topic) || id != nil && !id.sec.Authorize(srv.ctx, &id.client, will.Topic, Write) {
		srv.log.Info(fmt.Sprintf("Denied will of %s to '%s': not authorised.", will.Publisher, will.Topic))
		return
	}
	srv.publish(will, nil)
}

// willDelayCancels reports whether a will with this delay is cancelled by a
// new connection: only a delayed will waits for one.
func willDelayCancels(delay uint32) bool { return delay > 0 }

// logDisconnect logs the end of a client connection in Mosquitto's words.
func (srv *Server) logDisconnect(c *conn) {
	id := c.client.ID
	switch c.reason() {
	case "disconnected":
		srv.log.Info(fmt.Sprintf("Client %s disconnected.", id))
	case "closed its connection":
		srv.log.Info(fmt.Sprintf("Client %s closed its connection.", id))
	case "keep alive timeout":
		// already logged when detected
	default:
		srv.log.Info(fmt.Sprintf("Client %s disconnected: %s.", id, c.reason()))
	}
}

// scheduleExpiryFromLocked starts the timer that ends s, offline since
// since. s.mu must be held.
func (srv *Server) scheduleExpiryFromLocked(s *session, since time.Time) {
	var d time.Duration
	switch {
	case s.expiry == neverExpires:
		if srv.opt().PersistentClientExpiration <= 0 {
			return
		}
		d = srv.opt().PersistentClientExpiration
	default:
		d = time.Duration(s.expiry) * time.Second
	}
	d -= srv.now().Sub(since)
	s.expireTimer = time.AfterFunc(max(d, 0), func() { srv.expire(s) })
}

// expire ends session s if it is still offline [MQTT-4.1.0-? ] (session
// expiry), publishing its pending will.
func (srv *Server) expire(s *session) {
	srv.mu.Lock()
	s.mu.Lock()
	if s.conn != nil || s.ended {
		s.mu.Unlock()
		srv.mu.Unlock()
		return
	}
	will := s.will
	s.will = nil
	inStore := s.inStore
	orphans := s.endLocked()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	s.mu.Unlock()
	srv.mu.Unlock()
	srv.index.UnsubscribeAll(s)
	srv.flushRoutes()
	if inStore {
		srv.commit.add(func(b *Batch) { b.DeleteSession(s.id) }, nil)
	}
	srv.stats.Expired.Add(1)
	srv.log.Info(fmt.Sprintf("Expiring client %s due to timeout.", s.id))
	if will != nil {
		srv.publishWill(will)
	}
	srv.redistribute(orphans)
}

// fireWill publishes the delayed will of offline session s.
func (srv *Server) fireWill(s *session) {
	s.mu.Lock()
	will := s.will
	s.will = nil
	s.willTimer = nil
	if s.conn != nil {
		will = nil
	}
	if will != nil && s.inStore && !s.ended {
		rec := s.storedSessionLocked(srv.now(), nil, 0)
		srv.commit.add(func(b *Batch) { b.PutSession(rec) }, nil)
	}
	s.mu.Unlock()
	if will != nil {
		srv.publishWill(will)
	}
}
