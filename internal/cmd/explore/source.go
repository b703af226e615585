package explore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/web"
)

// defaultFilters are what explore subscribes to without -t.
var defaultFilters = []string{"#", "$SYS/#"}

// source is a web.Source that is an MQTT client of a broker: what it
// receives is what the dashboard shows, and the dashboard publishes through
// it. It keeps what it receives in a store.
type source struct {
	name  string // the saved connection's name, "" for the command line's
	conn  *clienttool.Connection
	store *store // nil: no history on disk
	log   *slog.Logger
	cl    *client.Client // set by dial before the source is shared
	start time.Time

	mu        sync.Mutex                    // guards the fields below
	observers map[int]func(*broker.Message) // by id
	nextObs   int
	retained  map[string]*broker.Message // latest retained message of each topic, as received
	sys       map[string]string          // latest $SYS values
	pubIn     uint64                     // PUBLISH packets received
	pubOut    uint64                     // PUBLISH packets sent
	bytesIn   uint64                     // payload bytes received
	bytesOut  uint64                     // payload bytes sent
	// deleting holds the topics whose retained message DeleteRetained
	// cleared, until the empty message comes back through the
	// subscription: it is shown as published, with the retain flag (a
	// subscriber gets it without), so that the topic is no longer marked
	// retained.
	deleting map[string]time.Time
}

// dial connects as conn says and subscribes; st, if not nil, keeps the
// history. The client reconnects by itself if the connection drops.
func dial(ctx context.Context, name string, conn *clienttool.Connection, st *store, log *slog.Logger) (*source, error) {
	s := &source{name: name, conn: conn, store: st, log: log, start: time.Now(),
		observers: map[int]func(*broker.Message){}, retained: map[string]*broker.Message{}, sys: map[string]string{},
		deleting: map[string]time.Time{}}
	opts := conn.Options
	opts.OnMessage = s.receive
	opts.Reconnect = &client.Reconnect{MinDelay: time.Second, MaxDelay: 30 * time.Second}
	opts.OnConnectionLost = func(err error) { log.Warn("explore: connection to " + conn.Server + " lost: " + err.Error()) }
	opts.Logger = log
	if opts.ProtocolVersion == packet.Version5 {
		// midge sub announces libmosquitto's Receive Maximum of 20; a
		// dashboard subscribed to everything at QoS 2 wants the widest
		// window (with 20, mosquitto 2.0.11 was seen to exceed it and the
		// client to drop the connection).
		opts.Properties.SetUint(packet.PropReceiveMaximum, 65535)
	}
	cl, _, err := client.Dial(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", conn.Server, err)
	}
	s.cl = cl
	subs := conn.Subscriptions
	if len(subs) == 0 {
		qos := byte(2) // to see the QoS each message was published with
		if conn.QoSGiven {
			qos = conn.QoS
		}
		for _, f := range defaultFilters {
			subs = append(subs, packet.Subscription{Filter: f, QoS: qos})
		}
	}
	ack, err := cl.Subscribe(ctx, subs...)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("subscribing at %s: %w", conn.Server, err)
	}
	for i, rc := range ack.ReasonCodes {
		if rc >= 0x80 && i < len(subs) {
			log.Warn(fmt.Sprintf("explore: %s refused the subscription to %q (reason 0x%02x)", conn.Server, subs[i].Filter, byte(rc)))
		}
	}
	return s, nil
}

// close disconnects the client.
func (s *source) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.cl.Disconnect(ctx, packet.NormalDisconnection, nil) != nil {
		s.cl.Close()
	}
}

// receive handles one message the client received: it runs on the
// client's dispatch goroutine.
func (s *source) receive(p *client.Message) {
	m := &broker.Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain, Received: time.Now()}
	if props := forwarded(&p.Properties); props != nil {
		m.Properties = props
	}
	s.mu.Lock()
	s.pubIn++
	s.bytesIn += uint64(len(p.Payload))
	if at, ok := s.deleting[p.Topic]; ok && len(p.Payload) == 0 {
		delete(s.deleting, p.Topic)
		if time.Since(at) < time.Minute {
			m.Retain = true
		}
	}
	if m.Retain {
		if len(p.Payload) == 0 {
			delete(s.retained, p.Topic)
		} else {
			s.retained[p.Topic] = m
		}
	}
	if strings.HasPrefix(p.Topic, "$SYS/") {
		s.sys[p.Topic] = string(p.Payload)
	}
	obs := make([]func(*broker.Message), 0, len(s.observers))
	for _, fn := range s.observers {
		obs = append(obs, fn)
	}
	s.mu.Unlock()
	if s.store != nil {
		s.store.add(m)
	}
	for _, fn := range obs {
		fn(m)
	}
}

// forwarded returns the properties of a received PUBLISH that describe the
// message (not the connection: Topic Alias, Subscription Identifiers are
// dropped), or nil if there are none.
func forwarded(p *packet.Properties) *packet.Properties {
	out := &packet.Properties{}
	if p.Has(packet.PropPayloadFormat) {
		out.SetUint(packet.PropPayloadFormat, uint32(p.PayloadFormat))
	}
	if p.Has(packet.PropContentType) {
		out.SetString(packet.PropContentType, p.ContentType)
	}
	if p.Has(packet.PropResponseTopic) {
		out.SetString(packet.PropResponseTopic, p.ResponseTopic)
	}
	if p.Has(packet.PropCorrelationData) {
		out.CorrelationData = append([]byte(nil), p.CorrelationData...)
		out.Set(packet.PropCorrelationData)
	}
	out.User = append(out.User, p.User...)
	if out.Empty() {
		return nil
	}
	return out
}

// Observe implements web.Source.
func (s *source) Observe(fn func(*broker.Message)) (remove func()) {
	s.mu.Lock()
	id := s.nextObs
	s.nextObs++
	s.observers[id] = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.observers, id)
		s.mu.Unlock()
	}
}

// RetainedMessages implements web.Source with the retained messages
// received so far.
func (s *source) RetainedMessages(filter string, fn func(*broker.Message) bool) {
	s.mu.Lock()
	var ms []*broker.Message
	for t, m := range s.retained {
		if topic.Match(filter, t) {
			ms = append(ms, m)
		}
	}
	s.mu.Unlock()
	for _, m := range ms {
		if !fn(m) {
			return
		}
	}
}

// History implements web.HistorySource with the stored history.
func (s *source) History(fn func(*broker.Message) bool) {
	if s.store == nil {
		return
	}
	if err := s.store.each(func(topic string, sm *storedMessage) bool { return fn(sm.message(topic)) }); err != nil {
		s.log.Error("explore: reading history: " + err.Error())
	}
}

// Publish implements web.Source: the client publishes m.
func (s *source) Publish(ctx context.Context, m *broker.Message) error {
	p := &client.Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}
	if m.Properties != nil {
		p.Properties = *m.Properties
	}
	if !m.Expiry.IsZero() {
		secs := max(int64(time.Until(m.Expiry).Round(time.Second)/time.Second), 1)
		p.Properties.SetUint(packet.PropMessageExpiry, uint32(min(secs, 1<<32-1)))
	}
	if !packet.ValidTopicName(m.Topic) {
		return broker.ErrInvalidTopic
	}
	if err := s.cl.Publish(ctx, p); err != nil {
		return err
	}
	s.mu.Lock()
	s.pubOut++
	s.bytesOut += uint64(len(m.Payload))
	s.mu.Unlock()
	return nil
}

// DeleteRetained implements web.Source: it publishes an empty retained
// message to each topic matching filter whose retained message the client
// has received.
func (s *source) DeleteRetained(ctx context.Context, filter string) (int, error) {
	var topics []string
	s.RetainedMessages(filter, func(m *broker.Message) bool {
		topics = append(topics, m.Topic)
		return true
	})
	n := 0
	for _, t := range topics {
		s.mu.Lock()
		s.deleting[t] = time.Now()
		s.mu.Unlock()
		if err := s.cl.Publish(ctx, &client.Message{Topic: t, Retain: true, QoS: 1}); err != nil {
			return n, err
		}
		s.mu.Lock()
		delete(s.retained, t)
		s.mu.Unlock()
		n++
	}
	return n, nil
}

// Sessions implements web.Source: a client sees no sessions.
func (s *source) Sessions() []broker.SessionInfo { return nil }

// Disconnect implements web.Source: a client cannot disconnect others.
func (s *source) Disconnect(string) bool { return false }

// Stats implements web.Source with the broker's $SYS values where it
// publishes them (Mosquitto, midge), else the client's own counters.
func (s *source) Stats() broker.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	num := func(topic string) (uint64, bool) {
		v, ok := s.sys["$SYS/broker/"+topic]
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(strings.Fields(v + " 0")[0], 64)
		return uint64(max(f, 0)), err == nil
	}
	st := broker.Stats{Uptime: time.Since(s.start), Retained: len(s.retained),
		PublishIn: s.pubIn, PublishOut: s.pubOut, PublishBytesIn: s.bytesIn, PublishBytesOut: s.bytesOut}
	set := func(dst *uint64, topic string) {
		if v, ok := num(topic); ok {
			*dst = v
		}
	}
	set(&st.PublishIn, "publish/messages/received")
	set(&st.PublishOut, "publish/messages/sent")
	set(&st.MessagesIn, "messages/received")
	set(&st.MessagesOut, "messages/sent")
	set(&st.BytesIn, "bytes/received")
	set(&st.BytesOut, "bytes/sent")
	set(&st.Dropped, "publish/messages/dropped")
	if v, ok := num("clients/connected"); ok {
		st.ClientsConnected = int64(v)
	}
	if v, ok := num("clients/maximum"); ok {
		st.ClientsMaximum = int64(v)
	}
	if v, ok := num("clients/total"); ok {
		st.Sessions = int(v)
	}
	if v, ok := num("subscriptions/count"); ok {
		st.Subscriptions = int(v)
	}
	if v, ok := num("retained messages/count"); ok {
		st.Retained = int(v)
	}
	return st
}

// SysValues implements web.Source with the $SYS values received.
func (s *source) SysValues() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.sys))
	for k, v := range s.sys {
		out[k] = v
	}
	return out
}

// Describe implements web.Describer.
func (s *source) Describe() web.SourceInfo {
	return web.SourceInfo{Kind: "client", Server: s.conn.Server, Connection: s.name,
		Connected: s.cl.Connected(), Export: s.store != nil}
}

var errNoConnection = errors.New("no such saved connection")
