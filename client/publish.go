package client

import (
	"context"
	"errors"
	"fmt"
)

// Publish sends m and blocks until it is done: for QoS 0 until it has been
// written to the network connection, for QoS 1 until the PUBACK, for QoS 2
// until the PUBCOMP. In MQTT 5 an acknowledgement with a reason code of
// 0x80 or more is returned as a *ReasonError (0x10 No matching subscribers
// is success). Before sending it waits, bounded by ctx, while the server's
// Receive Maximum (or Options.MaxInflight) is used up, while the client is
// reconnecting, and while the write buffer is full.
//
// If ctx ends after a QoS 1 or 2 message was sent, Publish returns
// ctx.Err() but the exchange goes on in the background: the message may
// still arrive. m must not be modified until Publish returns; the client
// does not keep it afterwards. Publish does not modify m: the packet
// identifier is the client's (m.PacketID and m.Dup are ignored).
//
// Errors that stop m from being sent: a QoS or retain flag the server does
// not support (ErrNotSupported), a packet above the server's Maximum
// Packet Size (packet.ErrTooLarge), a message the packet encoder refuses
// (packet.ErrEncode: an invalid topic, a property not allowed in PUBLISH),
// ErrClosed, or why the client ended.
func (c *Client) Publish(ctx context.Context, m *Message) error {
	f, fw, err := c.send(ctx, m, nil, true)
	if err != nil {
		return err
	}
	if f == nil {
		select {
		case <-fw.done:
			return fw.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_, err = c.wait(ctx, f)
	return err
}

// PublishAsync sends m like Publish but does not wait for the
// acknowledgement, so that many QoS 1 and 2 messages can be in flight: it
// returns once m is queued for writing. It still waits, bounded by ctx,
// while the in-flight window (the server's Receive Maximum, or
// Options.MaxInflight) is full, so a caller publishing in a loop keeps the
// window full without any goroutine of its own.
//
// If PublishAsync returns nil, done (if not nil) is called exactly once
// with the outcome: for QoS 0 before PublishAsync returns, with nil; for
// QoS 1 and 2 when the acknowledgement arrives (or the client ends), on
// the client's reader goroutine. done must be quick and must not block: it
// must not call the Client's methods, since each of them may wait for
// something only the goroutine running done can bring (hand the work to
// another goroutine instead, as with a channel). If PublishAsync returns
// an error, done is not called. m must not be modified until done is
// called (for QoS 0, until PublishAsync returns).
func (c *Client) PublishAsync(ctx context.Context, m *Message, done func(error)) error {
	f, _, err := c.send(ctx, m, done, false)
	if err != nil {
		return err
	}
	if f == nil && done != nil {
		done(nil)
	}
	return nil
}

// errQoS is returned for a QoS above 2.
var errQoS = errors.New("client: QoS must be 0, 1 or 2")

// send queues m for writing. For QoS 1 and 2 it returns the flight (owned
// by the caller if wait); for QoS 0 with wait the flushWait of its bytes.
func (c *Client) send(ctx context.Context, m *Message, done func(error), wait bool) (*flight, *flushWait, error) {
	if m.QoS > 2 {
		return nil, nil, errQoS
	}
	var cn *conn
	for {
		var err error
		cn, err = c.lockConn(ctx)
		if err != nil {
			return nil, nil, err
		}
		if m.QoS > cn.maxQoS {
			c.mu.Unlock()
			return nil, nil, fmt.Errorf("client: QoS %d above the server's Maximum QoS %d: %w", m.QoS, cn.maxQoS, ErrNotSupported) // [MQTT-3.2.2-11]
		}
		if m.Retain && !cn.retainOK {
			c.mu.Unlock()
			return nil, nil, fmt.Errorf("client: retained message and the server has Retain Available 0: %w", ErrNotSupported) // [MQTT-3.2.2-14]
		}
		var ch chan struct{}
		if m.QoS > 0 && (c.inflight >= c.window || c.used >= maxIDs) {
			if c.windowCh == nil {
				c.windowCh = make(chan struct{})
			}
			ch = c.windowCh
		} else {
			cn.wmu.Lock()
			if ch = cn.spaceLocked(); ch == nil {
				break // c.mu and cn.wmu held
			}
			cn.wmu.Unlock()
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	var id uint16
	if m.QoS > 0 {
		id = c.nextIDLocked()
	}
	topic, err := cn.encodePublishLocked(m, id, false, "")
	var fw *flushWait
	if err == nil && m.QoS == 0 && wait {
		fw = cn.flushWaitLocked()
	}
	cn.wmu.Unlock()
	if err != nil || m.QoS == 0 {
		c.mu.Unlock()
		return nil, fw, err
	}
	f := c.newFlightLocked()
	f.id, f.kind, f.qos, f.msg, f.topic, f.sent = id, kindPublish, m.QoS, m, topic, true
	if wait {
		f.waiting = true
		if f.ch == nil {
			f.ch = make(chan error, 1)
		}
	} else {
		f.done = done
	}
	c.addLocked(f)
	c.mu.Unlock()
	return f, nil, nil
}
