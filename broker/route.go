package broker

import (
	"context"
	"time"

	"github.com/midge-mqtt/midge/internal/topic"
)

// routeScratch is the reusable memory of one publish: the matches and the
// per-session merge of overlapping subscriptions.
type routeScratch struct {
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
	subIDs []uint32
}

// publish routes m to every matching subscription and, if m is retained,
// stores or clears the retained message. from is the publishing session (nil
// for the broker), for No Local. It reports whether any subscription matched.
// It never blocks on a subscriber.
func (srv *Server) publish(m *Message, from *session) bool {
	if m.Retain && !srv.cfg.RetainUnavailable {
		if len(m.Payload) == 0 {
			srv.retained.Delete(m.Topic) // [MQTT-3.3.1-6], [MQTT-3.3.1-7]
		} else {
			srv.retained.Set(m.Topic, m) // [MQTT-3.3.1-5]
		}
	}
	rs := srv.routes.Get().(*routeScratch)
	defer srv.routes.Put(rs)
	srv.index.Match(m.Topic, &rs.m)
	matched := len(rs.m.Subs) > 0 || len(rs.m.Shared) > 0
	ctx := context.Background()

	merge := !srv.cfg.AllowDuplicateMessages && len(rs.m.Subs) > 1 && anyOverlap(rs.m.Subs)
	rs.targets = rs.targets[:0]
	for i := range rs.m.Subs {
		e := &rs.m.Subs[i]
		if e.NoLocal && e.Sub == from {
			continue // [MQTT-3.8.3-3]
		}
		qos := min(m.QoS, e.QoS) // [MQTT-3.8.4-8]
		if srv.cfg.UpgradeOutgoingQoS {
			qos = e.QoS
		}
		retain := m.Retain && e.RetainAsPublished // [MQTT-3.3.1-12], [MQTT-3.3.1-13]
		if merge {
			if i, ok := rs.index[e.Sub]; ok {
				t := &rs.targets[i]
				t.qos = max(t.qos, qos) // [MQTT-3.3.4-2]
				t.retain = t.retain || retain
				if e.ID != 0 {
					t.subIDs = append(t.subIDs, e.ID) // [MQTT-3.3.4-4]
				}
				continue
			}
			if rs.index == nil {
				rs.index = make(map[*session]int)
			}
			rs.index[e.Sub] = len(rs.targets)
		}
		t := target{s: e.Sub, qos: qos, retain: retain}
		if e.ID != 0 {
			t.subIDs = []uint32{e.ID}
		}
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
		t.s.deliver(delivery{msg: m, qos: t.qos, retain: t.retain, subIDs: t.subIDs})
	}
	clear(rs.targets)
	for _, g := range rs.m.Shared {
		srv.deliverShared(ctx, g, m, nil)
	}
	clear(rs.m.Subs)
	clear(rs.m.Shared)
	srv.stats.pubRouted.Add(1)
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

// canRead asks the session's Authorizer, if any, whether it may receive a
// message on name (Mosquitto 2.0 checks the ACL at delivery).
func (s *session) canRead(ctx context.Context, name string) bool {
	id := s.ident.Load()
	if id == nil {
		return false
	}
	a := id.sec.Authorizer
	return a == nil || a.Authorize(ctx, &id.client, name, Read)
}

// deliverShared gives m to one member of shared subscription group g,
// preferring connected members and skipping except, round robin (4.8.2).
func (srv *Server) deliverShared(ctx context.Context, g *topic.Group[*session], m *Message, except *session) bool {
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
		return false
	}
	qos := min(m.QoS, e.QoS)
	if srv.cfg.UpgradeOutgoingQoS {
		qos = e.QoS
	}
	var ids []uint32
	if e.ID != 0 {
		ids = []uint32{e.ID}
	}
	e.Sub.deliver(delivery{msg: m, qos: qos, retain: m.Retain && e.RetainAsPublished, subIDs: ids, group: g})
	return true
}

// redistribute offers the unacknowledged shared-subscription messages of an
// ended session to other members of their groups (4.8.2).
func (srv *Server) redistribute(orphans []delivery) {
	ctx := context.Background()
	for _, d := range orphans {
		if d.msg.expired(srv.now()) {
			continue
		}
		srv.deliverShared(ctx, d.group, d.msg, nil)
	}
}

// dropExpiredRetained removes the retained message on name if it has
// expired at now.
func (srv *Server) dropExpiredRetained(name string, now time.Time) {
	if m, ok := srv.retained.Get(name); ok && m.expired(now) {
		srv.retained.Delete(name)
	}
}
