package client_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// BenchmarkPublish measures publishing to midge in-process over TCP, with a
// 64-byte payload and no subscriber: Publish waits for each message (QoS 0:
// written; QoS 1: PUBACK), PublishAsync keeps the in-flight window full.
func BenchmarkPublish(b *testing.B) {
	srv := testutil.StartBroker(b, broker.Config{AllowAnonymous: true, MaxInflightMessages: 1000})
	benchPublish(b, srv.Addr)
}

// benchPublish runs the publish benchmarks against the server at addr.
func benchPublish(b *testing.B, addr string) {
	payload := make([]byte, 64)
	for _, bc := range []struct {
		name  string
		qos   byte
		async bool
	}{
		{"qos0/sync", 0, false},
		{"qos0/async", 0, true},
		{"qos1/sync", 1, false},
		{"qos1/async", 1, true},
		{"qos2/async", 2, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			c, _, err := client.Dial(ctx, client.Options{Address: addr, ProtocolVersion: packet.Version5, CleanStart: true})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			m := &client.Message{Topic: "bench/publish", QoS: bc.qos, Payload: payload}
			var wg sync.WaitGroup
			done := func(err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if bc.async {
					wg.Add(1)
					err = c.PublishAsync(ctx, m, done)
				} else {
					err = c.Publish(ctx, m)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
		})
	}
}

// BenchmarkReceive measures the throughput of messages that one client
// publishes (asynchronously) and another receives through midge.
func BenchmarkReceive(b *testing.B) {
	srv := testutil.StartBroker(b, broker.Config{AllowAnonymous: true, MaxQueuedMessages: broker.Unlimited})
	payload := make([]byte, 64)
	for _, qos := range []byte{0, 1} {
		b.Run([]string{"qos0", "qos1"}[qos], func(b *testing.B) {
			ctx := context.Background()
			got := make(chan struct{}, 1024)
			sub, _, err := client.Dial(ctx, client.Options{Address: srv.Addr, ProtocolVersion: packet.Version5, CleanStart: true,
				OnMessage: func(*client.Message) { got <- struct{}{} }})
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "bench/receive", QoS: qos}); err != nil {
				b.Fatal(err)
			}
			pub, _, err := client.Dial(ctx, client.Options{Address: srv.Addr, ProtocolVersion: packet.Version5, CleanStart: true})
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			m := &client.Message{Topic: "bench/receive", QoS: qos, Payload: payload}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				for range b.N {
					if err := pub.PublishAsync(ctx, m, nil); err != nil {
						b.Error(err)
						return
					}
				}
			}()
			for range b.N {
				<-got
			}
		})
	}
}

// startSink starts a server that accepts one connection at a time,
// answers CONNECT, acknowledges QoS 1 and 2 publishes and otherwise
// discards what it reads, allocating nothing per packet: benchmarks against
// it count the client's allocations alone.
func startSink(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go sink(nc)
		}
	}()
	return ln.Addr().String()
}

func sink(nc net.Conn) {
	defer nc.Close()
	r := packet.NewReader(nc, 64<<10)
	p, err := r.ReadPacket()
	if err != nil {
		return
	}
	cp, ok := p.(*packet.Connect)
	if !ok {
		return
	}
	r.Version = cp.ProtocolVersion
	ack, _ := packet.Append(nil, &packet.Connack{}, cp.ProtocolVersion)
	if _, err := nc.Write(ack); err != nil {
		return
	}
	out := make([]byte, 0, 64<<10)
	for {
		h, err := r.ReadHeader()
		if err != nil {
			return
		}
		body, err := r.ReadBody(h)
		if err != nil {
			return
		}
		var reply byte
		switch {
		case h.Type == packet.TypePublish && h.Flags&0x06 == 0x02:
			reply = byte(packet.TypePuback) << 4
		case h.Type == packet.TypePublish && h.Flags&0x06 == 0x04:
			reply = byte(packet.TypePubrec) << 4
		case h.Type == packet.TypePubrel:
			reply = byte(packet.TypePubcomp) << 4
		case h.Type == packet.TypePingreq:
			out = append(out, byte(packet.TypePingresp)<<4, 0)
		}
		if reply != 0 {
			var id []byte
			if h.Type == packet.TypePublish {
				n := int(body[0])<<8 | int(body[1])
				id = body[2+n : 4+n]
			} else {
				id = body[:2]
			}
			out = append(out, reply, 2, id[0], id[1])
		}
		if r.Buffered() == 0 || len(out) > 32<<10 {
			if len(out) > 0 {
				if _, err := nc.Write(out); err != nil {
					return
				}
				out = out[:0]
			}
		}
	}
}

// BenchmarkPublishSink is BenchmarkPublish against a server that allocates
// nothing, so that allocs/op are the client's own.
func BenchmarkPublishSink(b *testing.B) {
	benchPublish(b, startSink(b))
}
