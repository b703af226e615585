package bench

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packet"
)

// The client engine: midge bench's connections on package client. It
// carries WebSocket (ws://, wss://), which the wire engine does not speak,
// and --engine client measures the client package itself.

// clientOptions returns the client.Options of client number i as id.
func (d *dialer) clientOptions(i int, id string) client.Options {
	o := d.o
	opts := client.Options{
		ProtocolVersion: o.version,
		ClientID:        id,
		CleanStart:      o.clean,
		KeepAlive:       time.Duration(o.keepAlive) * time.Second,
		Username:        o.username,
		ConnectTimeout:  o.connectTimeout,
		MaxInflight:     o.inflight,
	}
	if o.keepAlive == 0 {
		opts.KeepAlive = -1
	}
	if o.hasPassword {
		opts.Password = []byte(o.password)
	}
	if o.version == packet.Version5 && o.sessionExpiry > 0 {
		opts.Properties.SetUint(packet.PropSessionExpiry, uint32(o.sessionExpiry))
	}
	switch d.t.scheme {
	case "tcp", "tls":
		// Our own dialer, for the source addresses.
		opts.Dial = func(ctx context.Context) (net.Conn, error) { return d.netConn(ctx, i) }
	default:
		opts.Address = d.t.url
		opts.TLS = d.tls
	}
	return opts
}

// clientMaxQoS is the broker's Maximum QoS from its CONNACK.
func clientMaxQoS(ack *packet.Connack, v byte) byte {
	if v == packet.Version5 && ack.Properties.Has(packet.PropMaximumQoS) {
		return ack.Properties.MaximumQoS
	}
	return 2
}

// clientPub is a publisher's connection on the client engine. Each token
// has its own Message, since the client keeps a QoS 1/2 message until it
// is acknowledged.
type clientPub struct {
	c     *client.Client
	ctx   context.Context
	msgs  []client.Message // by token; 0 for QoS 0
	dones []func(error)    // by token
	win   int
}

func newClientPub(ctx context.Context, p *publisher) (*clientPub, error) {
	o := p.r.o
	c, ack, err := client.Dial(ctx, p.r.d.clientOptions(p.num, p.id))
	if err != nil {
		return nil, err
	}
	if err := checkQoSAgainst(o.qos, clientMaxQoS(ack, o.version)); err != nil {
		c.Close()
		return nil, err
	}
	l := &clientPub{c: c, ctx: p.r.ctx, win: o.inflight}
	if o.version == packet.Version5 && ack.Properties.Has(packet.PropReceiveMaximum) {
		l.win = min(l.win, int(ack.Properties.ReceiveMaximum))
	}
	n := 1
	if o.qos > 0 {
		n = l.win + 1
	}
	l.msgs = make([]client.Message, n)
	l.dones = make([]func(error), n)
	for t := range l.msgs {
		l.msgs[t] = client.Message{Topic: p.topic, QoS: byte(o.qos), Payload: make([]byte, o.size)}
		if t > 0 {
			tok := uint16(t)
			l.dones[t] = func(err error) { p.ackDone(tok, ackOutcome(err)) }
		}
	}
	return l, nil
}

func (l *clientPub) payload(tok uint16) []byte { return l.msgs[tok].Payload }
func (l *clientPub) window() int               { return l.win }
func (l *clientPub) flush() error              { return nil }
func (l *clientPub) start()                    {}

func (l *clientPub) publish(tok uint16) error {
	return l.c.PublishAsync(l.ctx, &l.msgs[tok], l.dones[tok])
}

func (l *clientPub) close(graceful bool) { closeClient(l.c, graceful) }

// closeClient ends c, with DISCONNECT if graceful, and waits (bounded)
// until its goroutines, OnMessage included, have returned.
func closeClient(c *client.Client, graceful bool) {
	if graceful {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c.Disconnect(ctx, packet.Success, nil)
		cancel()
	} else {
		c.Close()
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-c.Done():
	case <-t.C:
	}
}

// clientSubLink is a subscriber's connection on the client engine.
type clientSubLink struct{ c *client.Client }

func (l *clientSubLink) close(graceful bool) { closeClient(l.c, graceful) }

// connectClient connects and subscribes the subscriber on the client
// engine; with --sub-reconnect it starts the goroutine that reconnects.
func (s *subscriber) connectClient(ctx context.Context) error {
	c, err := s.dialClient(ctx, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cur = &clientSubLink{c: c}
	s.mu.Unlock()
	if s.r.o.subReconnect > 0 {
		s.r.wg.Add(1)
		go s.clientReconnects()
	}
	return nil
}

// dialClient connects the subscriber and subscribes: always the first
// time, afterwards only if the broker kept no session.
func (s *subscriber) dialClient(ctx context.Context, first bool) (*client.Client, error) {
	opts := s.r.sd.clientOptions(s.num, s.id)
	// Acknowledged after onMessage has counted them, not on receipt: a
	// message read but not yet counted when the subscriber reconnects is
	// then sent again, not lost (AckOnReceipt would drop it).
	opts.MaxPendingMessages = 10000
	opts.OnMessage = s.onMessage
	c, ack, err := client.Dial(ctx, opts)
	if err != nil {
		return nil, err
	}
	if first || !ack.SessionPresent {
		sa, err := c.Subscribe(ctx, client.Subscription{Filter: s.filter, QoS: byte(s.r.o.qos)})
		if err == nil {
			err = subackError(sa)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (s *subscriber) onMessage(m *client.Message) {
	now := benchNow()
	s.mu.Lock()
	again := s.record(m.Payload, now, m.QoS, false)
	s.mu.Unlock()
	s.r.kick()
	if again {
		select {
		case s.reconn <- struct{}{}:
		default:
		}
	}
}

// clientReconnects reconnects the subscriber whenever onMessage asks.
func (s *subscriber) clientReconnects() {
	r := s.r
	defer r.wg.Done()
	for {
		select {
		case <-s.reconn:
		case <-r.stop:
			return
		}
		s.closeLink(true)
		ctx, cancel := context.WithTimeout(r.ctx, r.o.connectTimeout)
		c, err := s.dialClient(ctx, false)
		cancel()
		if err != nil {
			if !r.stopped.Load() {
				r.errs.add(fmt.Errorf("subscriber %s: reconnecting: %w", s.id, err))
			}
			return
		}
		s.mu.Lock()
		if r.stopped.Load() {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.cur = &clientSubLink{c: c}
		s.reconnects++
		s.sinceConnect = 0
		s.mu.Unlock()
		select { // requests made on the old connection
		case <-s.reconn:
		default:
		}
	}
}
