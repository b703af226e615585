package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/midge-mqtt/midge/packet"
)

// Subscription is one topic filter to subscribe to, with its options: the
// filter (wildcards and "$share/name/..." allowed), the maximum QoS of the
// messages to receive and, for MQTT 5, NoLocal (do not receive the client's
// own publishes), RetainAsPublished (keep the retain flag of forwarded
// messages as published), RetainHandling (packet.RetainSendOnSubscribe,
// RetainSendIfNewSubscription or RetainDoNotSend) and ID, the Subscription
// Identifier (1 to 268435455) the server adds to the messages this
// subscription delivers, 0 for none. The subscriptions of one Subscribe call
// share one SUBSCRIBE packet, so they must have the same ID. It is
// packet.Subscription, the one declaration of subscription options.
type Subscription = packet.Subscription

// Subscribe sends one SUBSCRIBE with subs and blocks until the SUBACK,
// which it returns: its ReasonCodes say, filter by filter, the QoS granted
// or (0x80 and above) why the subscription was refused; a refusal is not
// an error. Granted subscriptions are remembered and restored if a
// reconnection finds the session lost. ctx bounds the wait; if it ends
// first, ctx.Err() is returned and the SUBSCRIBE may still take effect.
func (c *Client) Subscribe(ctx context.Context, subs ...Subscription) (*packet.Suback, error) {
	if len(subs) == 0 {
		return nil, errors.New("client: Subscribe without subscriptions")
	}
	p := &packet.Subscribe{Subscriptions: make([]packet.Subscription, len(subs))}
	for i, s := range subs {
		if s.ID != subs[0].ID {
			return nil, errors.New("client: subscriptions of one Subscribe call with different identifiers")
		}
		p.Subscriptions[i] = s
	}
	if id := subs[0].ID; id != 0 {
		p.Properties.SubscriptionIDs = []uint32{id}
	}
	return c.SubscribePacket(ctx, p)
}

// SubscribePacket is Subscribe with the SUBSCRIBE given in full, for MQTT 5
// User Property. The client sets the packet identifier on a copy; p is not
// modified or kept.
func (c *Client) SubscribePacket(ctx context.Context, p *packet.Subscribe) (*packet.Suback, error) {
	q := *p
	q.Subscriptions = slices.Clone(p.Subscriptions)
	q.Properties.User = slices.Clone(p.Properties.User)
	q.Properties.SubscriptionIDs = slices.Clone(p.Properties.SubscriptionIDs)
	resp, err := c.request(ctx, kindSubscribe, &q)
	if err != nil {
		return nil, err
	}
	return resp.(*packet.Suback), nil
}

// Unsubscribe sends one UNSUBSCRIBE for filters and blocks until the
// UNSUBACK, which it returns (in MQTT 5 with a reason code per filter).
// The filters are no longer restored on reconnection.
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) (*packet.Unsuback, error) {
	return c.UnsubscribePacket(ctx, &packet.Unsubscribe{Filters: filters})
}

// UnsubscribePacket is Unsubscribe with the UNSUBSCRIBE given in full, for
// MQTT 5 User Property. p is not modified or kept.
func (c *Client) UnsubscribePacket(ctx context.Context, p *packet.Unsubscribe) (*packet.Unsuback, error) {
	q := *p
	q.Filters = slices.Clone(p.Filters)
	q.Properties.User = slices.Clone(p.Properties.User)
	resp, err := c.request(ctx, kindUnsubscribe, &q)
	if err != nil {
		return nil, err
	}
	return resp.(*packet.Unsuback), nil
}

// request sends a SUBSCRIBE or UNSUBSCRIBE (owned by the client from now
// on) and waits for its response.
func (c *Client) request(ctx context.Context, kind flightKind, p packet.Packet) (packet.Packet, error) {
	var cn *conn
	for {
		var err error
		cn, err = c.lockConn(ctx)
		if err != nil {
			return nil, err
		}
		if c.used < maxIDs {
			break
		}
		if !unlockAndWait(&c.mu, nextBroadcast(&c.windowCh), ctx.Done()) {
			return nil, ctx.Err()
		}
	}
	id := c.nextIDLocked()
	switch q := p.(type) {
	case *packet.Subscribe:
		q.PacketID = id
	case *packet.Unsubscribe:
		q.PacketID = id
	}
	var err error
	if n := packet.Size(p, cn.v); cn.maxPacket > 0 && n > cn.maxPacket {
		err = fmt.Errorf("client: %v of %d bytes exceeds the server's Maximum Packet Size %d: %w", p.Type(), n, cn.maxPacket, packet.ErrTooLarge)
	} else {
		cn.wmu.Lock()
		err = cn.appendLocked(p)
		cn.wmu.Unlock()
	}
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	f := c.newFlightLocked()
	f.id, f.kind, f.req, f.sent, f.record, f.waiting = id, kind, p, true, kind == kindSubscribe, true
	if f.ch == nil {
		f.ch = make(chan error, 1)
	}
	c.addLocked(f)
	c.mu.Unlock()
	return c.wait(ctx, f)
}
