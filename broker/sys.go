package broker

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/subdump"
	"github.com/midge-mqtt/midge/internal/systree"
	"github.com/midge-mqtt/midge/internal/topic"
)

// sysLoop publishes the $SYS/broker tree (see internal/systree) every
// sys_interval until stop is closed.
func (srv *Server) sysLoop(stop chan struct{}) {
	defer srv.wg.Done()
	systree.Run(stop, srv.now, func() time.Duration { return srv.opt().sysInterval }, srv.sysSnapshot, srv.publishSysMessage)
}

// SysValues returns the current $SYS/broker values by topic, as published,
// except the load averages (which depend on the publication interval) and
// the version. It is safe for concurrent use.
func (srv *Server) SysValues() map[string]string { return systree.Values(srv.sysSnapshot()) }

// sysSnapshot reads the counters the $SYS tree is computed from.
func (srv *Server) sysSnapshot() *systree.Snapshot {
	srv.mu.Lock()
	total := len(srv.sessions)
	srv.mu.Unlock()
	s := &systree.Snapshot{Uptime: srv.now().Sub(srv.started), Total: total, Subscriptions: srv.index.Len()}
	srv.stats.Fill(s)
	srv.retained.Range(func(_ string, m *Message) bool {
		s.Retained, s.RetainedBytes = s.Retained+1, s.RetainedBytes+len(m.Payload)
		return true
	})
	s.Shared, s.OutCount, s.OutBytes = srv.sessionCounts()
	return s
}

// sessionCounts walks the sessions once, each under its lock: the shared
// subscriptions they hold, and the packets queued for connected clients and
// not yet written with their payload bytes (Mosquitto's "packet/out").
func (srv *Server) sessionCounts() (shared, outCount, outBytes int) {
	sessions := srv.sessionList()
	for _, s := range sessions {
		s.mu.Lock()
		for f := range s.subs.all {
			if topic.IsShared(f) {
				shared++
			}
		}
		if c := s.conn; c != nil {
			outCount += s.queueLen() + len(c.ctrl)
			outBytes += s.queuedBytes
		}
		s.mu.Unlock()
	}
	return shared, outCount, outBytes
}

// publishSysMessage publishes a retained $SYS message from the broker.
func (srv *Server) publishSysMessage(topic, value string) {
	srv.publish(&Message{Topic: topic, Payload: []byte(value), QoS: systree.QoS, Retain: true, Received: srv.now()}, nil)
}

// PublishLog publishes a line of the broker's log on topic, which must be
// under $SYS/broker/log/ (Mosquitto's log_dest topic): QoS 2, not retained.
// It returns an error for any other topic. It is safe for concurrent use and
// does not block on subscribers.
func (srv *Server) PublishLog(topic string, line []byte) error {
	if !strings.HasPrefix(topic, "$SYS/broker/log/") {
		return fmt.Errorf("broker: PublishLog: %q is not a $SYS/broker/log topic", topic)
	}
	srv.publish(&Message{Topic: topic, Payload: append([]byte(nil), line...), QoS: systree.QoS, Received: srv.now()}, nil)
	return nil
}

// WriteSubscriptions writes every client's subscriptions and then the topics
// of the retained messages to w, one per line, sorted:
//
//	CLIENT_ID QOS FILTER
//	retained TOPIC (N bytes)
//
// It is what Mosquitto prints on SIGUSR2 ("the subscription tree"), in a
// form that is easier to read and compare.
func (srv *Server) WriteSubscriptions(w io.Writer) error {
	sessions := srv.sessionList()
	var subs []subdump.Sub
	for _, s := range sessions {
		s.mu.Lock()
		for f, o := range s.subs.all {
			subs = append(subs, subdump.Sub{ClientID: s.id, Filter: f, QoS: o.QoS})
		}
		s.mu.Unlock()
	}
	var rets []subdump.Retained
	srv.retained.Range(func(name string, m *Message) bool {
		rets = append(rets, subdump.Retained{Topic: name, Bytes: len(m.Payload)})
		return true
	})
	return subdump.Write(w, subs, rets)
}
