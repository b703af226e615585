package clienttool

// midge rr: mosquitto_rr (rr_client.c): publish a request with a Response
// Topic, wait for one response on it, print it and exit.

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// rrRun sends the request and waits for the response; prog names the
// program in the usage hint.
func rrRun(ctx context.Context, prog string, cfg *clientConfig, st base.Streams) int {
	if cfg.topic == nil || cfg.pubMode == msgNone || cfg.responseTopic == nil {
		fmt.Fprintf(st.Err, "Error: All of topic, message, and response topic must be supplied.\n")
		fmt.Fprintf(st.Err, "\nUse '%s --help' to see usage.\n", prog)
		return 1
	}
	s := newSession(cfg, st)
	if cfg.props[propPublish].has(packet.PropResponseTopic) {
		s.errorf("Error in PUBLISH properties: Duplicate response topic.\n")
		return 1
	}
	// Mosquitto 2.0.11's rr never reads -f's file or -s's input and sends
	// an empty request instead; midge sends them. (It also prints retained
	// responses despite -R; midge does not.)
	in := st.In
	if in == nil {
		in = eofReader{}
	}
	if !s.loadMessage(cfg, in) {
		return 1
	}
	r := newReceiver(s)
	published := false
	r.onSent = func(p packet.Packet) {
		if _, ok := p.(*packet.Publish); ok && published {
			r.s.open()
		}
	}
	r.onMessage = func(m *outMessage) {
		if !r.processing || m.retain && cfg.noRetain {
			return
		}
		r.print(m)
		r.processing = false
		r.s.done = true // s.outMu is held: onMessage runs in the hook
		r.ask(request{closed: true})
	}
	opts, ok := s.prepare("Error: Invalid id and/or clean_session.\n")
	if !ok {
		return 1
	}
	dctx, timeout, stop := cfg.deadline(ctx)
	defer stop()
	cl, _, err := client.Dial(dctx, opts)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			s.errorf("Timed out\n")
			return exitTimeout
		}
		return r.dialFailed(ctx, err, false)
	}
	opt := byte(0) // 2.0.11 subscribes with no options; 2.1's flags set some
	if cfg.rrSubOpts {
		opt = cfg.subOpts
	}
	sp := &packet.Subscribe{Subscriptions: []packet.Subscription{subscription(cfg, *cfg.responseTopic, opt)}}
	if cfg.protocol == 5 {
		sp.Properties = cfg.props[propSubscribe].properties()
	}
	m := &client.Message{Topic: *cfg.topic, QoS: byte(cfg.qos), Retain: cfg.retain}
	if cfg.pubMode != msgNull {
		m.Payload = cfg.message
	}
	if cfg.protocol == 5 {
		m.Properties = cfg.props[propPublish].properties()
		m.Properties.SetString(packet.PropResponseTopic, *cfg.responseTopic)
	}
	r.onSuback = func(ack *packet.Suback) {
		if len(ack.ReasonCodes) > 0 && ack.ReasonCodes[0] >= 128 {
			r.s.errorf("%s\n", reasonString(ack.ReasonCodes[0]))
			r.ask(request{stop: true})
			return
		}
		if !published {
			published = true
			// libmosquitto sends the request before it reads on.
			r.s.shut()
			r.ask(request{publish: m})
		}
	}
	sends := []func(){func() { cl.SubscribePacket(ctx, sp) }}
	code := r.loop(ctx, cl, sends, timeout)
	if code == 0 && ctx.Err() != nil {
		return exitSignal
	}
	return code
}
