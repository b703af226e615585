package clienttool

// midge sub: mosquitto_sub (sub_client.c).
//
// Everything printed comes from the client's OnPacket hook, on the
// client's reader goroutine, in the order packets go over the wire, as
// libmosquitto's single thread prints it: a QoS 0 message when its PUBLISH
// arrives, a QoS 1 message once its PUBACK is sent, a QoS 2 message once
// its PUBCOMP is. What the hook decides (disconnect, clear a retained
// message) is carried out by the run's own goroutine, since the hook must
// not call the client.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// checkSub makes the check mosquitto_sub makes after loading its options.
func (c *clientConfig) checkSub() error {
	if c.noRetain && c.retainedOnly {
		return &cmdError{text: "\nError: Combining '-R' and '--retained-only' makes no sense.\n"}
	}
	return nil
}

// receiver handles the messages sub and rr receive, in the OnPacket hook;
// its fields are guarded by the session's outMu, which the hook holds.
type receiver struct {
	s   *session
	cfg *clientConfig
	pr  *printer

	processing bool                     // process_messages
	count      int                      // messages printed, for -C
	pending    map[uint16]*outMessage   // QoS 1 and 2 messages awaiting their PUBACK or PUBCOMP
	aliases    map[uint16]string        // the server's topic aliases
	onMessage  func(m *outMessage)      // the tool's my_message_callback
	deferred   []*outMessage            // messages to print once their clearing PUBLISH is queued
	clearing   int                      // clearing publishes not yet acknowledged
	onSuback   func(ack *packet.Suback) // the tool's my_subscribe_callback
	onSent     func(p packet.Packet)    // the tool's view of what is sent

	reqMu sync.Mutex
	reqs  []request     // guarded by reqMu: what the run's goroutine must do
	wake  chan struct{} // capacity 1: there are requests
	sent  chan struct{} // capacity 1: a SUBSCRIBE or UNSUBSCRIBE was queued
}

// request is something the hook asks the run's goroutine to do.
type request struct {
	stop    bool            // disconnect (after pending clearing publishes)
	clear   string          // publish an empty retained message to this topic
	closed  bool            // close without DISCONNECT (rr)
	publish *client.Message // publish this (rr's request)
}

func newReceiver(s *session) *receiver {
	r := &receiver{s: s, cfg: s.cfg, pr: newPrinter(s.cfg), processing: true,
		pending: make(map[uint16]*outMessage), wake: make(chan struct{}, 1), sent: make(chan struct{}, 1)}
	r.pr.rand = func() int64 { return rand.Int64N(1 << 31) }
	s.onPacket = r.onPacket
	return r
}

// ask queues a request for the run's goroutine.
func (r *receiver) ask(q request) {
	r.reqMu.Lock()
	r.reqs = append(r.reqs, q)
	r.reqMu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take returns the queued requests.
func (r *receiver) take() []request {
	r.reqMu.Lock()
	defer r.reqMu.Unlock()
	q := r.reqs
	r.reqs = nil
	return q
}

// onPacket is the tool's part of the hook. s.outMu is held.
func (r *receiver) onPacket(dir client.Direction, p packet.Packet) {
	if dir == client.Sent {
		if r.onSent != nil {
			r.onSent(p)
		}
		switch p := p.(type) {
		case *packet.Publish:
			if len(r.deferred) > 0 && p.Retain && len(p.Payload) == 0 && p.Topic == r.deferred[0].topic {
				m := r.deferred[0]
				r.deferred = r.deferred[1:]
				r.printCounted(m)
				r.s.open()
			}
		case *packet.Ack:
			if p.Kind == packet.TypePuback || p.Kind == packet.TypePubcomp {
				if m := r.pending[p.PacketID]; m != nil {
					delete(r.pending, p.PacketID)
					r.onMessage(m)
				}
			}
		case *packet.Subscribe, *packet.Unsubscribe:
			select {
			case r.sent <- struct{}{}:
			default:
			}
		}
		return
	}
	switch p := p.(type) {
	case *packet.Connack:
		r.aliases = nil // aliases are the connection's
	case *packet.Publish:
		m := &outMessage{topic: p.Topic, payload: bytes.Clone(p.Payload), qos: p.QoS,
			retain: p.Retain, mid: p.PacketID, props: p.Properties}
		m.order = r.s.order
		if p.Properties.Has(packet.PropTopicAlias) {
			a := p.Properties.TopicAlias
			if r.aliases == nil {
				r.aliases = make(map[uint16]string)
			}
			if m.topic == "" {
				m.topic = r.aliases[a]
			} else {
				r.aliases[a] = m.topic
			}
		}
		if p.QoS == 0 {
			r.onMessage(m)
		} else {
			r.pending[p.PacketID] = m
		}
	case *packet.Suback:
		if r.onSuback != nil {
			r.onSuback(p)
		}
	}
}

// print prints m. s.outMu is held. It reports false if stdout failed.
func (r *receiver) print(m *outMessage) bool {
	var b bytes.Buffer
	r.pr.print(&b, r.s.st.Err, m)
	if b.Len() == 0 {
		return true
	}
	_, err := r.s.st.Out.Write(b.Bytes())
	return err == nil
}

// subMessage is mosquitto_sub's my_message_callback.
func (r *receiver) subMessage(m *outMessage) {
	c := r.cfg
	if !r.processing {
		return
	}
	if c.retainedOnly && !m.retain {
		r.processing = false
		r.ask(request{stop: true})
		return
	}
	if m.retain && c.noRetain {
		return
	}
	for _, f := range c.filterOuts {
		if topic.Match(f, m.topic) {
			return
		}
	}
	if c.removeRetain && m.retain {
		r.ask(request{clear: m.topic})
		r.clearing++
		if r.clearing <= c.maxInflight {
			// libmosquitto sends the clearing PUBLISH before it prints the
			// message (and reads the next packet): print it, and let the
			// reader on, once the PUBLISH is queued. Beyond the in-flight
			// window libmosquitto queues the PUBLISH too, and so does midge.
			r.deferred = append(r.deferred, m)
			r.s.shut()
			return
		}
	}
	r.printCounted(m)
}

// printCounted prints m and counts it for -C. s.outMu is held.
func (r *receiver) printCounted(m *outMessage) {
	c := r.cfg
	if !r.processing {
		return // a deferred message after -C was reached
	}
	if !r.print(m) {
		r.processing = false
		r.ask(request{stop: true})
		return
	}
	if c.msgCount > 0 {
		r.count++
		if r.count == c.msgCount {
			r.processing = false
			// libmosquitto writes DISCONNECT and closes at once, reading
			// nothing more, unless clearing publishes still await PUBACKs.
			r.s.done = r.clearing == 0
			r.ask(request{stop: true})
		}
	}
}

// flushDeferred prints the messages whose clearing PUBLISH could not be
// sent, and lets the reader on.
func (r *receiver) flushDeferred() {
	r.s.outMu.Lock()
	for _, m := range r.deferred {
		r.printCounted(m)
	}
	r.deferred = nil
	r.s.outMu.Unlock()
	r.s.open()
}

// subSuback is mosquitto_sub's my_subscribe_callback.
func (r *receiver) subSuback(ack *packet.Suback) {
	if r.cfg.debug && !r.cfg.quiet {
		var b bytes.Buffer
		for i, code := range ack.ReasonCodes {
			if i == 0 {
				fmt.Fprintf(&b, "Subscribed (mid: %d): %d", ack.PacketID, code)
			} else {
				fmt.Fprintf(&b, ", %d", code)
			}
		}
		b.WriteByte('\n')
		r.s.st.Out.Write(b.Bytes())
	}
	if r.cfg.exitAfterSub {
		r.ask(request{stop: true})
	}
}

// subRun subscribes as cfg says and returns the exit status.
func subRun(ctx context.Context, cfg *clientConfig, st base.Streams) int {
	s := newSession(cfg, st)
	r := newReceiver(s)
	r.onMessage = r.subMessage
	r.onSuback = r.subSuback
	opts, ok := s.prepare("Error: Invalid id and/or clean_session.\n")
	if !ok {
		return 1
	}
	// mosquitto_loop_forever reconnects, a second later, for ever.
	opts.Reconnect = &client.Reconnect{MinDelay: time.Second, MaxDelay: time.Second}
	if len(cfg.unsubTopics) > 0 {
		s.shut()
	}
	dctx, timeout, stop := cfg.deadline(ctx)
	defer stop()
	cl, _, err := client.Dial(dctx, opts)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return 255 // -W ran out before the CONNACK: exit(-1), silently
		}
		return r.dialFailed(ctx, err, true)
	}
	subs := make([]packet.Subscription, len(cfg.topics))
	for i, f := range cfg.topics {
		subs[i] = subscription(cfg, f, cfg.subOpts)
	}
	sp := &packet.Subscribe{Subscriptions: subs}
	if cfg.protocol == 5 {
		sp.Properties = cfg.props[propSubscribe].properties()
	}
	// SUBSCRIBE and then each UNSUBSCRIBE go out at once, in this order,
	// without waiting for their acknowledgements.
	sends := []func(){func() { cl.SubscribePacket(ctx, sp) }}
	for _, f := range cfg.unsubTopics {
		up := &packet.Unsubscribe{Filters: []string{f}}
		if cfg.protocol == 5 {
			up.Properties = cfg.props[propUnsubscribe].properties()
		}
		sends = append(sends, func() { cl.UnsubscribePacket(ctx, up) })
	}
	return r.loop(ctx, cl, sends, timeout)
}

// deadline starts -W's clock, which runs from before the CONNACK as
// alarm() does: it returns the context to connect with, the channel that
// fires when the time is up, and a function that releases the timer.
func (c *clientConfig) deadline(ctx context.Context) (context.Context, <-chan time.Time, func()) {
	if c.timeout <= 0 {
		return ctx, nil, func() {}
	}
	d := time.Duration(c.timeout) * time.Second
	dctx, cancel := context.WithTimeout(ctx, d)
	t := time.NewTimer(d)
	return dctx, t.C, func() { t.Stop(); cancel() }
}

// subscription returns the subscription to filter with the options byte
// opts (MQTT 5 only).
func subscription(cfg *clientConfig, filter string, opts byte) packet.Subscription {
	s := packet.Subscription{Filter: filter, QoS: byte(cfg.qos)}
	if cfg.protocol == 5 {
		s.NoLocal = opts&subOptNoLocal != 0
		s.RetainAsPublished = opts&subOptRetainAsPublished != 0
		s.RetainHandling = opts >> 4 & 3
	}
	return s
}

// dialFailed prints why sub or rr could not connect and returns the
// status. mqttV3Text says whether a 3.1.1 refusal is described with its
// return code's text (sub) or, as rr does, with the MQTT 5 reason string.
func (r *receiver) dialFailed(ctx context.Context, err error, mqttV3Text bool) int {
	var ce *client.ConnectError
	switch {
	case errors.As(err, &ce):
		if mqttV3Text {
			r.s.errorf("%s", r.cfg.connackText(ce.Code))
		} else if ce.Code == packet.UnsupportedProtocolVersion {
			r.s.errorf("Connection error: %s. mosquitto_rr only supports connecting to an MQTT v5 broker\n", reasonString(ce.Code))
		} else {
			r.s.errorf("Connection error: %s\n", reasonString(ce.Code))
		}
		if r.cfg.debug {
			// sub and rr answer the refusal with DISCONNECT (the socket
			// is closing, so it goes nowhere); midge's client has closed
			// the connection already, so only the line is left to print.
			r.s.write([]byte("Client " + r.s.displayID + " sending DISCONNECT\n"))
		}
		return int(ce.Code)
	case ctx.Err() != nil:
		return 255 // exit(-1): interrupted before the CONNACK
	}
	return r.s.connectFailed(err)
}

// loop queues what sends send, one after the other, each once the one
// before is on its way (and, with the session's gate, before any answer is
// looked at), and then carries out the hook's requests until the run ends.
func (r *receiver) loop(ctx context.Context, cl *client.Client, sends []func(), timeout <-chan time.Time) int {
	c := r.cfg
	clearing := 0 // clearing publishes awaiting their PUBACK
	stopping := false
	cleared := make(chan struct{}, 16)
	go func() {
		defer r.s.open()
		for _, f := range sends {
			returned := make(chan struct{})
			go func() { f(); close(returned) }()
			select {
			case <-r.sent:
			case <-returned: // refused before it was queued
			case <-cl.Done():
				return
			}
		}
	}()
	stop := func(code packet.ReasonCode) int {
		props := c.props[propDisconnect].properties()
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Disconnect(dctx, code, &props)
		return 0
	}
	withWill := packet.ReasonCode(0)
	if c.protocol == 5 {
		withWill = packet.DisconnectWithWill
	}
	for {
		select {
		case <-r.wake:
			for _, q := range r.take() {
				switch {
				case q.closed:
					cl.Close()
					return 0
				case q.publish != nil:
					if err := cl.PublishAsync(ctx, q.publish, nil); err != nil {
						r.s.open()
						r.s.errorf("Error: %s\n", publishErrorText(err))
						cl.Close()
						return 1
					}
				case q.clear != "":
					clearing++
					err := cl.PublishAsync(ctx, &client.Message{Topic: q.clear, QoS: 1, Retain: true}, func(error) {
						cleared <- struct{}{}
					})
					if err != nil {
						clearing--
						r.flushDeferred()
					}
				case q.stop:
					stopping = true
				}
			}
			if stopping && clearing == 0 {
				return stop(0)
			}
		case <-cleared:
			clearing--
			r.s.outMu.Lock()
			r.clearing--
			r.s.outMu.Unlock()
			if stopping && clearing == 0 {
				return stop(0)
			}
		case <-timeout:
			r.s.outMu.Lock()
			r.processing = false
			r.s.outMu.Unlock()
			stop(withWill)
			r.s.errorf("Timed out\n")
			return exitTimeout
		case <-ctx.Done():
			r.s.outMu.Lock()
			r.processing = false
			r.s.outMu.Unlock()
			stop(withWill)
			return 0
		case <-cl.Done():
			err := cl.Err()
			if c.msgCount > 0 && errors.Is(err, client.ErrClosed) {
				return 0
			}
			r.s.errorf("Error: The connection was lost.\n")
			return exitConnLost
		}
	}
}

// publishErrorText is mosquitto_strerror for why a publish failed.
func publishErrorText(err error) string {
	switch {
	case errors.Is(err, client.ErrNotSupported):
		return "Requested QoS not supported on server."
	case errors.Is(err, packet.ErrTooLarge):
		return "Packet larger than supported by the server."
	case errors.Is(err, client.ErrConnectionLost), errors.Is(err, client.ErrClosed):
		return "The connection was lost."
	}
	return "Invalid function arguments provided."
}
