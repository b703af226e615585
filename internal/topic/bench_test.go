package topic_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

// session stands in for the broker's subscriber handle.
type session struct {
	id     int
	online bool
}

// fleet is a realistic subscription mix: per device a state filter, a
// device-wide '#', a telemetry filter with a leading '+' and an exact command
// topic (four subscriptions each), plus a few whole-tree monitors, fleet-wide
// dashboards and a shared ingest group of 8.
type fleet struct {
	ix       *topic.Index[*session]
	devices  int
	sessions []*session
	bytes    float64 // heap bytes per subscription
}

// newFleet builds a fleet of about subs subscriptions; with -short (the
// brief run of every benchmark in scripts/test) at most 10,000.
func newFleet(tb testing.TB, subs int) *fleet {
	tb.Helper()
	if testing.Short() {
		subs = min(subs, 10_000)
	}
	devices := subs / 4
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	ix := topic.NewIndex[*session]()
	f := &fleet{ix: ix, devices: devices}
	sub := func(s *session, filter string) {
		if _, err := ix.Subscribe(s, filter, topic.Options{QoS: 1, ID: uint32(s.id%100 + 1)}); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range devices {
		id := strconv.Itoa(i)
		dev := &session{id: i, online: true}
		app := &session{id: devices + i, online: true}
		f.sessions = append(f.sessions, dev, app)
		sub(dev, "devices/"+id+"/+/state")
		sub(dev, "devices/"+id+"/cmd")
		sub(app, "devices/"+id+"/#")
		sub(app, "+/"+id+"/telemetry")
	}
	for i := range 8 {
		s := &session{id: 2*devices + i, online: i%4 != 0}
		f.sessions = append(f.sessions, s)
		sub(s, "#")
		sub(s, "devices/+/+/state")
		sub(s, "$share/ingest/devices/+/telemetry")
	}

	runtime.GC()
	runtime.ReadMemStats(&after)
	f.bytes = float64(after.HeapAlloc-before.HeapAlloc-sessionBytes(len(f.sessions))) / float64(ix.Len())
	return f
}

// sessionBytes approximates the heap the benchmark's own session values and
// the slice that holds them take, which are not the Index's.
func sessionBytes(n int) uint64 {
	return uint64(n) * (16 + 8)
}

// names returns n topic names publishers in the fleet would use.
func (f *fleet) names(n int) []string {
	r := rand.New(rand.NewPCG(5, 6))
	out := make([]string, n)
	for i := range out {
		id := r.IntN(f.devices)
		if i%2 == 0 {
			out[i] = fmt.Sprintf("devices/%d/temp/state", id)
		} else {
			out[i] = fmt.Sprintf("devices/%d/telemetry", id)
		}
	}
	return out
}

func BenchmarkIndexMatch(b *testing.B) {
	for _, subs := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			f := newFleet(b, subs)
			names := f.names(1024)
			var m topic.Matches[*session]
			b.ReportAllocs()
			i, fanout := 0, 0
			for b.Loop() {
				f.ix.Match(names[i%len(names)], &m)
				fanout += len(m.Subs) + len(m.Shared)
				i++
			}
			b.ReportMetric(float64(fanout)/float64(i), "matches/op")
			b.ReportMetric(f.bytes, "B/sub")
		})
	}
}

// BenchmarkIndexMatchParallel matches from every P at once, alone and with
// a writer churning subscriptions in the background.
func BenchmarkIndexMatchParallel(b *testing.B) {
	f := newFleet(b, 1_000_000)
	names := f.names(1024)
	for _, churn := range []bool{false, true} {
		b.Run(fmt.Sprintf("subs=1000000/churn=%v", churn), func(b *testing.B) {
			stop := make(chan struct{})
			done := make(chan struct{})
			var writes atomic.Int64
			go func() {
				defer close(done)
				if !churn {
					return
				}
				s := &session{id: -1}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					filter := "devices/" + strconv.Itoa(i%f.devices) + "/churn/+"
					f.ix.Subscribe(s, filter, topic.Options{})
					f.ix.Unsubscribe(s, filter)
					writes.Add(2)
				}
			}()
			b.ReportAllocs()
			var ops atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				var m topic.Matches[*session]
				i := rand.IntN(len(names))
				n := int64(0)
				for pb.Next() {
					f.ix.Match(names[i%len(names)], &m)
					i++
					n++
				}
				ops.Add(n)
			})
			close(stop)
			<-done
			if churn {
				b.ReportMetric(float64(writes.Load())/float64(ops.Load()), "writes/match")
			}
		})
	}
}

// BenchmarkGroupNext picks one online member of an 8-member group in which a
// quarter are offline.
func BenchmarkGroupNext(b *testing.B) {
	f := newFleet(b, 1000)
	var m topic.Matches[*session]
	f.ix.Match("devices/1/telemetry", &m)
	g := m.Shared[0]
	online := func(s *session) bool { return s.online }
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := g.Next(online); !ok {
			b.Fatal("no member")
		}
	}
}

// BenchmarkIndexChurn measures one Subscribe and one Unsubscribe (a pair per
// op) against a populated index, and a session ending with UnsubscribeAll and
// coming back with its four subscriptions.
func BenchmarkIndexChurn(b *testing.B) {
	f := newFleet(b, 1_000_000)
	b.Run("subs=1000000/pair", func(b *testing.B) {
		s := &session{id: -1}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			filter := "devices/" + strconv.Itoa(i%f.devices) + "/new/+"
			f.ix.Subscribe(s, filter, topic.Options{QoS: 1})
			f.ix.Unsubscribe(s, filter)
			i++
		}
	})
	b.Run("subs=1000000/session", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			d := i % f.devices
			dev := f.sessions[2*d]
			id := strconv.Itoa(d)
			f.ix.UnsubscribeAll(dev)
			f.ix.Subscribe(dev, "devices/"+id+"/+/state", topic.Options{QoS: 1})
			f.ix.Subscribe(dev, "devices/"+id+"/cmd", topic.Options{QoS: 1})
			i++
		}
	})
}

func BenchmarkRetainedMatch(b *testing.B) {
	topics := 100_000
	if testing.Short() {
		topics = 10_000
	}
	var r topic.Retained[*session]
	s := &session{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range topics / 4 {
		id := strconv.Itoa(i)
		r.Set("devices/"+id+"/temp/state", s)
		r.Set("devices/"+id+"/hum/state", s)
		r.Set("devices/"+id+"/status", s)
		r.Set("sites/"+strconv.Itoa(i%100)+"/devices/"+id, s)
	}
	r.Set("$SYS/broker/uptime", s)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perTopic := float64(after.HeapAlloc-before.HeapAlloc) / float64(r.Len())
	for _, filter := range []string{
		"devices/4242/status",
		"devices/4242/#",
		"devices/+/status",
		"sites/42/devices/+",
		"+/+/temp/state",
		"#",
	} {
		b.Run("topics=100000/filter="+filter, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				r.Match(filter, func(string, *session) bool { n++; return true })
			}
			b.ReportMetric(float64(n), "matches/op")
			b.ReportMetric(perTopic, "B/topic")
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		topic.Match("devices/+/telemetry/#", "devices/1234/telemetry/temp/c")
	}
}

func BenchmarkValidName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = topic.ValidName("devices/1234/telemetry/temp/c")
	}
}
