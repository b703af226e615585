package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestProperties sends a message with every PUBLISH property a client may
// set and checks that the subscriber gets them back, with its
// Subscription Identifier.
func TestProperties(t *testing.T) {
	t.Parallel()
	eachServer(t, servers(t, broker.Config{}), func(t *testing.T, srv server) {
		ctx := testContext(t)
		topic := uniqueID("props") + "/x"
		in := newInbox()
		sub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true, OnMessage: in.handler})
		if _, err := sub.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 1, ID: 42}); err != nil {
			t.Fatal(err)
		}
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true})
		m := &client.Message{Topic: topic, QoS: 1, Payload: []byte(`{"a":1}`)}
		p := &m.Properties
		p.SetUint(packet.PropPayloadFormat, 1)
		p.SetUint(packet.PropMessageExpiry, 60)
		p.SetString(packet.PropContentType, "application/json")
		p.SetString(packet.PropResponseTopic, topic+"/reply")
		p.CorrelationData = []byte{0, 1, 2, 0xff}
		p.Set(packet.PropCorrelationData)
		p.User = []packet.UserProperty{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}, {Key: "ünï", Value: ""}}
		if err := pub.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
		got := in.next(t)
		g := &got.Properties
		if g.PayloadFormat != 1 || !g.Has(packet.PropPayloadFormat) {
			t.Errorf("Payload Format Indicator %d", g.PayloadFormat)
		}
		if !g.Has(packet.PropMessageExpiry) || g.MessageExpiry == 0 || g.MessageExpiry > 60 {
			t.Errorf("Message Expiry Interval %v %d", g.Has(packet.PropMessageExpiry), g.MessageExpiry)
		}
		if g.ContentType != "application/json" || g.ResponseTopic != topic+"/reply" || !bytes.Equal(g.CorrelationData, p.CorrelationData) {
			t.Errorf("got content type %q response topic %q correlation %x", g.ContentType, g.ResponseTopic, g.CorrelationData)
		}
		if fmt.Sprint(g.User) != fmt.Sprint(p.User) {
			t.Errorf("user properties %v, want %v", g.User, p.User)
		}
		if fmt.Sprint(g.SubscriptionIDs) != "[42]" {
			t.Errorf("subscription identifiers %v", g.SubscriptionIDs)
		}
		if string(got.Payload) != `{"a":1}` {
			t.Errorf("payload %q", got.Payload)
		}
	})
}

// packetLog records what OnPacket sees.
type packetLog struct {
	mu  sync.Mutex
	log []string
	pub []packet.Publish
}

func (l *packetLog) hook(d client.Direction, p packet.Packet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, d.String()+" "+p.Type().String())
	if pp, ok := p.(*packet.Publish); ok && d == client.Sent {
		l.pub = append(l.pub, *pp)
	}
}

func (l *packetLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.log, ", ")
}

func (l *packetLog) published() []packet.Publish {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]packet.Publish(nil), l.pub...)
}

// TestTopicAliasSend publishes with automatic and with explicit topic
// aliases: the wire carries the topic once, the subscriber gets it every
// time.
func TestTopicAliasSend(t *testing.T) {
	t.Parallel()
	eachServer(t, servers(t, broker.Config{}), func(t *testing.T, srv server) {
		ctx := testContext(t)
		prefix := uniqueID("alias")
		in := newInbox()
		sub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true, OnMessage: in.handler})
		if _, err := sub.Subscribe(ctx, client.Subscription{Filter: prefix + "/#", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		var log packetLog
		pub, ack := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true,
			AutoTopicAlias: true, OnPacket: log.hook})
		if ack.Properties.TopicAliasMaximum == 0 {
			t.Fatal("server allows no topic aliases")
		}
		for i := range 3 {
			if err := pub.Publish(ctx, &client.Message{Topic: prefix + "/auto", QoS: byte(i % 2), Payload: fmt.Appendf(nil, "auto%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		explicit := &client.Message{Topic: prefix + "/explicit", QoS: 1, Payload: []byte("x0")}
		explicit.Properties.SetUint(packet.PropTopicAlias, uint32(ack.Properties.TopicAliasMaximum))
		if err := pub.Publish(ctx, explicit); err != nil {
			t.Fatal(err)
		}
		aliasOnly := &client.Message{QoS: 1, Payload: []byte("x1")}
		aliasOnly.Properties.SetUint(packet.PropTopicAlias, uint32(ack.Properties.TopicAliasMaximum))
		if err := pub.Publish(ctx, aliasOnly); err != nil {
			t.Fatal(err)
		}
		tooHigh := &client.Message{Topic: "x"}
		tooHigh.Properties.SetUint(packet.PropTopicAlias, uint32(ack.Properties.TopicAliasMaximum)+1)
		if err := pub.Publish(ctx, tooHigh); !errors.Is(err, client.ErrNotSupported) {
			t.Errorf("alias above the maximum: %v", err)
		}
		unset := &client.Message{}
		unset.Properties.SetUint(packet.PropTopicAlias, uint32(ack.Properties.TopicAliasMaximum)-1)
		if err := pub.Publish(ctx, unset); err == nil {
			t.Errorf("alias never set: no error")
		}

		wire := log.published()
		want := []string{prefix + "/auto", "", "", prefix + "/explicit", ""}
		if len(wire) != len(want) {
			t.Fatalf("%d PUBLISH sent, want %d", len(wire), len(want))
		}
		for i, p := range wire {
			if p.Topic != want[i] || !p.Properties.Has(packet.PropTopicAlias) {
				t.Errorf("PUBLISH %d: topic %q alias %d, want topic %q with an alias", i, p.Topic, p.Properties.TopicAlias, want[i])
			}
		}
		for _, w := range []string{"auto0 auto", "auto1 auto", "auto2 auto", "x0 explicit", "x1 explicit"} {
			m := in.next(t)
			if got := string(m.Payload) + " " + strings.TrimPrefix(m.Topic, prefix+"/"); got != w {
				t.Errorf("got %q, want %q", got, w)
			}
		}
	})
}

// TestTopicAliasReceive checks that aliases from the server are resolved:
// from midge, which uses them when the client allows, and from a scripted
// server, which also breaks the rules.
func TestTopicAliasReceive(t *testing.T) {
	t.Parallel()
	t.Run("midge", func(t *testing.T) {
		t.Parallel()
		srv := servers(t, broker.Config{})[0]
		ctx := testContext(t)
		in := newInbox()
		var log packetLog
		opts := client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true, OnMessage: in.handler, OnPacket: log.hook}
		opts.Properties.SetUint(packet.PropTopicAliasMaximum, 4)
		sub, _ := dial(t, opts)
		if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "al/#", QoS: 0}); err != nil {
			t.Fatal(err)
		}
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true})
		for i := range 3 {
			if err := pub.Publish(ctx, &client.Message{Topic: "al/x", Payload: fmt.Appendf(nil, "%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if m := in.next(t); m.Topic != "al/x" {
				t.Errorf("topic %q", m.Topic)
			}
		}
	})
	t.Run("scripted", func(t *testing.T) {
		t.Parallel()
		fs := newFakeServer(t)
		in := newInbox()
		opts := client.Options{ProtocolVersion: packet.Version5, OnMessage: in.handler}
		opts.Properties.SetUint(packet.PropTopicAliasMaximum, 2)
		c, rc, cp := fs.dial(opts, nil)
		if cp.Properties.TopicAliasMaximum != 2 {
			t.Fatalf("CONNECT Topic Alias Maximum %d", cp.Properties.TopicAliasMaximum)
		}
		withAlias := func(topic string, alias uint16, payload string) *packet.Publish {
			p := &packet.Publish{Topic: topic, Payload: []byte(payload)}
			p.Properties.SetUint(packet.PropTopicAlias, uint32(alias))
			return p
		}
		rc.Send(withAlias("a/1", 1, "p1"))
		rc.Send(withAlias("", 1, "p2"))
		rc.Send(withAlias("b/2", 2, "p3"))
		rc.Send(withAlias("c/3", 1, "p4")) // alias 1 re-mapped
		rc.Send(withAlias("", 1, "p5"))
		rc.Send(withAlias("", 2, "p6"))
		for _, w := range []string{"a/1 p1", "a/1 p2", "b/2 p3", "c/3 p4", "c/3 p5", "b/2 p6"} {
			m := in.next(t)
			if got := m.Topic + " " + string(m.Payload); got != w {
				t.Errorf("got %q, want %q", got, w)
			}
			if m.Properties.Has(packet.PropTopicAlias) {
				t.Errorf("received message keeps its Topic Alias %d", m.Properties.TopicAlias)
			}
		}
		// Alias above our maximum: DISCONNECT 0x94 [MQTT-3.3.2-10].
		rc.Send(withAlias("d", 3, "bad"))
		expectViolation(t, c, rc, packet.TopicAliasInvalid, &packet.Error{Code: packet.TopicAliasInvalid})
	})
}

// TestReceiveMaximum checks that publishes wait for the window the server's
// Receive Maximum (or Options.MaxInflight) allows.
func TestReceiveMaximum(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		v           byte
		recvMax     uint16
		maxInflight int
		window      int
	}{
		{"v5-receive-maximum", packet.Version5, 2, 0, 2},
		{"v5-max-inflight-lower", packet.Version5, 5, 3, 3},
		{"v3.1.1-max-inflight", packet.Version311, 0, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t)
			ack := &packet.Connack{}
			if tc.recvMax > 0 {
				ack.Properties.SetUint(packet.PropReceiveMaximum, uint32(tc.recvMax))
			}
			c, rc, _ := fs.dial(client.Options{ProtocolVersion: tc.v, MaxInflight: tc.maxInflight}, ack)
			ctx := testContext(t)
			const n = 6
			completed := make(chan error, n)
			go func() {
				for i := range n {
					q := byte(1 + i%2)
					if err := c.PublishAsync(ctx, &client.Message{Topic: "w", QoS: q}, func(err error) { completed <- err }); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var pending []*packet.Publish
			read := func(k int) {
				for range k {
					pending = append(pending, testutil.Expect[*packet.Publish](rc))
				}
			}
			read(tc.window)
			sent := tc.window
			for sent < n {
				rc.ExpectNothing(50 * time.Millisecond) // the window is full
				// Complete the oldest: the next publish goes out.
				p := pending[0]
				pending = pending[1:]
				if p.QoS == 1 {
					rc.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
				} else {
					rc.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
					testutil.Expect[*packet.Ack](rc) // PUBREL: the QoS 2 flow still counts
					rc.ExpectNothing(20 * time.Millisecond)
					rc.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
				}
				read(1)
				sent++
			}
			for _, p := range pending {
				if p.QoS == 1 {
					rc.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
				} else {
					rc.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
					testutil.Expect[*packet.Ack](rc)
					rc.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
				}
			}
			for range n {
				if err := <-completed; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestPipelining keeps many QoS 1 and 2 publishes in flight against the
// real brokers (whose Receive Maximum and max_inflight_messages are 20)
// and checks that every one completes and arrives.
func TestPipelining(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		ctx := testContext(t)
		topic := uniqueID("pipe")
		in := newInbox()
		sub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("sub"), CleanStart: true, OnMessage: in.handler})
		if _, err := sub.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 2}); err != nil {
			t.Fatal(err)
		}
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("pub"), CleanStart: true})
		const n = 500
		done := make(chan error, n)
		for i := range n {
			m := &client.Message{Topic: topic, QoS: byte(1 + i%2), Payload: fmt.Appendf(nil, "%d", i)}
			if err := pub.PublishAsync(ctx, m, func(err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		seen := make(map[string]bool)
		for range n {
			m := in.next(t)
			seen[string(m.Payload)] = true
		}
		if len(seen) != n {
			t.Errorf("%d distinct messages, want %d", len(seen), n)
		}
	})
}

// TestMaximumPacketSize checks both directions: the client does not send a
// packet above the server's Maximum Packet Size, and it refuses (with
// DISCONNECT 0x95) a packet above its own.
func TestMaximumPacketSize(t *testing.T) {
	t.Parallel()
	t.Run("server-limit", func(t *testing.T) {
		t.Parallel()
		fs := newFakeServer(t)
		ack := &packet.Connack{}
		ack.Properties.SetUint(packet.PropMaximumPacketSize, 64)
		c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5}, ack)
		ctx := testContext(t)
		err := c.Publish(ctx, &client.Message{Topic: "big", QoS: 1, Payload: make([]byte, 100)})
		if !errors.Is(err, packet.ErrTooLarge) {
			t.Fatalf("Publish of 100 bytes: %v", err)
		}
		if err := c.Publish(ctx, &client.Message{Topic: "small", Payload: make([]byte, 10)}); err != nil {
			t.Fatal(err)
		}
		if p := testutil.Expect[*packet.Publish](rc); p.Topic != "small" {
			t.Fatalf("got %q", p.Topic)
		}
	})
	t.Run("client-limit", func(t *testing.T) {
		t.Parallel()
		fs := newFakeServer(t)
		opts := client.Options{ProtocolVersion: packet.Version5}
		opts.Properties.SetUint(packet.PropMaximumPacketSize, 32)
		c, rc, cp := fs.dial(opts, nil)
		if cp.Properties.MaximumPacketSize != 32 {
			t.Fatalf("CONNECT Maximum Packet Size %d", cp.Properties.MaximumPacketSize)
		}
		rc.Send(&packet.Publish{Topic: "big", Payload: make([]byte, 64)})
		expectViolation(t, c, rc, packet.PacketTooLarge, packet.ErrTooLarge)
	})
	eachServer(t, servers(t, broker.Config{}), func(t *testing.T, srv server) {
		ctx := testContext(t)
		topic := uniqueID("mps")
		in := newInbox()
		opts := client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true, OnMessage: in.handler}
		opts.Properties.SetUint(packet.PropMaximumPacketSize, 100)
		sub, _ := dial(t, opts)
		if _, err := sub.Subscribe(ctx, client.Subscription{Filter: topic}); err != nil {
			t.Fatal(err)
		}
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, CleanStart: true})
		for _, size := range []int{200, 10} {
			if err := pub.Publish(ctx, &client.Message{Topic: topic, Payload: make([]byte, size)}); err != nil {
				t.Fatal(err)
			}
		}
		if m := in.next(t); len(m.Payload) != 10 {
			t.Errorf("got %d bytes: the server sent a packet above our maximum", len(m.Payload))
		}
	})
}

// TestServerCapabilities checks that publishes the server said it does
// not support fail without being sent.
func TestServerCapabilities(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	ack := &packet.Connack{}
	ack.Properties.SetUint(packet.PropMaximumQoS, 1)
	ack.Properties.SetUint(packet.PropRetainAvailable, 0)
	c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5}, ack)
	ctx := testContext(t)
	if err := c.Publish(ctx, &client.Message{Topic: "a", QoS: 2}); !errors.Is(err, client.ErrNotSupported) {
		t.Errorf("QoS 2: %v", err)
	}
	if err := c.Publish(ctx, &client.Message{Topic: "a", Retain: true}); !errors.Is(err, client.ErrNotSupported) {
		t.Errorf("retain: %v", err)
	}
	if err := c.Publish(ctx, &client.Message{Topic: "a/#"}); !errors.Is(err, packet.ErrEncode) {
		t.Errorf("wildcard topic: %v", err)
	}
	if err := c.Publish(ctx, &client.Message{Topic: "a", QoS: 3}); err == nil {
		t.Errorf("QoS 3 accepted")
	}
	rc.ExpectNothing(50 * time.Millisecond)
}

// TestPublishErrorCodes checks that MQTT 5 acknowledgements with an error
// reason code fail the publish, and that 0x10 does not.
func TestPublishErrorCodes(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5}, nil)
	ctx := testContext(t)
	cases := []struct {
		qos  byte
		kind packet.Type
		code packet.ReasonCode
		ok   bool
	}{
		{1, packet.TypePuback, packet.NoMatchingSubscribers, true},
		{1, packet.TypePuback, packet.NotAuthorized, false},
		{2, packet.TypePubrec, packet.QuotaExceeded, false},
		{2, packet.TypePubrec, packet.NoMatchingSubscribers, true},
	}
	for _, tc := range cases {
		errc := make(chan error, 1)
		go func() { errc <- c.Publish(ctx, &client.Message{Topic: "a", QoS: tc.qos}) }()
		p := testutil.Expect[*packet.Publish](rc)
		a := &packet.Ack{Kind: tc.kind, PacketID: p.PacketID, ReasonCode: tc.code}
		a.Properties.SetString(packet.PropReasonString, "because")
		rc.Send(a)
		if tc.qos == 2 && tc.ok {
			testutil.Expect[*packet.Ack](rc)
			rc.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
		}
		err := <-errc
		var re *client.ReasonError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%v %v: %v", tc.kind, tc.code, err)
		case !tc.ok && (!errors.As(err, &re) || re.Code != tc.code || re.Type != tc.kind || re.Properties.ReasonString != "because"):
			t.Errorf("%v %v: %v", tc.kind, tc.code, err)
		case !tc.ok && !errors.Is(err, &client.ReasonError{Code: tc.code}):
			t.Errorf("errors.Is does not match %v", err)
		}
	}
	if tc := cases[2]; true {
		_ = tc
		rc.ExpectNothing(30 * time.Millisecond) // no PUBREL after a failed PUBREC
	}
}

// TestServerDisconnect checks that an MQTT 5 DISCONNECT from the server ends
// the client with its reason code, and that a protocol violation by the
// server is answered with DISCONNECT and a reason code.
func TestServerDisconnect(t *testing.T) {
	t.Parallel()
	t.Run("disconnect", func(t *testing.T) {
		t.Parallel()
		fs := newFakeServer(t)
		c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5}, nil)
		d := &packet.Disconnect{ReasonCode: packet.ServerShuttingDown}
		d.Properties.SetString(packet.PropReasonString, "maintenance")
		rc.Send(d)
		<-c.Done()
		var re *client.ReasonError
		if !errors.As(c.Err(), &re) || re.Code != packet.ServerShuttingDown || re.Properties.ReasonString != "maintenance" {
			t.Fatalf("Err %v", c.Err())
		}
		t.Log(c.Err())
	})
	t.Run("violation", func(t *testing.T) {
		t.Parallel()
		fs := newFakeServer(t)
		c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5}, nil)
		rc.Send(&packet.Connack{})
		expectViolation(t, c, rc, packet.ProtocolError, packet.ErrProtocol)
	})
}

// TestEnhancedAuth runs an AUTH exchange during CONNECT through OnAuth.
func TestEnhancedAuth(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	opts := client.Options{ProtocolVersion: packet.Version5, Address: fs.Addr, Logger: testLogger(t),
		OnAuth: func(a *packet.Auth) (*packet.Auth, error) {
			if string(a.Properties.AuthData) != "challenge" {
				return nil, fmt.Errorf("unexpected challenge %q", a.Properties.AuthData)
			}
			r := &packet.Auth{ReasonCode: packet.ContinueAuthentication}
			r.Properties.SetString(packet.PropAuthMethod, "TEST")
			r.Properties.AuthData = []byte("response")
			r.Properties.Set(packet.PropAuthData)
			return r, nil
		}}
	opts.Properties.SetString(packet.PropAuthMethod, "TEST")
	opts.Properties.AuthData = []byte("hello")
	opts.Properties.Set(packet.PropAuthData)
	res := make(chan error, 1)
	go func() {
		c, _, err := client.Dial(testContext(t), opts)
		if err == nil {
			c.Close()
		}
		res <- err
	}()
	rc := fs.accept(packet.Version5)
	cp := testutil.Expect[*packet.Connect](rc)
	if cp.Properties.AuthMethod != "TEST" || string(cp.Properties.AuthData) != "hello" {
		t.Fatalf("CONNECT auth %q %q", cp.Properties.AuthMethod, cp.Properties.AuthData)
	}
	ch := &packet.Auth{ReasonCode: packet.ContinueAuthentication}
	ch.Properties.SetString(packet.PropAuthMethod, "TEST")
	ch.Properties.AuthData = []byte("challenge")
	ch.Properties.Set(packet.PropAuthData)
	rc.Send(ch)
	if a := testutil.Expect[*packet.Auth](rc); string(a.Properties.AuthData) != "response" {
		t.Fatalf("AUTH %q", a.Properties.AuthData)
	}
	ack := &packet.Connack{}
	ack.Properties.SetString(packet.PropAuthMethod, "TEST")
	rc.Send(ack)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestOnPacket checks that the debug hook sees every packet in wire order.
func TestOnPacket(t *testing.T) {
	t.Parallel()
	eachServer(t, servers(t, broker.Config{}), func(t *testing.T, srv server) {
		ctx := testContext(t)
		var log packetLog
		topic := uniqueID("hook")
		c, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version311, CleanStart: true,
			ClientID: uniqueID("hook"), OnPacket: log.hook, OnMessage: func(*client.Message) {}})
		if _, err := c.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 2}); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, &client.Message{Topic: topic + "/no", QoS: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Unsubscribe(ctx, topic); err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect(ctx, 0, nil); err != nil {
			t.Fatal(err)
		}
		want := "sending CONNECT, received CONNACK, sending SUBSCRIBE, received SUBACK, " +
			"sending PUBLISH, received PUBREC, sending PUBREL, received PUBCOMP, " +
			"sending UNSUBSCRIBE, received UNSUBACK, sending DISCONNECT"
		if got := log.String(); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

// TestTopicAliasResend checks that publishes sent with only an alias are
// resent with their topic on a new connection, where the old aliases do
// not exist.
func TestTopicAliasResend(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	ack := &packet.Connack{}
	ack.Properties.SetUint(packet.PropTopicAliasMaximum, 5)
	c, rc, _ := fs.dial(client.Options{ProtocolVersion: packet.Version5, ClientID: "aliases", AutoTopicAlias: true, Reconnect: fastReconnect}, ack)
	ctx := testContext(t)
	done := make(chan error, 2)
	for range 2 {
		if err := c.PublishAsync(ctx, &client.Message{Topic: "long/topic/name", QoS: 1}, func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
	}
	if p := testutil.Expect[*packet.Publish](rc); p.Topic != "long/topic/name" || p.Properties.TopicAlias != 1 {
		t.Fatalf("first: topic %q alias %d", p.Topic, p.Properties.TopicAlias)
	}
	if p := testutil.Expect[*packet.Publish](rc); p.Topic != "" || p.Properties.TopicAlias != 1 {
		t.Fatalf("second: topic %q alias %d", p.Topic, p.Properties.TopicAlias)
	}
	rc.Close()
	rc, _ = fs.handshake(packet.Version5, &packet.Connack{SessionPresent: true}) // no aliases this time
	for range 2 {
		p := testutil.Expect[*packet.Publish](rc)
		if !p.Dup || p.Topic != "long/topic/name" || p.Properties.Has(packet.PropTopicAlias) {
			t.Fatalf("resent: dup %v topic %q alias %d", p.Dup, p.Topic, p.Properties.TopicAlias)
		}
		rc.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// expectViolation expects the client to send DISCONNECT with reason code
// code, close the connection, and end with an error that is want: its
// answer to a server that broke the protocol.
func expectViolation(t *testing.T, c *client.Client, rc *testutil.Client, code packet.ReasonCode, want error) {
	t.Helper()
	got := rc.ExpectClosed()
	var d *packet.Disconnect
	if len(got) == 1 {
		d, _ = got[0].(*packet.Disconnect)
	}
	if d == nil || d.ReasonCode != code {
		t.Fatalf("client sent %v before closing, want DISCONNECT %v", got, code)
	}
	<-c.Done()
	if !errors.Is(c.Err(), want) {
		t.Errorf("Err %v, want %v", c.Err(), want)
	}
}
