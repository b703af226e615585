package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Client is a connection to an MQTT server, re-established automatically
// if Options.Reconnect is set. All its methods are safe for concurrent use.
//
// A Client runs two goroutines per network connection, a reader and a
// writer, and one more to run OnMessage when it is set; none per message.
//
// Lock order: Client.mu before conn.wmu; inbox.mu is never held with
// either. conn.fail takes Client.mu and conn.wmu, so it is never called with
// them held.
type Client struct {
	s  settings
	ep endpoint

	// ctx is the client's own lifetime: cancelled by Close and Disconnect,
	// it stops reconnection attempts.
	ctx    context.Context
	cancel context.CancelFunc

	dispatching bool  // OnMessage, OnConnectionLost or OnReconnect is set: the dispatcher runs
	inbox       inbox // messages and events for the dispatcher

	mu          sync.Mutex
	cn          *conn               // guarded by mu: the current connection; nil while reconnecting or ended
	reconnected chan struct{}       // guarded by mu: while cn is nil, closed when it is set again or the client ends
	closing     bool                // guarded by mu: Close or Disconnect was called
	ended       bool                // guarded by mu: the client is finished; err says why
	err         error               // guarded by mu
	clientID    string              // guarded by mu: the identifier to connect with (assigned by the server if empty)
	ids         []*flight           // guarded by mu: flights by packet identifier - 1; grows by doubling when full
	used        int                 // guarded by mu: flights in ids
	head, tail  *flight             // guarded by mu: flights in the order they were first sent
	nextID      uint16              // guarded by mu: the last packet identifier taken
	inflight    int                 // guarded by mu: QoS 1/2 publishes awaiting acknowledgement
	window      int                 // guarded by mu: the most publishes that may be in flight
	windowCh    chan struct{}       // guarded by mu: closed when a flight ends, for senders waiting for the window
	free        []*flight           // guarded by mu: recycled flights
	subs        []subRecord         // guarded by mu: granted subscriptions, restored when the session is lost
	qos2In      map[uint16]struct{} // guarded by mu: QoS 2 messages received and not yet released
	closingFast atomic.Bool         // Close or Disconnect was called: stop delivering messages
	runDone     chan struct{}       // closed when the run goroutine has returned
	live        atomic.Int32        // goroutines (run, dispatcher) still running
	done        chan struct{}       // closed when the client has ended and its goroutines returned
}

// Dial connects to the server opts describe and returns the Client with
// the server's CONNACK. If the server refuses the connection the error is
// a *ConnectError and the CONNACK is returned too; network and protocol
// errors are wrapped (%w). ctx bounds the dial and the CONNECT/CONNACK
// exchange only (Options.ConnectTimeout bounds them as well). Dial does
// not retry: Options.Reconnect applies to connections lost later.
func Dial(ctx context.Context, opts Options) (*Client, *packet.Connack, error) {
	s, err := opts.settings()
	if err != nil {
		return nil, nil, err
	}
	c := &Client{
		s:        s,
		qos2In:   make(map[uint16]struct{}),
		clientID: s.ClientID,
		runDone:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	if s.Dial == nil {
		c.ep, err = parseAddress(s.Address, s.TLS != nil)
		if err != nil {
			return nil, nil, err
		}
		if u := c.ep.user; u != nil && c.s.Username == "" && c.s.Password == nil {
			c.s.Username = u.Username()
			if p, ok := u.Password(); ok {
				c.s.Password = []byte(p)
			}
		}
	}
	c.dispatching = s.OnMessage != nil || s.OnConnectionLost != nil || s.OnReconnect != nil
	c.inbox.init(s.maxPending)
	cn, ack, err := c.connect(ctx)
	if err != nil {
		return nil, ack, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.install(cn, ack, false)
	c.live.Store(1)
	if c.dispatching {
		c.live.Add(1)
		go c.dispatch()
	}
	go c.run(cn)
	return c, ack, nil
}

// connect dials, sends CONNECT and reads the CONNACK (answering AUTH in
// between with OnAuth). The returned conn has no goroutines yet.
func (c *Client) connect(ctx context.Context) (*conn, *packet.Connack, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.connectTimeout)
	defer cancel()
	nc, err := c.s.dial(ctx, c.ep)
	if err != nil {
		return nil, nil, fmt.Errorf("client: connecting to %s: %w", c.describe(), err)
	}
	// Bound the exchange by ctx: an expired deadline unblocks the reads.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	cn := newConn(c, nc)
	ack, err := c.handshake(cn)
	if !stop() || err != nil {
		nc.Close()
		if err == nil || ctx.Err() != nil {
			err = fmt.Errorf("client: connecting to %s: %w", c.describe(), context.Cause(ctx))
		}
		var ce *ConnectError
		if errors.As(err, &ce) {
			return nil, ack, err
		}
		return nil, nil, err
	}
	nc.SetDeadline(time.Time{})
	cn.setLimits(ack)
	return cn, ack, nil
}

// describe names the server for error messages.
func (c *Client) describe() string {
	if c.s.Dial != nil {
		return "server (Options.Dial)"
	}
	if c.ep.url != "" {
		return c.ep.url
	}
	return c.ep.addr
}

// handshake writes CONNECT and reads up to the CONNACK.
func (c *Client) handshake(cn *conn) (*packet.Connack, error) {
	hook := c.s.OnPacket
	c.mu.Lock()
	cp := c.s.connectPacket(c.clientID)
	c.mu.Unlock()
	write := func(p packet.Packet) error {
		b, err := packet.Append(nil, p, cn.v)
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if hook != nil {
			hook(Sent, p)
		}
		_, err = cn.nc.Write(b)
		return err
	}
	if err := write(cp); err != nil {
		return nil, err
	}
	for {
		p, err := cn.r.ReadPacket()
		if err != nil {
			return nil, fmt.Errorf("waiting for CONNACK: %w", err)
		}
		if hook != nil {
			hook(Received, p)
		}
		switch p := p.(type) {
		case *packet.Connack:
			if p.ReasonCode != packet.Success {
				ce := &ConnectError{Code: p.ReasonCode, ReturnCode: p.ReasonCode, Version: cn.v, Connack: p}
				if cn.v == packet.Version5 {
					ce.ReturnCode = packet.ConnackV3(p.ReasonCode)
				}
				return p, ce
			}
			return p, nil
		case *packet.Auth:
			if c.s.OnAuth == nil || p.ReasonCode != packet.ContinueAuthentication {
				return nil, errors.New("client: unexpected AUTH from the server during CONNECT")
			}
			reply, err := c.s.OnAuth(p)
			if err != nil {
				return nil, fmt.Errorf("client: authentication: %w", err)
			}
			if err := write(reply); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("client: %v instead of CONNACK", p.Type())
		}
	}
}

// install makes cn the client's connection after a successful CONNACK:
// it reconciles the session with Session Present, resends what is in
// flight [MQTT-4.4.0-1] and restores lost subscriptions, then starts the
// writer.
func (c *Client) install(cn *conn, ack *packet.Connack, reconnect bool) {
	c.mu.Lock()
	if cn.v == packet.Version5 && ack.Properties.Has(packet.PropAssignedClientID) {
		c.clientID = ack.Properties.AssignedClientID
	}
	c.window = 65535
	if cn.v == packet.Version5 && ack.Properties.Has(packet.PropReceiveMaximum) {
		c.window = int(ack.Properties.ReceiveMaximum)
	}
	if c.s.maxInflight > 0 {
		c.window = min(c.window, c.s.maxInflight)
	}
	// MQTT 3.1 has no Session Present flag: a session asked for is assumed.
	present := ack.SessionPresent || cn.v == packet.Version31 && !c.s.CleanStart
	var calls []result
	if !present {
		calls = c.resetSessionLocked()
	}
	cn.wmu.Lock()
	// On a new session the subscriptions come first, so that the publishes
	// sent again (as new messages) reach them too. Their flights are added
	// after last.
	last := c.tail
	if !present && reconnect {
		c.resubscribeLocked(cn)
	}
	for f := c.head; last != nil; {
		next := f.next
		if err := c.resendLocked(cn, f); err != nil {
			c.s.log.Warn("cannot resend", "packet_id", f.id, "err", err)
			if d := c.completeLocked(f, err); d != nil {
				calls = append(calls, result{d, err})
			}
		}
		if f == last {
			break
		}
		f = next
	}
	cn.wmu.Unlock()
	c.cn = cn
	broadcast(&c.reconnected)
	broadcast(&c.windowCh)
	c.mu.Unlock()
	go cn.writeLoop()
	for _, r := range calls {
		r.fn(r.err)
	}
}

// detach is called once cn has failed: new requests wait for the next
// connection (or the client's end) instead of using it.
func (c *Client) detach(cn *conn) {
	c.mu.Lock()
	if c.cn == cn {
		c.cn = nil
		if !c.ended && c.reconnected == nil {
			c.reconnected = make(chan struct{})
		}
	}
	c.mu.Unlock()
}

// run reads from cn and, when it fails, reconnects or ends the client.
func (c *Client) run(cn *conn) {
	defer c.exit()
	defer close(c.runDone)
	r := &c.s.reconnect
	delay := r.MinDelay
	for {
		up := time.Now()
		cn.fail(cn.readLoop())
		<-cn.writerDone
		err := cn.err
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing || c.s.Reconnect == nil {
			c.end(err)
			return
		}
		c.s.log.Info("connection lost", "err", err)
		if f := c.s.OnConnectionLost; f != nil {
			lost := err
			c.inbox.event(func() { f(lost) })
		}
		if time.Since(up) >= r.MaxDelay {
			delay = r.MinDelay
		}
		var ack *packet.Connack
		cn, ack, err = c.reconnect(&delay)
		if cn == nil {
			c.end(err)
			return
		}
		if f := c.s.OnReconnect; f != nil {
			c.inbox.event(func() { f(ack) })
		}
	}
}

// reconnect tries to connect again with exponential backoff, starting
// from *delay and leaving there the delay for the next loss. It returns a
// nil conn and why when it gives up or the client is closed.
func (c *Client) reconnect(delay *time.Duration) (*conn, *packet.Connack, error) {
	r := &c.s.reconnect
	t := time.NewTimer(0)
	defer t.Stop()
	var err error
	for attempt := 1; ; attempt++ {
		// Jitter of up to a quarter, so that clients dropped together do
		// not come back together.
		d := *delay
		d += time.Duration(rand.Int64N(int64(d)/4 + 1))
		t.Reset(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return nil, nil, ErrClosed
		}
		*delay = min(2**delay, r.MaxDelay)
		var cn *conn
		var ack *packet.Connack
		cn, ack, err = c.connect(c.ctx)
		if err == nil {
			c.mu.Lock()
			closing := c.closing
			c.mu.Unlock()
			if closing {
				cn.nc.Close()
				return nil, nil, ErrClosed
			}
			c.install(cn, ack, true)
			c.s.log.Info("reconnected", "attempt", attempt, "session_present", ack.SessionPresent)
			return cn, ack, nil
		}
		if c.ctx.Err() != nil {
			return nil, nil, ErrClosed
		}
		c.s.log.Warn("reconnect failed", "attempt", attempt, "err", err)
		var ce *ConnectError
		if errors.As(err, &ce) && ce.permanent() || r.MaxAttempts > 0 && attempt >= r.MaxAttempts {
			return nil, nil, err
		}
	}
}

// end finishes the client with err (ErrClosed if the application closed
// it): requests in flight fail, waiters wake up, the dispatcher drains.
func (c *Client) end(err error) {
	c.mu.Lock()
	if c.closing || err == nil {
		err = ErrClosed
	}
	c.ended = true
	c.err = err
	c.cn = nil
	broadcast(&c.reconnected)
	broadcast(&c.windowCh)
	var calls []func(error)
	for f := c.head; f != nil; {
		next := f.next
		if d := c.completeLocked(f, err); d != nil {
			calls = append(calls, d)
		}
		f = next
	}
	c.mu.Unlock()
	for _, d := range calls {
		d(err)
	}
	if c.cancel != nil {
		c.cancel()
	}
	c.inbox.close()
}

// broadcast wakes every goroutine waiting on *ch by closing it, and clears
// it for the next wait to make a new one; nil means no one waits. The
// caller holds the mutex that guards *ch.
func broadcast(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// nextBroadcast returns the channel the next broadcast(ch) closes, making
// it if no one waits yet. The caller holds the mutex that guards *ch.
func nextBroadcast(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// unlockAndWait unlocks mu, which the caller holds, and waits until ch or
// done is closed. It reports whether ch was, and returns with mu unlocked.
func unlockAndWait(mu *sync.Mutex, ch, done <-chan struct{}) bool {
	mu.Unlock()
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// exit is called by each of the client's goroutines as it returns; the
// last one closes done.
func (c *Client) exit() {
	if c.live.Add(-1) == 0 {
		close(c.done)
	}
}

// Done returns a channel that is closed when the client has ended, for
// good: after Close or Disconnect, when the connection is lost without
// Options.Reconnect, or when reconnection gives up. Once it is closed,
// OnMessage is not called again.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the client runs, and then why it ended: ErrClosed
// after Close or Disconnect, otherwise an error wrapping ErrConnectionLost
// and the cause (a network error, ErrPingTimeout, a protocol violation by
// the server, or a *ReasonError carrying the reason code of the server's
// MQTT 5 DISCONNECT), or the last reconnection error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		return nil
	}
	return c.err
}

// ClientID returns the client identifier in use: Options.ClientID, or the
// one the server assigned (MQTT 5 Assigned Client Identifier). It is empty
// if an MQTT 3.1.1 server assigned one, as it does not say which.
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// Connected reports whether the client has a working connection now (it
// does not while reconnecting).
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cn != nil
}

// Close closes the network connection at once, without DISCONNECT (so the
// server publishes the will, if any), and ends the client: requests
// awaiting an acknowledgement fail with ErrClosed and messages not yet
// handed to OnMessage are dropped (with a persistent session the server
// sends them again). It waits for the reader and writer to stop, not for a
// running OnMessage, so it may be called from OnMessage. It returns nil,
// or ErrClosed if the client had already ended.
func (c *Client) Close() error {
	cn, err := c.startClosing()
	if cn != nil {
		cn.fail(ErrClosed)
	}
	<-c.runDone
	return err
}

// Disconnect sends DISCONNECT with reason code (MQTT 5; 0 is Normal
// disconnection, packet.DisconnectWithWill asks the server to publish the
// will) and properties (MQTT 5: Session Expiry Interval, Reason String,
// User Property; may be nil), waits until it is written, closes the
// connection and ends the client like Close. Publishes awaiting
// acknowledgement fail with ErrClosed: wait for them first to have them
// complete. ctx bounds the wait for the write. While the client is
// reconnecting, Disconnect just stops it.
func (c *Client) Disconnect(ctx context.Context, code packet.ReasonCode, props *packet.Properties) error {
	cn, err := c.startClosing()
	if cn != nil {
		d := &packet.Disconnect{ReasonCode: code}
		if props != nil {
			d.Properties = *props
		}
		cn.wmu.Lock()
		err = cn.appendLocked(d)
		fw := cn.flushWaitLocked()
		cn.wmu.Unlock()
		if err == nil {
			select {
			case <-fw.done:
				err = fw.err
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		cn.fail(ErrClosed) // [MQTT-3.14.4-1]
	}
	<-c.runDone
	return err
}

// startClosing marks the client as closing and returns its connection.
func (c *Client) startClosing() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.closing {
		return nil, ErrClosed
	}
	c.closing = true
	c.closingFast.Store(true)
	c.cancel()
	return c.cn, nil
}

// lockConn locks c.mu and returns the current connection, first waiting
// (bounded by ctx) while the client is reconnecting. On error c.mu is not
// held.
func (c *Client) lockConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.ended || c.closing {
			err := c.err
			if err == nil || c.closing {
				err = ErrClosed
			}
			c.mu.Unlock()
			return nil, err
		}
		if c.cn != nil {
			return c.cn, nil
		}
		if !unlockAndWait(&c.mu, c.reconnected, ctx.Done()) {
			return nil, ctx.Err()
		}
	}
}
