package broker

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/periodic"
	"github.com/midge-mqtt/midge/internal/subdump"
	"github.com/midge-mqtt/midge/internal/systree"
	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/internal/version"
)

// sysLoop publishes the $SYS/broker tree (see internal/systree) every
// sys_interval until stop is closed, as Mosquitto does (src/sys_tree.c):
// the version once, the uptime every time, every other value when it
// changed, all retained; at once, then at multiples of sys_interval in Unix
// time, as 2.1 does.
func (srv *Server) sysLoop(stop chan struct{}) {
	defer srv.wg.Done()
	st := systree.NewState(srv.now())
	srv.publishSysMessage("$SYS/broker/version", "midge version "+version.Version)
	publish := func() {
		now := srv.now()
		st.Publish(now, srv.sysSnapshot(), srv.publishSysMessage)
	}
	publish()
	every := srv.opt().sysInterval
	periodic.Run(stop, func() time.Duration {
		if d := srv.opt().sysInterval; d > 0 {
			every = d // perhaps changed by Reload
		}
		return systree.Wait(time.Now(), every)
	}, publish)
}

// SysValues returns the current $SYS/broker values by topic, as published,
// except the load averages (which depend on the publication interval) and
// the version. It is safe for concurrent use.
func (srv *Server) SysValues() map[string]string { return systree.Values(srv.sysSnapshot()) }

// sysSnapshot reads the counters the $SYS tree is computed from.
func (srv *Server) sysSnapshot() *systree.Snapshot {
	st := &srv.stats
	srv.mu.Lock()
	total := len(srv.sessions)
	srv.mu.Unlock()
	s := &systree.Snapshot{
		Uptime: srv.now().Sub(srv.started), Connected: st.connected.Load(), Total: total,
		MaxConnected: st.maxConnected.Load(),
		MsgsIn:       st.msgsIn.Load(), MsgsOut: st.msgsOut.Load(),
		BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
		PubIn: st.pubIn.Load(), PubOut: st.pubOut.Load(), Dropped: st.dropped.Load(),
		PubBytesIn: st.pubBytesIn.Load(), PubBytesOut: st.pubBytesOut.Load(),
		Expired:         st.expired.Load(),
		Subscriptions:   srv.index.Len(),
		Heap:            systree.HeapBytes(),
		SocketsAccepted: st.socketsAccepted.Load(), ConnectsReceived: st.connectsReceived.Load(),
	}
	s.Retained, s.RetainedBytes = srv.retainedStats()
	s.Shared, s.OutCount, s.OutBytes = srv.sessionCounts()
	for m := st.heapMax.Load(); s.Heap > m && !st.heapMax.CompareAndSwap(m, s.Heap); m = st.heapMax.Load() {
	}
	s.HeapMax = st.heapMax.Load()
	for t := range st.typesIn {
		s.TypesIn[t], s.TypesOut[t] = st.typesIn[t].Load(), st.typesOut[t].Load()
	}
	return s
}

// flushTypes adds the per-type packet counts of a batch to the server's,
// and clears them.
func flushTypes(batch *[16]uint32, to *[16]atomic.Uint64) {
	for t, n := range batch {
		if n != 0 {
			to[t].Add(uint64(n))
			batch[t] = 0
		}
	}
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

// retainedStats returns the number of retained messages and their payload
// bytes.
func (srv *Server) retainedStats() (n, bytes int) {
	srv.retained.Range(func(_ string, m *Message) bool {
		n++
		bytes += len(m.Payload)
		return true
	})
	return n, bytes
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
