package systree

import (
	"math"
	"runtime/metrics"
	"slices"
	"strconv"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// QoS is the QoS of $SYS messages, as in Mosquitto (SYS_TREE_QOS).
const QoS = 2

// Snapshot is what the $SYS tree is computed from: a broker's counters and
// gauges at one moment.
type Snapshot struct {
	Uptime             time.Duration
	Connected          int64 // clients connected now
	Total              int   // sessions, connected or not
	MaxConnected       int64 // the most clients connected at once
	MsgsIn, MsgsOut    uint64
	BytesIn, BytesOut  uint64
	PubIn, PubOut      uint64 // PUBLISH packets
	Dropped            uint64
	PubBytesIn         uint64
	PubBytesOut        uint64
	Expired            uint64 // sessions ended by their expiry
	Subscriptions      int
	Retained           int // retained messages
	RetainedBytes      int // their payload bytes
	Heap, HeapMax      uint64
	SocketsAccepted    uint64
	ConnectsReceived   uint64
	Shared             int        // shared subscriptions
	OutCount, OutBytes int        // packets queued for connected clients, and their payload bytes
	TypesIn, TypesOut  [16]uint64 // control packets by packet.Type
}

// Wait returns how long to wait from now until the next multiple of every
// since the Unix epoch: Mosquitto 2.1 publishes $SYS at those times (when
// the Unix time in seconds is a multiple of sys_interval), so that brokers
// with the same interval publish together.
func Wait(now time.Time, every time.Duration) time.Duration {
	if every <= 0 {
		return time.Second
	}
	return every - time.Duration(now.UnixNano()%int64(every))
}

// Values returns the $SYS/broker values of s by topic, as published,
// except the load averages (which depend on the publication interval) and
// the version.
func Values(s *Snapshot) map[string]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	disconnected := max(int64(s.Total)-s.Connected, 0)
	v := map[string]string{
		"$SYS/broker/uptime":                    i(int64(s.Uptime/time.Second)) + " seconds",
		"$SYS/broker/clients/connected":         i(s.Connected),
		"$SYS/broker/clients/active":            i(s.Connected),
		"$SYS/broker/clients/total":             i(int64(s.Total)),
		"$SYS/broker/clients/disconnected":      i(disconnected),
		"$SYS/broker/clients/inactive":          i(disconnected),
		"$SYS/broker/clients/maximum":           i(max(s.MaxConnected, int64(s.Total))),
		"$SYS/broker/messages/received":         u(s.MsgsIn),
		"$SYS/broker/messages/sent":             u(s.MsgsOut),
		"$SYS/broker/bytes/received":            u(s.BytesIn),
		"$SYS/broker/bytes/sent":                u(s.BytesOut),
		"$SYS/broker/publish/messages/received": u(s.PubIn),
		"$SYS/broker/publish/messages/sent":     u(s.PubOut),
		"$SYS/broker/publish/messages/dropped":  u(s.Dropped),
		"$SYS/broker/publish/bytes/received":    u(s.PubBytesIn),
		"$SYS/broker/publish/bytes/sent":        u(s.PubBytesOut),
		"$SYS/broker/clients/expired":           u(s.Expired),
		"$SYS/broker/subscriptions/count":       i(int64(s.Subscriptions)),
		"$SYS/broker/retained messages/count":   i(int64(s.Retained)),
		// Mosquitto's message store holds retained and queued messages;
		// midge counts the retained ones here (queued messages live in
		// each session's queue).
		"$SYS/broker/messages/stored":      i(int64(s.Retained)),
		"$SYS/broker/store/messages/count": i(int64(s.Retained)),
		"$SYS/broker/store/messages/bytes": i(int64(s.RetainedBytes)),
		"$SYS/broker/heap/current":         u(s.Heap),
		"$SYS/broker/heap/maximum":         u(s.HeapMax),
		// Mosquitto 2.1's.
		"$SYS/broker/connections/socket/count":   u(s.SocketsAccepted),
		"$SYS/broker/shared_subscriptions/count": i(int64(s.Shared)),
		"$SYS/broker/packet/out/count":           i(int64(s.OutCount)),
		"$SYS/broker/packet/out/bytes":           i(int64(s.OutBytes)),
	}
	// The packet counters mosquitto(8) of 2.1 documents (2.1.2 itself
	// does not publish them: eclipse-mosquitto/mosquitto#3726).
	for t, name := range packetNames {
		if name == "" {
			continue
		}
		in, out := s.TypesIn[t], s.TypesOut[t]
		if t == int(packet.TypeConnect) {
			in = s.ConnectsReceived // read before the packet loop
		}
		v["$SYS/broker/mqtt/"+name+"/received"] = u(in)
		v["$SYS/broker/mqtt/"+name+"/sent"] = u(out)
	}
	v["$SYS/broker/mqtt/publish/dropped"] = u(s.Dropped)
	return v
}

// packetNames names the packet types in $SYS/broker/mqtt/NAME/..., indexed
// by packet.Type.
var packetNames = [16]string{
	packet.TypeConnect: "connect", packet.TypeConnack: "connack", packet.TypePublish: "publish",
	packet.TypePuback: "puback", packet.TypePubrec: "pubrec", packet.TypePubrel: "pubrel", packet.TypePubcomp: "pubcomp",
	packet.TypeSubscribe: "subscribe", packet.TypeSuback: "suback", packet.TypeUnsubscribe: "unsubscribe",
	packet.TypeUnsuback: "unsuback", packet.TypePingreq: "pingreq", packet.TypePingresp: "pingresp",
	packet.TypeDisconnect: "disconnect", packet.TypeAuth: "auth",
}

// HeapBytes returns the bytes of heap memory occupied by live objects and
// not yet swept dead ones, the closest Go has to Mosquitto's memory_used().
func HeapBytes() uint64 { return Uint64Metric("/memory/classes/heap/objects:bytes") }

// Uint64Metric returns the value of the runtime/metrics metric name, or 0
// if the runtime has no such metric of kind uint64.
func Uint64Metric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// State is what a publisher of the tree remembers between two
// publications: the values last published, the counters at the last
// publication and the load averages. It belongs to one goroutine.
type State struct {
	last      map[string]string
	lastTime  time.Time
	counters  map[string]uint64 // counter values at lastTime, by load name
	loads     map[string]float64
	first     bool
	clientMax int64
}

// NewState returns the state of a publisher that starts at now.
func NewState(now time.Time) *State {
	return &State{
		last: make(map[string]string), lastTime: now, first: true,
		counters: make(map[string]uint64), loads: make(map[string]float64),
	}
}

// counter is a cumulative counter behind a $SYS/broker/load/NAME/...
// average.
type counter struct {
	name  string // "messages/received" in $SYS/broker/load/messages/received/1min
	value func(*Snapshot) uint64
}

// counters are the counters Mosquitto computes load averages of.
var counters = []counter{
	{"messages/received", func(s *Snapshot) uint64 { return s.MsgsIn }},
	{"messages/sent", func(s *Snapshot) uint64 { return s.MsgsOut }},
	{"publish/dropped", func(s *Snapshot) uint64 { return s.Dropped }},
	{"publish/received", func(s *Snapshot) uint64 { return s.PubIn }},
	{"publish/sent", func(s *Snapshot) uint64 { return s.PubOut }},
	{"bytes/received", func(s *Snapshot) uint64 { return s.BytesIn }},
	{"bytes/sent", func(s *Snapshot) uint64 { return s.BytesOut }},
	{"sockets", func(s *Snapshot) uint64 { return s.SocketsAccepted }},
	{"connections", func(s *Snapshot) uint64 { return s.ConnectsReceived }},
}

// loadWindows are the averaging windows of the load averages.
var loadWindows = []struct {
	name string
	secs float64
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

// Publish calls publish for the $SYS values of snap, taken at now, that
// changed since the last time (the uptime always, first), and for the load
// averages that moved by 0.01 or more.
func (st *State) Publish(now time.Time, snap *Snapshot, publish func(topic, value string)) {
	values := Values(snap)
	// Maxima only grow.
	if n, _ := strconv.ParseInt(values["$SYS/broker/clients/maximum"], 10, 64); n > st.clientMax {
		st.clientMax = n
	}
	values["$SYS/broker/clients/maximum"] = strconv.FormatInt(st.clientMax, 10)

	publish("$SYS/broker/uptime", values["$SYS/broker/uptime"])
	delete(values, "$SYS/broker/uptime")
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if v := values[name]; st.last[name] != v {
			st.last[name] = v
			publish(name, v)
		}
	}
	st.publishLoads(now, snap, publish)
}

// publishLoads updates and publishes the load averages as Mosquitto does: an
// exponentially weighted moving average of the per-minute rate over 1, 5 and
// 15 minutes, published as "%.2f" when it changed by 0.01 or more (every
// value, as 0.00, the first time).
func (st *State) publishLoads(now time.Time, snap *Snapshot, publish func(topic, value string)) {
	dt := now.Sub(st.lastTime).Seconds()
	first := st.first
	if !first && dt <= 0 {
		return
	}
	for _, c := range counters {
		v := c.value(snap)
		prev, seen := st.counters[c.name]
		st.counters[c.name] = v
		rate := 0.0
		if seen && v >= prev && dt > 0 {
			rate = float64(v-prev) * 60 / dt
		}
		for _, w := range loadWindows {
			topic := "$SYS/broker/load/" + c.name + "/" + w.name
			cur := st.loads[topic]
			next := 0.0
			if !first {
				next = rate + math.Exp(-dt/w.secs)*(cur-rate)
			}
			if first || math.Abs(next-cur) >= 0.01 {
				publish(topic, strconv.FormatFloat(next, 'f', 2, 64))
			}
			st.loads[topic] = next
		}
	}
	st.first = false
	st.lastTime = now
}
