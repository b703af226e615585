package ctrl

import (
	"net"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// fakeServer is a minimal MQTT server on 127.0.0.1 that answers each
// request published to a $CONTROL topic with what respond returns, on the
// topic's /response: enough to see what midge ctrl sends and prints.
type fakeServer struct {
	addr string
	port string

	mu       sync.Mutex
	requests []string // payloads received, guarded by mu
	connects []*packet.Connect
}

func startFake(t *testing.T, respond func(topic, payload string) string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: ln.Addr().String()}
	_, f.port, _ = net.SplitHostPort(f.addr)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c, respond) }()
		}
	}()
	return f
}

// serve answers one client until it disconnects.
func (f *fakeServer) serve(c net.Conn, respond func(topic, payload string) string) {
	defer c.Close()
	r := packet.NewReader(c, 0)
	var version byte = 4
	send := func(p packet.Packet) bool {
		b, err := packet.Append(nil, p, version)
		if err != nil {
			return false
		}
		_, err = c.Write(b)
		return err == nil
	}
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return
		}
		switch p := p.(type) {
		case *packet.Connect:
			version = p.ProtocolVersion
			r.Version = version
			f.mu.Lock()
			f.connects = append(f.connects, p)
			f.mu.Unlock()
			if !send(&packet.Connack{}) {
				return
			}
		case *packet.Subscribe:
			ack := &packet.Suback{PacketID: p.PacketID}
			for _, s := range p.Subscriptions {
				ack.ReasonCodes = append(ack.ReasonCodes, packet.ReasonCode(s.QoS))
			}
			if !send(ack) {
				return
			}
		case *packet.Publish:
			f.mu.Lock()
			f.requests = append(f.requests, string(p.Payload))
			f.mu.Unlock()
			switch p.QoS {
			case 1:
				send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
			case 2:
				send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
			}
			if respond != nil {
				if answer := respond(p.Topic, string(p.Payload)); answer != "" {
					send(&packet.Publish{Topic: p.Topic + "/response", Payload: []byte(answer)})
				}
			}
		case *packet.Ack:
			if p.Kind == packet.TypePubrel {
				send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
			}
		case *packet.Disconnect:
			return
		}
	}
}

// sent returns the payloads received so far.
func (f *fakeServer) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}
