package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// This file is the broker's administrative API, for dashboards and
// embedding programs: what sessions exist, what flows, and a few actions.
// All of it is safe for concurrent use.

// SessionInfo describes a session at one moment.
type SessionInfo struct {
	ClientID    string
	Connected   bool
	Username    string
	HasUsername bool
	Remote      string // the client's address while connected
	Listener    string
	Version     byte          // protocol level: 3, 4 or 5
	KeepAlive   time.Duration // as enforced (1.5 times the client's), 0 for none
	Expiry      uint32        // Session Expiry Interval, seconds; 0xFFFFFFFF never
	ConnectedAt time.Time     // of the current connection; zero if offline
	// Subscriptions as subscribed, sorted by filter.
	Subscriptions []SubscriptionInfo
	Queued        int    // messages waiting to be sent (for offline persistent sessions: in the store)
	Inflight      int    // QoS 1 and 2 messages sent and not yet acknowledged
	Dropped       uint64 // messages dropped because its queue was full
}

// SubscriptionInfo is one subscription of a session. It is
// packet.Subscription, the one declaration of subscription options.
type SubscriptionInfo = packet.Subscription

// sessionList returns the sessions, for walking them one lock at a time.
func (srv *Server) sessionList() []*session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ss := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		ss = append(ss, s)
	}
	return ss
}

// Sessions returns every session, sorted by client identifier.
func (srv *Server) Sessions() []SessionInfo {
	ss := srv.sessionList()
	out := make([]SessionInfo, 0, len(ss))
	for _, s := range ss {
		if info, ok := s.info(); ok {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}

// Session returns the session of clientID.
func (srv *Server) Session(clientID string) (SessionInfo, bool) {
	srv.mu.Lock()
	s := srv.sessions[clientID]
	srv.mu.Unlock()
	if s == nil {
		return SessionInfo{}, false
	}
	return s.info()
}

// info describes s; false if it has ended.
func (s *session) info() (SessionInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return SessionInfo{}, false
	}
	info := SessionInfo{ClientID: s.id, Version: s.version, Expiry: s.expiry,
		Queued: s.queueLen() + s.storedQueued, Inflight: s.flight.Len(), Dropped: s.dropped}
	if id := s.ident.Load(); id != nil {
		info.Username, info.HasUsername, info.Listener = id.client.Username, id.client.HasUsername, id.client.Listener
	}
	if c := s.conn; c != nil {
		info.Connected = true
		info.Remote = c.remoteAddr()
		info.KeepAlive = c.keepAlive
		info.ConnectedAt = time.Unix(0, c.connectedAt)
	}
	for f, o := range s.subs.all {
		info.Subscriptions = append(info.Subscriptions, SubscriptionInfo{Filter: f, QoS: o.QoS, NoLocal: o.NoLocal,
			RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, ID: o.ID})
	}
	slices.SortFunc(info.Subscriptions, func(a, b SubscriptionInfo) int { return strings.Compare(a.Filter, b.Filter) })
	return info, true
}

// Disconnect closes the connection of clientID, telling an MQTT 5 client
// why with reason code 0x98 (Administrative action). Its session stays as
// its expiry says. It reports whether the client was connected.
func (srv *Server) Disconnect(clientID string) bool {
	return srv.DisconnectWith(clientID, packet.AdministrativeAction)
}

// DisconnectWith is Disconnect with another reason code, such as 0x8E
// (Session taken over) when another cluster node took the client over.
func (srv *Server) DisconnectWith(clientID string, code packet.ReasonCode) bool {
	srv.mu.Lock()
	s := srv.sessions[clientID]
	srv.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.kick(strings.ToLower(code.String()), code)
	return true
}

// ErrInvalidTopic is returned by Publish for a topic name a client could
// not publish to.
var ErrInvalidTopic = errors.New("broker: invalid topic name")

// Publish routes m as the broker itself publishes ($SYS aside): to every
// matching subscription, stored as retained if m.Retain (an empty payload
// clears it). With a Store it returns once m is durable where it must be.
// m.Publisher may name who asked for it (a dashboard user, say "web:alice"):
// observers see it, and nothing else depends on it. m must not be changed
// afterwards.
func (srv *Server) Publish(ctx context.Context, m *Message) error {
	if !packet.ValidTopicName(m.Topic) || topic.IsSys(m.Topic) {
		return ErrInvalidTopic
	}
	return srv.publishWait(ctx, m)
}

// publishWait publishes m from the broker and, with a Store, waits until
// it is durable or ctx is done.
func (srv *Server) publishWait(ctx context.Context, m *Message) error {
	if m.Received.IsZero() {
		m.Received = srv.now()
	}
	if srv.commit == nil {
		srv.publish(m, nil)
		return nil
	}
	done := make(chan error, 1)
	srv.publishDurable(m, nil, nil, func(_ bool, err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Route is Publish without storing m as retained (a cluster stores it
// with SetRetained): m.Retain is the flag Retain As Published shows.
func (srv *Server) Route(ctx context.Context, m *Message) error {
	m.routeOnly = true
	return srv.Publish(ctx, m)
}

// RouteAsync is Route without waiting: m is handed to every matching
// session now (QoS 2 deliveries to persistent sessions once they are
// durable), and done is called once with the outcome: nil when every
// delivery to a persistent session is durable (at once without a Store),
// or the error (ErrInvalidTopic, or the Store's: those deliveries were
// not made). done may run before RouteAsync returns, or on another
func (srv *Server) RouteAsync(m *Message, done func(error)) {
	if !packet.ValidTopicName(m.Topic) || topic.IsSys(m.Topic) {
		done(ErrInvalidTopic)
		return
	}
	m.routeOnly = true
	if m.Received.IsZero() {
		m.Received = srv.now()
	}
	if srv.commit == nil {
		srv.publish(m, nil)
		done(nil)
		return
	}
	srv.publishDurable(m, nil, nil, func(_ bool, err error) { done(err) })
}

// RouteSelectedAsync is RouteAsync with RouteSelected's selection: the
// shared subscription groups that deliver m here.
func (srv *Server) RouteSelectedAsync(m *Message, sel Selection, done func(error)) {
	m.sel = &sel
	srv.RouteAsync(m, done)
}

// SetRetained stores m as the retained message of its topic (an empty
// payload deletes it), as a retained Publish would, without routing it.
func (srv *Server) SetRetained(m *Message) error {
	if !packet.ValidTopicName(m.Topic) {
		return ErrInvalidTopic
	}
	m.Retain = true
	atomic.StoreUint64(&m.matchGen, 0) // not routed here: new subscribers get it
	srv.applyRetained(m)
	if srv.commit != nil && storable(m.Topic) && !srv.opt().RetainUnavailable {
		srv.commit.add(func(b *Batch) { storeRetained(b, m) }, nil)
	}
	return nil
}

// RetainedMessages calls fn for each retained message whose topic filter
// matches, until fn returns false. "#" visits all but $SYS.
func (srv *Server) RetainedMessages(filter string, fn func(*Message) bool) {
	srv.retained.Match(filter, func(_ string, m *Message) bool { return fn(m) })
}

// DeleteRetained removes the retained messages whose topics filter
// matches and returns how many it removed.
func (srv *Server) DeleteRetained(ctx context.Context, filter string) (int, error) {
	if err := topic.ValidFilter(filter); err != nil {
		return 0, err
	}
	var names []string
	srv.retained.Match(filter, func(name string, _ *Message) bool {
		names = append(names, name)
		return true
	})
	for _, name := range names {
		if err := srv.Publish(ctx, &Message{Topic: name, Retain: true}); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

// Observe registers fn to see every message routed, after the publisher's
// rights were checked, in publishing order per publisher. fn runs on the
// publishing goroutine (holding no lock of the server's), so it should not
// block: copy or sample, and hand work to a goroutine of your own. A wait
// there holds back that publisher (and every subscriber's copy of the
// message), which a cluster uses as backpressure when a peer is slow. The Message must not be changed. Observers
// cost one atomic load per message when none is registered. The returned
// function removes fn.
func (srv *Server) Observe(fn func(*Message)) (remove func()) { return srv.observers.Add(fn) }

// notify calls the observers with m.
func (srv *Server) notify(m *Message) { srv.observers.Notify(m) }

// Stats are the broker's counters, as $SYS publishes them.
type Stats struct {
	Uptime           time.Duration
	ClientsConnected int64
	ClientsMaximum   int64
	Sessions         int
	Subscriptions    int
	Retained         int
	MessagesIn       uint64 // control packets received
	MessagesOut      uint64 // control packets sent
	BytesIn          uint64
	BytesOut         uint64
	PublishIn        uint64 // PUBLISH packets received
	PublishOut       uint64 // PUBLISH packets sent
	PublishBytesIn   uint64
	PublishBytesOut  uint64
	Dropped          uint64 // messages dropped for full queues or too large for a client
	SocketsAccepted  uint64
	ConnectsReceived uint64
	SessionsExpired  uint64
	// ListenerConnections counts the open connections of each listener, by
	// name.
	ListenerConnections map[string]int64
}

// Stats returns the current counters.
func (srv *Server) Stats() Stats {
	st := &srv.stats
	srv.mu.Lock()
	n := len(srv.sessions)
	perListener := make(map[string]int64, len(srv.listeners))
	for l := range srv.listeners {
		perListener[l.name] += l.conns.Load()
	}
	srv.mu.Unlock()
	return Stats{ListenerConnections: perListener,
		Uptime: srv.now().Sub(srv.started), ClientsConnected: st.Connected.Load(), ClientsMaximum: st.MaxConnected.Load(),
		Sessions: n, Subscriptions: srv.index.Len(), Retained: srv.retained.Len(),
		MessagesIn: st.In.Msgs.Load(), MessagesOut: st.Out.Msgs.Load(), BytesIn: st.BytesIn.Load(), BytesOut: st.BytesOut.Load(),
		PublishIn: st.In.Pubs.Load(), PublishOut: st.Out.Pubs.Load(), PublishBytesIn: st.In.PubBytes.Load(),
		PublishBytesOut: st.Out.PubBytes.Load(), Dropped: st.Dropped.Load(), SocketsAccepted: st.SocketsAccepted.Load(),
		ConnectsReceived: st.ConnectsReceived.Load(), SessionsExpired: st.Expired.Load(),
	}
}
