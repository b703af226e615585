package broker

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// sinkConn is a net.Conn that discards writes and blocks reads, counting
// the bytes written: a subscriber without a socket.
type sinkConn struct {
	written atomic.Int64
	closed  chan struct{}
}

func newSinkConn() *sinkConn { return &sinkConn{closed: make(chan struct{})} }

func (c *sinkConn) Read([]byte) (int, error) { <-c.closed; return 0, io.EOF }
func (c *sinkConn) Write(b []byte) (int, error) {
	c.written.Add(int64(len(b)))
	return len(b), nil
}
func (c *sinkConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}
func (c *sinkConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *sinkConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *sinkConn) SetDeadline(time.Time) error      { return nil }
func (c *sinkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *sinkConn) SetWriteDeadline(time.Time) error { return nil }

// benchSubscriber attaches a session with a sink connection subscribed to
// filter at qos.
func benchSubscriber(b *testing.B, srv *Server, id, filter string, qos byte, v byte) *sinkConn {
	nc := newSinkConn()
	l := &listener{cfg: Listener{}, name: "bench"}
	c := newConn(srv.ctx, srv, nc, l)
	c.version = v
	*c.client = Client{ID: id, Version: v}
	c.receiveMax = 65535
	if err := srv.attach(c, true, 0, nil, 0, &packet.Connack{}, func() {}); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.index.Subscribe(c.sess, filter, topic.Options{QoS: qos}); err != nil {
		b.Fatal(err)
	}
	c.sess.subs.set(filter, topic.Options{QoS: qos})
	c.sess.subCount.Store(1)
	return nc
}

// BenchmarkFanout routes one PUBLISH to n subscribers and encodes it for
// each, without sockets: the per-message cost of the broker's publish path
// (match, queue, writer wake-up, encode). Subscribers acknowledge nothing,
// so QoS 0 is used to keep the in-flight window out of the measurement.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		for _, v := range []byte{packet.Version311, packet.Version5} {
			b.Run(fmt.Sprintf("subs=%d/v=%d", n, v), func(b *testing.B) {
				srv := New(Config{AllowAnonymous: true, MaxInflightMessages: Unlimited, MaxQueuedMessages: Unlimited})
				sinks := make([]*sinkConn, n)
				for i := range n {
					sinks[i] = benchSubscriber(b, srv, fmt.Sprint("s", i), "bench/+/x", 0, v)
				}
				payload := make([]byte, 64)
				b.ReportAllocs()
				b.SetBytes(int64(len(payload) * n))
				for b.Loop() {
					srv.publish(&Message{Topic: "bench/1/x", Payload: payload}, nil)
				}
				b.StopTimer()
				// Let the writers drain, then check every delivery was written.
				want := int64(b.N) * int64(packet.Size(&packet.Publish{Topic: "bench/1/x", Payload: payload}, v))
				deadline := time.Now().Add(10 * time.Second)
				for _, s := range sinks {
					for s.written.Load() < want && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					if got := s.written.Load(); got < want {
						b.Fatalf("a subscriber got %d bytes, want %d", got, want)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
				for _, s := range sinks {
					s.Close()
				}
			})
		}
	}
}
