package broker

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/topic"
)

// routeScratch is the reusable memory of one publish: the matches and the
// per-session merge of overlapping subscriptions.
type routeScratch struct {
	out     []routed
	m       topic.Matches[*session]
	targets []target
	index   map[*session]int
}

// target is one session a message goes to, after merging its matching
// subscriptions.
type target struct {
	s      *session
	qos    byte
	retain bool
	subID  uint32
}

// routed is one delivery decided by routing.
type routed struct {
	s     *session
	d     delivery
	early bool // publishDurable delivers it before the commit
}

// publish routes m to every matching subscription now and, if m is
// retained, stores or clears the retained message. from is the publishing
// session (nil for the broker), for No Local. It reports whether any
// subscription matched. It never blocks on a subscriber. With a Store, what
// needs keeping (the retained message, deliveries to persistent sessions) is
// written without waiting; publishDurable is the path that waits.
func (srv *Server) publish(m *Message, from *session) bool {
	if m.Retain && !m.routeOnly {
		atomic.StoreUint64(&m.matchGen, genPending) // stored now, routed below
	}
	srv.applyRetained(m)
	if srv.commit != nil && m.Retain && !m.routeOnly && storable(m.Topic) && !srv.opt().RetainUnavailable {
		srv.commit.add(func(b *Batch) { storeRetained(b, m) }, nil)
	}
	rs := srv.routes.Get().(*routeScratch)
	defer srv.routes.Put(rs)
	matched := srv.route(m, from, rs)
	for i := range rs.out {
		rs.out[i].s.deliver(rs.out[i].d)
	}
	clear(rs.out)
	rs.out = rs.out[:0]
	return matched
}

// publishDurable routes m and writes the deliveries to persistent sessions
// (and m itself if it is retained) to the store; once that is durable it
// calls done (if not nil) with the outcome. Deliveries at QoS 0 and 1 go
// out at once, others once the commit is durable (see prepareDurable); on
// a store error those are not delivered. It reports whether any
// subscription matched.
func (srv *Server) publishDurable(m *Message, from *session, extra func(*Batch), done func(matched bool, err error)) bool {
	rs := srv.routes.Get().(*routeScratch)
	matched := srv.route(m, from, rs)
	out := slices.Clone(rs.out)
	clear(rs.out)
	rs.out = rs.out[:0]
	srv.routes.Put(rs)
	// The sessions are locked one at a time, before the committer's lock:
	// code that holds a session's lock adds to the committer.
	early := srv.commit.Interval() == 0
	for i := range out {
		out[i].early = out[i].s.prepareDurable(&out[i].d) && early
	}
	srv.commit.add(func(b *Batch) {
		if m.Retain && !m.routeOnly && storable(m.Topic) && !srv.opt().RetainUnavailable {
			storeRetained(b, m)
		}
		for i := range out {
			if out[i].d.stored {
				b.PutDelivery(out[i].s.id, out[i].d.record())
			}
		}
		if extra != nil {
			extra(b)
		}
	}, func(err error) {
		if err != nil {
			for i := range out {
				if !out[i].early {
					out[i].s.abandonDurable(&out[i].d)
				}
			}
		} else {
			srv.applyRetained(m)
			for i := range out {
				if !out[i].early {
					out[i].s.deliver(out[i].d)
				}
			}
		}
		if done != nil {
			done(matched, err)
		}
	})
	// Deliveries at QoS 0 and 1 go out before the commit: a crash before
	// it only means the publisher, not acknowledged, sends the message
	// again, and at least once allows the copy. A subscriber that
	// acknowledges before the commit deletes the delivery in the same
	// batch, and neither reaches the disk (committer.dropCancelled). A QoS
	// 2 delivery waits: sent twice, it would arrive twice. One that meets
	// its session reading its queue back from the store waits for the read
	// (enqueueLocked, reload).
	for i := range out {
		if out[i].early {
			out[i].s.deliver(out[i].d)
		}
	}
	return matched
}

// applyRetained stores or clears the retained message of m's topic, if m is
// retained [MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-7].
func (srv *Server) applyRetained(m *Message) {
	if !m.Retain || m.routeOnly || srv.opt().RetainUnavailable {
		return
	}
	if len(m.Payload) == 0 {
		srv.retained.Delete(m.Topic)
	} else {
		srv.retained.Set(m.Topic, m)
	}
}

// storeRetained writes m to b as its topic's retained message, or deletes
// that for an empty payload.
func storeRetained(b *Batch, m *Message) {
	if len(m.Payload) == 0 {
		b.DeleteRetained(m.Topic)
	} else {
		b.PutRetained(m)
	}
}

// route decides who receives m: it fills rs.out with one delivery per
// session (merging overlapping subscriptions unless allow_duplicate_messages)
// and one per matching shared subscription group, and reports whether
// anything matched.
func (srv *Server) route(m *Message, from *session, rs *routeScratch) bool {
	srv.notify(m)
	if m.Retain && !m.routeOnly {
		rs.m.Stamp = &m.matchGen // for matchRetained
	}
	srv.index.Match(m.Topic, &rs.m)
	rs.m.Stamp = nil
	matched := len(rs.m.Subs) > 0 || len(rs.m.Shared) > 0
	if m.sel != nil && !m.sel.Plain {
		clear(rs.m.Subs)
		rs.m.Subs = rs.m.Subs[:0] // another node's choice: its groups only
	}
	ctx := srv.ctx

	merge := !srv.opt().AllowDuplicateMessages && len(rs.m.Subs) > 1 && anyOverlap(rs.m.Subs)
	rs.targets = rs.targets[:0]
	for i := range rs.m.Subs {
		e := &rs.m.Subs[i]
		if e.NoLocal && e.Sub == from {
			continue // [MQTT-3.8.3-3]
		}
		qos := min(m.QoS, e.QoS) // [MQTT-3.8.4-8]
		if srv.opt().UpgradeOutgoingQoS {
			qos = e.QoS
		}
		retain := m.Retain && e.RetainAsPublished // [MQTT-3.3.1-12], [MQTT-3.3.1-13]
		if merge {
			if i, ok := rs.index[e.Sub]; ok && (e.ID == 0 || rs.targets[i].subID == 0 || rs.targets[i].subID == e.ID) {
				// One copy at the highest QoS [MQTT-3.3.4-2] carrying the
				// identifier, if any, once [MQTT-3.3.4-4]. Subscriptions
				// with different identifiers get a copy each instead
				// [MQTT-3.3.4-5]: libmosquitto 2.0 (mosquitto_sub and every
				// program built on it) closes the connection on a PUBLISH
				// with two Subscription Identifiers.
				t := &rs.targets[i]
				t.qos = max(t.qos, qos)
				t.retain = t.retain || retain
				if e.ID != 0 {
					t.subID = e.ID
				}
				continue
			}
			if rs.index == nil {
				rs.index = make(map[*session]int)
			}
			rs.index[e.Sub] = len(rs.targets)
		}
		t := target{s: e.Sub, qos: qos, retain: retain, subID: e.ID}
		rs.targets = append(rs.targets, t)
	}
	if merge {
		clear(rs.index)
	}
	for i := range rs.targets {
		t := &rs.targets[i]
		if !t.s.canRead(ctx, m.Topic) {
			continue
		}
		rs.out = append(rs.out, routed{s: t.s, d: delivery{msg: m, qos: t.qos, retain: t.retain, subID: [1]uint32{t.subID}}})
	}
	clear(rs.targets)
	for _, g := range rs.m.Shared {
		if !srv.sharedHere(m, g.Filter()) {
			continue // delivered elsewhere (a cluster's choice)
		}
		if r, ok := srv.pickShared(ctx, g, m, nil); ok {
			rs.out = append(rs.out, r)
		}
	}
	clear(rs.m.Subs)
	clear(rs.m.Shared)
	srv.stats.Routed.Add(1)
	return matched
}

// anyOverlap reports whether some session appears more than once in subs:
// only then do deliveries need merging. A session with one subscription
// cannot.
func anyOverlap(subs []topic.Entry[*session]) bool {
	for i := range subs {
		if subs[i].Sub.subCount.Load() > 1 {
			return true
		}
	}
	return false
}

// canRead asks the session's Authorizers whether it may receive a message
// on name (Mosquitto 2.0 checks the ACL at delivery).
func (s *session) canRead(ctx context.Context, name string) bool {
	id := s.ident.Load()
	return id != nil && id.sec.Authorize(ctx, &id.client, name, Read)
}

// pickShared chooses the member of shared subscription group g that gets m,
// preferring connected members and skipping except, round robin (4.8.2).
func (srv *Server) pickShared(ctx context.Context, g *topic.Group[*session], m *Message, except *session) (routed, bool) {
	pick := func(online bool) (topic.Entry[*session], bool) {
		return g.Next(func(s *session) bool {
			if s == except || online && !s.online() {
				return false
			}
			return s.canRead(ctx, m.Topic)
		})
	}
	e, ok := pick(true)
	if !ok {
		e, ok = pick(false) // queue for an offline persistent member
	}
	if !ok {
		return routed{}, false
	}
	qos := min(m.QoS, e.QoS)
	if srv.opt().UpgradeOutgoingQoS {
		qos = e.QoS
	}
	return routed{s: e.Sub, d: delivery{msg: m, qos: qos, retain: m.Retain && e.RetainAsPublished, subID: [1]uint32{e.ID}, group: g}}, true
}

// redistribute offers the unacknowledged shared-subscription messages of an
// ended session to other members of their groups (4.8.2).
func (srv *Server) redistribute(orphans []delivery) {
	ctx := srv.ctx
	for _, d := range orphans {
		if d.group == nil || d.msg.expired(srv.now()) {
			continue
		}
		if r, ok := srv.pickShared(ctx, d.group, d.msg, nil); ok {
			r.s.deliver(r.d)
		}
	}
}

// dropExpiredRetained removes the retained message on name if it has
// expired at now.
func (srv *Server) dropExpiredRetained(name string, now time.Time) {
	if m, ok := srv.retained.Get(name); ok && m.expired(now) {
		srv.retained.Delete(name)
	}
}

// matchRetained appends to ds the deliveries to c's session of the
// retained messages matching filter [MQTT-3.3.1-9] (v5), [MQTT-3.8.4-4].
// gen is the index generation at which the subscription was added (0 if
// it replaced one): a message whose routing saw the subscription reaches
// it live, and is not sent a second time as retained.
func (srv *Server) matchRetained(ctx context.Context, c *conn, filter string, o topic.Options, gen uint64, ds []delivery) []delivery {
	now := srv.now()
	var expired []string
	srv.retained.Match(filter, func(name string, m *Message) bool {
		if m.expired(now) {
			expired = append(expired, name)
			return true
		}
		if g := atomic.LoadUint64(&m.matchGen); gen != 0 && g != 0 && g >= gen {
			// Routed with the subscription in the index, or (genPending)
			// about to be: its routing delivers it.
			return true
		}
		if !c.authorize(ctx, name, Read) || !srv.retainSourceAllowed(ctx, m) {
			return true
		}
		qos := min(m.QoS, o.QoS)
		if srv.opt().UpgradeOutgoingQoS {
			qos = o.QoS
		}
		ds = append(ds, delivery{msg: m, qos: qos, retain: true, subID: [1]uint32{o.ID}, onSubscribe: true})
		return true
	})
	for _, name := range expired {
		srv.dropExpiredRetained(name, now)
	}
	return ds
}
