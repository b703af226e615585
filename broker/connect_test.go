package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// [MQTT-3.1.0-1]: the first packet must be CONNECT.
func TestFirstPacketMustBeConnect(t *testing.T) {
	b := start(t, open())
	c := testutil.Dial(t, b.Addr, packet.Version311)
	c.Send(&packet.Pingreq{})
	if got := c.ExpectClosed(); len(got) != 0 {
		t.Fatalf("got %v before close", got)
	}
}

// [MQTT-3.1.0-2]: a second CONNECT is a protocol error: closed without
// DISCONNECT, as Mosquitto does.
func TestSecondConnect(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{packet.Version311, packet.Version5} {
		c := connect(t, b, v, "twice")
		c.Send(&packet.Connect{ProtocolVersion: v, ClientID: "twice", CleanStart: true})
		if got := c.ExpectClosed(); len(got) != 0 {
			t.Fatalf("v%d: got %v", v, got)
		}
	}
}

// A client that never sends CONNECT is dropped after the connect timeout.
func TestConnectTimeout(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, ConnectTimeout: 200 * time.Millisecond})
	c := testutil.Dial(t, b.Addr, packet.Version311)
	c.ExpectClosed()
}

// [MQTT-3.1.2-2]: an unsupported protocol level gets CONNACK 0x01 and a
// close; [MQTT-3.1.2-1]: a wrong protocol name gets a close.
func TestProtocolVersion(t *testing.T) {
	b := start(t, open())
	nc := testutil.DialTCP(t, b.Addr)
	// CONNECT "MQTT" level 6, clean start, keep alive 60, client id "x".
	nc.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60, 0, 1, 'x'})
	buf := make([]byte, 8)
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	n, err := nc.Read(buf)
	if got := buf[:n]; string(got) != "\x20\x02\x00\x01" {
		t.Fatalf("got % x (%v), want CONNACK 0x01", got, err)
	}
	if _, err := nc.Read(buf); err == nil {
		t.Fatal("connection left open")
	}

	nc = testutil.DialTCP(t, b.Addr)
	nc.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'X', 'X', 4, 0x02, 0, 60, 0, 1, 'x'})
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if n, err := nc.Read(buf); err == nil {
		t.Fatalf("got % x for a bad protocol name, want a close", buf[:n])
	}

	// MQIsdp must be level 3.
	nc = testutil.DialTCP(t, b.Addr)
	nc.Write([]byte{0x10, 15, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 0x02, 0, 60, 0, 1, 'x'})
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	n, _ = nc.Read(buf)
	if got := buf[:n]; string(got) != "\x20\x02\x00\x01" {
		t.Fatalf("MQIsdp level 4: got % x, want CONNACK 0x01", got)
	}
}

// MQTT 5: a malformed CONNECT is answered with CONNACK 0x81 [MQTT-3.1.2-3],
// [MQTT-4.13.1-1]; a 3.1.1 one is just closed.
func TestMalformedConnect(t *testing.T) {
	b := start(t, open())
	nc := testutil.DialTCP(t, b.Addr)
	// Version 5, reserved flag bit set.
	nc.Write([]byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x03, 0, 60, 0, 0, 1, 'x'})
	r := packet.NewReader(nc, 0)
	r.Version = 5
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if p, err := r.ReadPacket(); err == nil {
		t.Fatalf("got %+v, want the close alone, as Mosquitto does", p)
	}
	nc = testutil.DialTCP(t, b.Addr)
	nc.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 60, 0, 1, 'x'})
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if n, err := nc.Read(make([]byte, 4)); err == nil {
		t.Fatalf("3.1.1 malformed CONNECT answered with %d bytes", n)
	}
}

// Client identifier rules: a zero-length id is assigned one when allowed
// [MQTT-3.1.3-6], refused in 3.1.1 without clean session [MQTT-3.1.3-8]
// (3.1.1) and in 3.1, and MQTT 5 reports the assigned id [MQTT-3.2.2-16].
func TestClientIdentifier(t *testing.T) {
	b := start(t, open())
	cases := []struct {
		v     byte
		clean bool
		want  packet.ReasonCode
	}{
		{packet.Version31, true, packet.ConnackV3IdentifierRejected},
		{packet.Version311, false, packet.ConnackV3IdentifierRejected},
		{packet.Version311, true, packet.Success},
		{packet.Version5, true, packet.Success},
		{packet.Version5, false, packet.Success},
	}
	for _, tc := range cases {
		c, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: tc.v, CleanStart: tc.clean})
		if ack.ReasonCode != tc.want {
			t.Errorf("v%d clean %v: CONNACK %v, want %v", tc.v, tc.clean, ack.ReasonCode, tc.want)
		}
		if tc.v == packet.Version5 {
			id := ack.Properties.AssignedClientID
			if !ack.Properties.Has(packet.PropAssignedClientID) || !strings.HasPrefix(id, "auto-") || len(id) != len("auto-")+36 {
				t.Errorf("assigned client id %q", id)
			}
			if ack.SessionPresent {
				t.Error("session present for a new assigned id")
			}
		}
		if tc.want != packet.Success {
			c.ExpectClosed()
		}
	}

	b = start(t, broker.Config{AllowAnonymous: true, DenyZeroLengthClientID: true, AutoIDPrefix: "x-"})
	_, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true})
	if ack.ReasonCode != packet.UnspecifiedError { // Mosquitto's choice
		t.Errorf("allow_zero_length_clientid false: %v, want 0x80", ack.ReasonCode)
	}
	_, ack = connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version311, CleanStart: true})
	if ack.ReasonCode != packet.ConnackV3IdentifierRejected {
		t.Errorf("allow_zero_length_clientid false, 3.1.1: %v, want 2", ack.ReasonCode)
	}
}

// Authentication: anonymous clients refused unless allowed; wrong passwords
// refused with "not authorised" (3.1.1) / 0x87 (5), as Mosquitto answers;
// an unsupported Authentication Method gets 0x8C.
func TestAuthentication(t *testing.T) {
	b := start(t, broker.Config{Authenticators: []broker.Authenticator{users{"alice": "secret"}}})
	cases := []struct {
		v      byte
		user   string
		pw     string
		hasPW  bool
		method string
		want   packet.ReasonCode
	}{
		{v: 4, want: packet.ConnackV3NotAuthorized},
		{v: 5, want: packet.NotAuthorized},
		{v: 4, user: "alice", pw: "wrong", hasPW: true, want: packet.ConnackV3NotAuthorized},
		{v: 5, user: "alice", pw: "wrong", hasPW: true, want: packet.NotAuthorized},
		{v: 5, user: "bob", pw: "secret", hasPW: true, want: packet.NotAuthorized},
		{v: 3, user: "alice", pw: "secret", hasPW: true, want: packet.Success},
		{v: 4, user: "alice", pw: "secret", hasPW: true, want: packet.Success},
		{v: 5, user: "alice", pw: "secret", hasPW: true, want: packet.Success},
		{v: 5, user: "alice", pw: "secret", hasPW: true, method: "SCRAM-SHA-1", want: packet.BadAuthenticationMethod},
	}
	for i, tc := range cases {
		cp := &packet.Connect{ProtocolVersion: tc.v, ClientID: "c", CleanStart: true,
			HasUsername: tc.user != "", Username: tc.user, HasPassword: tc.hasPW, Password: []byte(tc.pw)}
		if tc.method != "" {
			cp.Properties.SetString(packet.PropAuthMethod, tc.method)
		}
		c, ack := connectWith(t, b, cp)
		if ack.ReasonCode != tc.want {
			t.Errorf("case %d: CONNACK %v, want %v", i, ack.ReasonCode, tc.want)
		}
		if tc.want != packet.Success {
			c.ExpectClosed()
		}
	}
}

// [MQTT-3.1.2-22] (v5), [MQTT-3.1.2-24] (3.1.1): a client silent for 1.5
// times its keep alive is disconnected; MQTT 5 with 0x8D.
func TestKeepAliveEnforced(t *testing.T) {
	t.Parallel()
	b := start(t, open())
	for _, v := range []byte{packet.Version311, packet.Version5} {
		c, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: v, ClientID: "ka", CleanStart: true, KeepAlive: 1})
		start := time.Now()
		// Activity within the keep alive keeps it open.
		for range 3 {
			time.Sleep(600 * time.Millisecond) // simulating a client that pings every 0.6 s
			ping(t, c)
		}
		start = time.Now()
		got := c.ExpectClosed()
		el := time.Since(start)
		if el < 1400*time.Millisecond || el > 2500*time.Millisecond {
			t.Errorf("v%d: closed after %v, want about 1.5 s", v, el)
		}
		if v == packet.Version5 && (len(got) != 1 || got[0].(*packet.Disconnect).ReasonCode != packet.KeepAliveTimeout) {
			t.Errorf("v5: got %v before close, want DISCONNECT 0x8D", got)
		}
	}
}

// max_keepalive: MQTT 5 clients asking for more (or 0) are told Server Keep
// Alive [MQTT-3.2.2-21]; 3.1.1 clients are refused as Mosquitto does.
func TestServerKeepAlive(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxKeepalive: 30})
	_, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "a", CleanStart: true, KeepAlive: 100})
	if !ack.Properties.Has(packet.PropServerKeepAlive) || ack.Properties.ServerKeepAlive != 30 {
		t.Errorf("Server Keep Alive %v, want 30", ack.Properties.ServerKeepAlive)
	}
	_, ack = connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "b", CleanStart: true, KeepAlive: 0})
	if ack.Properties.ServerKeepAlive != 30 {
		t.Errorf("keep alive 0: Server Keep Alive %v, want 30", ack.Properties.ServerKeepAlive)
	}
	_, ack = connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "c", CleanStart: true, KeepAlive: 20})
	if ack.Properties.Has(packet.PropServerKeepAlive) {
		t.Error("Server Keep Alive sent for an acceptable keep alive")
	}
	_, ack = connectWith(t, b, &packet.Connect{ProtocolVersion: 4, ClientID: "d", CleanStart: true, KeepAlive: 100})
	if ack.ReasonCode != packet.ConnackV3IdentifierRejected {
		t.Errorf("3.1.1 keep alive above max: %v", ack.ReasonCode)
	}
}

// CONNACK properties announce the server's limits.
func TestConnackProperties(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxQoS: 1, RetainUnavailable: true, MaxPacketSize: 1000, MaxTopicAlias: 5, MaxInflightMessages: 7})
	_, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "p", CleanStart: true})
	p := &ack.Properties
	check := func(id packet.PropertyID, got, want uint32) {
		if !p.Has(id) || got != want {
			t.Errorf("%v = %d (present %v), want %d", id, got, p.Has(id), want)
		}
	}
	check(packet.PropMaximumQoS, uint32(p.MaximumQoS), 1)
	check(packet.PropRetainAvailable, uint32(p.RetainAvailable), 0)
	check(packet.PropMaximumPacketSize, p.MaximumPacketSize, 1000)
	check(packet.PropTopicAliasMaximum, uint32(p.TopicAliasMaximum), 5)
	check(packet.PropReceiveMaximum, uint32(p.ReceiveMaximum), 7)
	if p.Has(packet.PropAssignedClientID) {
		t.Error("Assigned Client Identifier for a client that chose one")
	}
}

// Session Present [MQTT-3.2.2-2], [MQTT-3.2.2-3] and session takeover
// [MQTT-3.1.4-3]: the old connection is closed, an MQTT 5 one with 0x8E.
func TestSessionPresentAndTakeover(t *testing.T) {
	b := start(t, open())
	c1, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "same", CleanStart: false,
		Properties: expiryProps(60)})
	if ack.SessionPresent {
		t.Fatal("session present on first connect")
	}
	c2, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "same", CleanStart: false,
		Properties: expiryProps(60)})
	if !ack.SessionPresent {
		t.Error("session not present on takeover without clean start")
	}
	expectDisconnect(t, c1, packet.SessionTakenOver)
	ping(t, c2)

	c3, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 4, ClientID: "same", CleanStart: true})
	if ack.SessionPresent {
		t.Error("session present with clean session") // [MQTT-3.2.2-1] (3.1.1)
	}
	expectDisconnect(t, c2, packet.SessionTakenOver)
	c4, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: 4, ClientID: "same", CleanStart: true})
	if got := c3.ExpectClosed(); len(got) != 0 {
		t.Errorf("3.1.1 client got %v on takeover, want a plain close", got)
	}
	ping(t, c4)
}

func expiryProps(sec uint32) packet.Properties {
	var p packet.Properties
	p.SetUint(packet.PropSessionExpiry, sec)
	return p
}

// max_connections bounds connections; the next one is closed at once.
func TestMaxConnections(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxConnections: 2})
	connect(t, b, 4, "a")
	c2 := connect(t, b, 4, "b")
	c3 := testutil.Dial(t, b.Addr, 4)
	c3.ExpectClosed()
	disconnect(c2)
	testutil.WaitFor(t, "a free slot", func() bool {
		c := testutil.Dial(t, b.Addr, 4)
		c.Send(&packet.Connect{ProtocolVersion: 4, ClientID: "c", CleanStart: true})
		_, err := c.Read(testutil.Timeout)
		return err == nil
	})
}

// A client that writes CONNECT, PUBLISH and DISCONNECT at once gets its
// CONNACK and PUBACK before the broker closes, as from Mosquitto.
func TestPipelinedConnectPublishDisconnect(t *testing.T) {
	for _, v := range []byte{packet.Version311, packet.Version5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			b := start(t, open())
			sub := subscriber(t, b, v, "sub", "pipe", 1)
			c := testutil.Dial(t, b.Addr, v)
			var out []byte
			for _, p := range []packet.Packet{
				&packet.Connect{ProtocolVersion: v, ClientID: "pipelined", CleanStart: true},
				&packet.Publish{Topic: "pipe", QoS: 1, PacketID: 9, Payload: []byte("x")},
				&packet.Disconnect{},
			} {
				var err error
				if out, err = packet.Append(out, p, v); err != nil {
					t.Fatal(err)
				}
			}
			c.SendRaw(out)
			got := c.ExpectClosed()
			if len(got) != 2 {
				t.Fatalf("got %v before the close, want CONNACK and PUBACK", got)
			}
			if ack, ok := got[0].(*packet.Connack); !ok || ack.ReasonCode != packet.Success {
				t.Fatalf("first packet %+v, want CONNACK", got[0])
			}
			if ack, ok := got[1].(*packet.Ack); !ok || ack.Kind != packet.TypePuback || ack.PacketID != 9 {
				t.Fatalf("second packet %+v, want PUBACK 9", got[1])
			}
			expectPublish(t, sub, "pipe", "x")
		})
	}
}

// TestMaxSessions checks global_max_clients (Config.MaxSessions) over TCP:
// connected and offline persistent sessions count; one more new client is
// refused (MQTT 5: CONNACK 0x89 Server busy; 3.1.1: closed without a
// CONNACK, as Mosquitto 2.1 does); a client resuming its own session is not;
// and once a session ends there is room again.
func TestMaxSessions(t *testing.T) {
	t.Parallel()
	cfg := open()
	cfg.MaxSessions = 2
	b := start(t, cfg)

	a := connect(t, b, packet.Version5, "a")
	persistent := func(id string) *packet.Connect {
		cp := &packet.Connect{ProtocolVersion: packet.Version5, ClientID: id, KeepAlive: 60}
		cp.Properties.SetUint(packet.PropSessionExpiry, 300)
		return cp
	}
	p, ack := connectWith(t, b, persistent("p"))
	if ack.ReasonCode != packet.Success {
		t.Fatalf("p: CONNACK %v", ack.ReasonCode)
	}
	disconnect(p)

	// a (connected) and p (offline, persistent): full.
	c, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version5, ClientID: "c", CleanStart: true, KeepAlive: 60})
	if ack.ReasonCode != packet.ServerBusy {
		t.Fatalf("third session: CONNACK %v, want Server busy", ack.ReasonCode)
	}
	c.ExpectClosed()
	old := testutil.Dial(t, b.Addr, packet.Version311)
	old.Send(&packet.Connect{ProtocolVersion: packet.Version311, ClientID: "d", CleanStart: true, KeepAlive: 60})
	if got := old.ExpectClosed(); len(got) != 0 {
		t.Fatalf("3.1.1 client over the limit got %v, want the connection closed without a CONNACK", got)
	}

	// p resumes its own session: not a new one.
	p2, ack := connectWith(t, b, persistent("p"))
	if ack.ReasonCode != packet.Success || !ack.SessionPresent {
		t.Fatalf("p resuming: CONNACK %v present %v", ack.ReasonCode, ack.SessionPresent)
	}
	// a takes its clean session over from a second connection: not refused.
	a2, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version5, ClientID: "a", CleanStart: true, KeepAlive: 60})
	if ack.ReasonCode != packet.Success {
		t.Fatalf("a taking over: CONNACK %v", ack.ReasonCode)
	}
	a.ExpectClosed()

	// a's clean session ends with its connection: room for one more.
	disconnect(a2)
	testutil.WaitFor(t, "a new client admitted after a's session ended", func() bool {
		e := testutil.Dial(t, b.Addr, packet.Version5)
		ack := e.Connect(&packet.Connect{ClientID: "e", CleanStart: true, KeepAlive: 60})
		return ack.ReasonCode == packet.Success
	})
	p2.Close()
}

// gateHandler is a slog.Handler that holds the first record whose message
// starts with prefix until release is closed, after saying so on held.
type gateHandler struct {
	prefix  string
	held    chan struct{}
	release chan struct{}
	once    *sync.Once
}

func (h gateHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h gateHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h gateHandler) WithGroup(string) slog.Handler            { return h }
func (h gateHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.once.Do(func() { close(h.held); <-h.release })
	}
	return nil
}

// Mosquitto logs "New client connected from ..." before it sends the
// CONNACK, so a client that is connected finds its line in the log. While
// the line is being written, no CONNACK may reach the client.
func TestConnectedLoggedBeforeConnack(t *testing.T) {
	h := gateHandler{prefix: "New client connected from ", held: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, Logger: slog.New(h)})
	c := testutil.Dial(t, b.Addr, packet.Version311)
	c.Send(&packet.Connect{ProtocolVersion: packet.Version311, ClientID: "logged-first", CleanStart: true, KeepAlive: 30})
	select {
	case <-h.held:
	case <-time.After(10 * time.Second):
		close(h.release)
		t.Fatal("the broker never logged the new client")
	}
	// The broker is inside the log call: nothing may have been written.
	if p, err := c.Read(300 * time.Millisecond); err == nil {
		close(h.release)
		t.Fatalf("got %v while the new client's line was being logged", p)
	}
	close(h.release)
	if ack := testutil.Expect[*packet.Connack](c); ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %v", ack)
	}
}
