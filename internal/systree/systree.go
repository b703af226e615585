package broker

import (
	"fmt"
	"io"
	"math"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/version"
	"github.com/midge-mqtt/midge/packet"
)

// sysQoS is the QoS of $SYS messages, as in Mosquitto (SYS_TREE_QOS).
const sysQoS = 2

// sysLoop publishes the $SYS/broker tree every sys_interval until stop is
// closed, as Mosquitto does (src/sys_tree.c): the version once, the uptime
// every time, every other value when it changed, all retained; at once,
// then at multiples of sys_interval in Unix time, as 2.1 does.
func (srv *Server) sysLoop(stop chan struct{}) {
	defer srv.wg.Done()
	st := newSysState(srv.now())
	srv.publishSysMessage("$SYS/broker/version", "midge version "+version.Version)
	srv.publishSys(st)
	every := srv.opt().sysInterval
	t := time.NewTimer(sysWait(time.Now(), every))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			srv.publishSys(st)
			if d := srv.opt().sysInterval; d > 0 {
				every = d // perhaps changed by Reload
			}
			t.Reset(sysWait(time.Now(), every))
		}
	}
}

// sysWait returns how long to wait from now until the next multiple of
// every since the Unix epoch: Mosquitto 2.1 publishes $SYS at those times
// (when the Unix time in seconds is a multiple of sys_interval), so that
// brokers with the same interval publish together.
func sysWait(now time.Time, every time.Duration) time.Duration {
	if every <= 0 {
		return time.Second
	}
	return every - time.Duration(now.UnixNano()%int64(every))
}

// sysState is what sysLoop remembers between two publications: the values
// last published, the counters at the last publication and the load
// averages. It belongs to the sysLoop goroutine.
type sysState struct {
	last      map[string]string
	lastTime  time.Time
	counters  map[string]uint64 // counter values at lastTime, by load name
	loads     map[string]float64
	first     bool
	clientMax int64
}

func newSysState(now time.Time) *sysState {
	return &sysState{
		last: make(map[string]string), lastTime: now, first: true,
		counters: make(map[string]uint64), loads: make(map[string]float64),
	}
}

// sysCounter is a cumulative counter behind a $SYS/broker/load/NAME/...
// average.
type sysCounter struct {
	name  string // "messages/received" in $SYS/broker/load/messages/received/1min
	value func(*Server) (uint64, bool)
}

// sysCounters are the counters Mosquitto computes load averages of. A
// counter whose value function reports false is not kept by the broker yet
// and its averages are not published.
var sysCounters = []sysCounter{
	{"messages/received", func(s *Server) (uint64, bool) { return s.stats.msgsIn.Load(), true }},
	{"messages/sent", func(s *Server) (uint64, bool) { return s.stats.msgsOut.Load(), true }},
	{"publish/dropped", func(s *Server) (uint64, bool) { return s.stats.dropped.Load(), true }},
	{"publish/received", func(s *Server) (uint64, bool) { return s.stats.pubIn.Load(), true }},
	{"publish/sent", func(s *Server) (uint64, bool) { return s.stats.pubOut.Load(), true }},
	{"bytes/received", func(s *Server) (uint64, bool) { return s.stats.bytesIn.Load(), true }},
	{"bytes/sent", func(s *Server) (uint64, bool) { return s.stats.bytesOut.Load(), true }},
	{"sockets", func(s *Server) (uint64, bool) { return s.stats.socketsAccepted.Load(), true }},
	{"connections", func(s *Server) (uint64, bool) { return s.stats.connectsReceived.Load(), true }},
}

// sysLoadWindows are the averaging windows of the load averages.
var sysLoadWindows = []struct {
	name string
	secs float64
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

// SysValues returns the current $SYS/broker values by topic, as published,
// except the load averages (which depend on the publication interval) and
// the version. It is safe for concurrent use.
func (srv *Server) SysValues() map[string]string {
	st := &srv.stats
	srv.mu.Lock()
	total := len(srv.sessions)
	srv.mu.Unlock()
	connected := st.connected.Load()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	retained, retainedBytes := srv.retainedStats()
	disconnected := max(int64(total)-connected, 0)
	shared, outCount, outBytes := srv.sessionCounts()
	heap := heapBytes()
	for m := st.heapMax.Load(); heap > m && !st.heapMax.CompareAndSwap(m, heap); m = st.heapMax.Load() {
	}
	v := map[string]string{
		"$SYS/broker/uptime":                    i(int64(srv.now().Sub(srv.started)/time.Second)) + " seconds",
		"$SYS/broker/clients/connected":         i(connected),
		"$SYS/broker/clients/active":            i(connected),
		"$SYS/broker/clients/total":             i(int64(total)),
		"$SYS/broker/clients/disconnected":      i(disconnected),
		"$SYS/broker/clients/inactive":          i(disconnected),
		"$SYS/broker/clients/maximum":           i(max(st.maxConnected.Load(), int64(total))),
		"$SYS/broker/messages/received":         u(st.msgsIn.Load()),
		"$SYS/broker/messages/sent":             u(st.msgsOut.Load()),
		"$SYS/broker/bytes/received":            u(st.bytesIn.Load()),
		"$SYS/broker/bytes/sent":                u(st.bytesOut.Load()),
		"$SYS/broker/publish/messages/received": u(st.pubIn.Load()),
		"$SYS/broker/publish/messages/sent":     u(st.pubOut.Load()),
		"$SYS/broker/publish/messages/dropped":  u(st.dropped.Load()),
		"$SYS/broker/publish/bytes/received":    u(st.pubBytesIn.Load()),
		"$SYS/broker/publish/bytes/sent":        u(st.pubBytesOut.Load()),
		"$SYS/broker/clients/expired":           u(st.expired.Load()),
		"$SYS/broker/subscriptions/count":       i(int64(srv.index.Len())),
		"$SYS/broker/retained messages/count":   i(int64(retained)),
		// Mosquitto's message store holds retained and queued messages;
		// midge counts the retained ones here (queued messages live in
		// each session's queue).
		"$SYS/broker/messages/stored":      i(int64(retained)),
		"$SYS/broker/store/messages/count": i(int64(retained)),
		"$SYS/broker/store/messages/bytes": i(int64(retainedBytes)),
		"$SYS/broker/heap/current":         u(heap),
		"$SYS/broker/heap/maximum":         u(st.heapMax.Load()),
		// Mosquitto 2.1's.
		"$SYS/broker/connections/socket/count":   u(st.socketsAccepted.Load()),
		"$SYS/broker/shared_subscriptions/count": i(int64(shared)),
		"$SYS/broker/packet/out/count":           i(int64(outCount)),
		"$SYS/broker/packet/out/bytes":           i(int64(outBytes)),
	}
	// The packet counters mosquitto(8) of 2.1 documents (2.1.2 itself
	// does not publish them: eclipse-mosquitto/mosquitto#3726).
	for t, name := range sysPacketNames {
		if name == "" {
			continue
		}
		in, out := st.typesIn[t].Load(), st.typesOut[t].Load()
		if t == int(packet.TypeConnect) {
			in = st.connectsReceived.Load() // read before the packet loop
		}
		v["$SYS/broker/mqtt/"+name+"/received"] = u(in)
		v["$SYS/broker/mqtt/"+name+"/sent"] = u(out)
	}
	v["$SYS/broker/mqtt/publish/dropped"] = u(st.dropped.Load())
	return v
}

// sysPacketNames names the packet types in $SYS/broker/mqtt/NAME/...,
// indexed by packet.Type.
var sysPacketNames = [16]string{
	packet.TypeConnect: "connect", packet.TypeConnack: "connack", packet.TypePublish: "publish",
	packet.TypePuback: "puback", packet.TypePubrec: "pubrec", packet.TypePubrel: "pubrel", packet.TypePubcomp: "pubcomp",
	packet.TypeSubscribe: "subscribe", packet.TypeSuback: "suback", packet.TypeUnsubscribe: "unsubscribe",
	packet.TypeUnsuback: "unsuback", packet.TypePingreq: "pingreq", packet.TypePingresp: "pingresp",
	packet.TypeDisconnect: "disconnect", packet.TypeAuth: "auth",
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
	srv.mu.Lock()
	sessions := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	for _, s := range sessions {
		s.mu.Lock()
		for f := range s.subs.all {
			if strings.HasPrefix(f, "$share/") {
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

// heapBytes returns the bytes of heap memory occupied by live objects and
// not yet swept dead ones, the closest Go has to Mosquitto's memory_used().
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// publishSys publishes the $SYS values that changed since the last time
// (the uptime always), and the load averages that moved by 0.01 or more.
func (srv *Server) publishSys(st *sysState) {
	now := srv.now()
	values := srv.SysValues()
	// Maxima only grow.
	if n, _ := strconv.ParseInt(values["$SYS/broker/clients/maximum"], 10, 64); n > st.clientMax {
		st.clientMax = n
	}
	values["$SYS/broker/clients/maximum"] = strconv.FormatInt(st.clientMax, 10)

	srv.publishSysMessage("$SYS/broker/uptime", values["$SYS/broker/uptime"])
	delete(values, "$SYS/broker/uptime")
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if v := values[name]; st.last[name] != v {
			st.last[name] = v
			srv.publishSysMessage(name, v)
		}
	}
	srv.publishLoads(st, now)
}

// publishLoads updates and publishes the load averages as Mosquitto does: an
// exponentially weighted moving average of the per-minute rate over 1, 5 and
// 15 minutes, published as "%.2f" when it changed by 0.01 or more (every
// value, as 0.00, the first time).
func (srv *Server) publishLoads(st *sysState, now time.Time) {
	dt := now.Sub(st.lastTime).Seconds()
	first := st.first
	if !first && dt <= 0 {
		return
	}
	for _, c := range sysCounters {
		v, ok := c.value(srv)
		if !ok {
			continue
		}
		prev, seen := st.counters[c.name]
		st.counters[c.name] = v
		rate := 0.0
		if seen && v >= prev && dt > 0 {
			rate = float64(v-prev) * 60 / dt
		}
		for _, w := range sysLoadWindows {
			topic := "$SYS/broker/load/" + c.name + "/" + w.name
			cur := st.loads[topic]
			next := 0.0
			if !first {
				next = rate + math.Exp(-dt/w.secs)*(cur-rate)
			}
			if first || math.Abs(next-cur) >= 0.01 {
				srv.publishSysMessage(topic, strconv.FormatFloat(next, 'f', 2, 64))
			}
			st.loads[topic] = next
		}
	}
	st.first = false
	st.lastTime = now
}

// publishSysMessage publishes a retained $SYS message from the broker.
func (srv *Server) publishSysMessage(topic, value string) {
	srv.publish(&Message{Topic: topic, Payload: []byte(value), QoS: sysQoS, Retain: true, Received: srv.now()}, nil)
}

// PublishLog publishes a line of the broker's log on topic, which must be
// under $SYS/broker/log/ (Mosquitto's log_dest topic): QoS 2, not retained.
// It returns an error for any other topic. It is safe for concurrent use and
// does not block on subscribers.
func (srv *Server) PublishLog(topic string, line []byte) error {
	if !strings.HasPrefix(topic, "$SYS/broker/log/") {
		return fmt.Errorf("broker: PublishLog: %q is not a $SYS/broker/log topic", topic)
	}
	srv.publish(&Message{Topic: topic, Payload: append([]byte(nil), line...), QoS: sysQoS, Received: srv.now()}, nil)
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
	type row struct {
		id, filter string
		qos        byte
	}
	srv.mu.Lock()
	sessions := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	var rows []row
	for _, s := range sessions {
		s.mu.Lock()
		for f, o := range s.subs.all {
			rows = append(rows, row{id: s.id, filter: f, qos: o.QoS})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.filter, b.filter)
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %d %s\n", r.id, r.qos, r.filter)
	}
	type ret struct {
		topic string
		n     int
	}
	var rets []ret
	srv.retained.Range(func(name string, m *Message) bool {
		rets = append(rets, ret{name, len(m.Payload)})
		return true
	})
	slices.SortFunc(rets, func(a, b ret) int { return strings.Compare(a.topic, b.topic) })
	for _, r := range rets {
		fmt.Fprintf(&b, "retained %s (%d bytes)\n", r.topic, r.n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
