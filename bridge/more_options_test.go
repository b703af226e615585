package bridge_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// passwords is an Authenticator with fixed users, recording who connected.
type passwords struct {
	users map[string]string
	mu    sync.Mutex
	seen  []string // guarded by mu: "user:password" of every attempt
}

func (p *passwords) Authenticate(_ context.Context, c *broker.Client, pw []byte, has bool) (broker.Verdict, error) {
	p.mu.Lock()
	p.seen = append(p.seen, c.Username+":"+string(pw))
	p.mu.Unlock()
	if want, ok := p.users[c.Username]; ok && c.HasUsername && has && want == string(pw) {
		return broker.Allow, nil
	}
	return broker.Deny, nil
}

// local_username and local_password: the bridge's local side carries them
// as its credentials (the session shows the user name) on a local broker
// that refuses anonymous clients, and, as in Mosquitto, it is trusted: the
// password check is not asked about it. Relaying works.
func TestLocalUsernamePassword(t *testing.T) {
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version5, "rsub")
	rsub.Subscribe(1, "l/#", 1)
	auth := &passwords{users: map[string]string{"pub": "pub-secret"}}
	local := testutil.StartBroker(t, broker.Config{Authenticators: []broker.Authenticator{auth}})

	cfg := config(remote.Addr, packet.Version311, mustTopic(t, "l/#", bridge.Out, "", ""))
	cfg.LocalUsername, cfg.LocalPassword = "bridge-user", []byte("local-secret")
	b := startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Connected)
	if si, ok := local.Server.Session("local.testhost.test"); !ok || !si.HasUsername || si.Username != "bridge-user" {
		t.Fatalf("local session %+v", si)
	}
	pub := testutil.Dial(t, local.Addr, packet.Version5)
	if ack := pub.Connect(&packet.Connect{ClientID: "pub", CleanStart: true,
		HasUsername: true, Username: "pub", HasPassword: true, Password: []byte("pub-secret")}); ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v", ack.ReasonCode)
	}
	publish(t, pub, 1, "l/1", "x", 1)
	if p := expectPublish(t, rsub); p.Topic != "l/1" {
		t.Fatalf("remote got %q", p.Topic)
	}
	auth.mu.Lock()
	defer auth.mu.Unlock()
	for _, s := range auth.seen {
		if strings.HasPrefix(s, "bridge-user:") {
			t.Fatalf("the trusted local side was checked against the passwords: %q", auth.seen)
		}
	}

	// Without local_username the local side has no user name.
	cfg = config(remote.Addr, packet.Version311, mustTopic(t, "m/#", bridge.Out, "", ""))
	cfg.Name = "anon"
	b = startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Connected)
	if si, _ := local.Server.Session("local.testhost.anon"); si.HasUsername {
		t.Fatalf("local session without local_username: %+v", si)
	}
}

// keepalive_interval: a remote that does not answer PINGREQ within the
// next interval is dropped, the error kept, and the bridge reconnects.
func TestKeepAlivePingTimeout(t *testing.T) {
	f := newFakeRemote(t)
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	cfg := config(f.addr(), packet.Version311, mustTopic(t, "in/#", bridge.In, "", ""))
	cfg.Notifications = false
	cfg.KeepAlive = time.Second
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	cp := c.raw() // bytes 10 and 11 are the keep alive
	if ka := int(cp[10])<<8 | int(cp[11]); ka != 1 {
		t.Fatalf("CONNECT keep alive %d, want 1 (% x)", ka, cp)
	}
	c.send(0x20, 2, 0, 0)
	c.expect("SUBSCRIBE", pkt(0x82, []byte{0, 1}, str("in/#"), []byte{1}))
	c.send(0x90, 3, 0, 1, 1)
	waitState(t, b, bridge.Connected)
	c.expect("PINGREQ", []byte{0xc0, 0})
	c.send(0xd0, 0) // answered once: the link stays
	c.expect("second PINGREQ", []byte{0xc0, 0})
	// Not answered: the bridge gives up on the remote and dials again.
	c2 := f.accept()
	c2.decode(packet.Version311)
	if e := b.Status().LastError; !strings.Contains(e, "PINGREQ") {
		t.Fatalf("last error %q", e)
	}
}

// An MQTT 5 remote that refuses retained messages with CONNACK 0x9A
// (Retain not supported): the bridge connects again at once with a will
// that is not retained, and sends its notification and retained messages
// without the retain flag.
func TestRetainNotSupportedRetry(t *testing.T) {
	f := newFakeRemote(t)
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	cfg := config(f.addr(), packet.Version5, mustTopic(t, "out/#", bridge.Out, "", ""))
	cfg.AttemptUnsubscribe = false
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	if cp := c.decode(packet.Version5).(*packet.Connect); cp.Will == nil || !cp.Will.Retain {
		t.Fatalf("first CONNECT's will %+v", cp.Will)
	}
	c.send(0x20, 3, 0, 0x9a, 0)
	waitFor(t, "the 0x9a error kept", func() bool { return strings.Contains(b.Status().LastError, "0x9a") })
	c = f.accept()
	if cp := c.decode(packet.Version5).(*packet.Connect); cp.Will == nil || cp.Will.Retain {
		t.Fatalf("CONNECT after 0x9a: will %+v", cp.Will)
	}
	c.send(0x20, 3, 0, 0, 0)
	n := c.decode(packet.Version5).(*packet.Publish)
	if n.Topic != stateTopic || n.Retain {
		t.Fatalf("notification %q retain %v", n.Topic, n.Retain)
	}
	c.send(0x40, 2, byte(n.PacketID>>8), byte(n.PacketID))
	waitState(t, b, bridge.Connected)
	pub, _ := testutil.Connect(t, local.Addr, packet.Version5, "pub")
	pub.Send(&packet.Publish{Topic: "out/r", Payload: []byte("kept"), QoS: 1, PacketID: 1, Retain: true})
	testutil.Expect[*packet.Ack](pub)
	if p := c.decode(packet.Version5).(*packet.Publish); p.Topic != "out/r" || p.Retain {
		t.Fatalf("relayed %q retain %v", p.Topic, p.Retain)
	}
}

// A remote that uses topic aliases on what it sends (the bridge allows
// bridge_max_topic_alias of them): the local subscriber gets whole topics;
// an alias beyond the maximum ends the connection.
func TestTopicAliasIn(t *testing.T) {
	f := newFakeRemote(t)
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	lsub, _ := testutil.Connect(t, local.Addr, packet.Version5, "lsub")
	lsub.Subscribe(1, "in/#", 0)
	cfg := config(f.addr(), packet.Version5, mustTopic(t, "in/#", bridge.In, "", ""))
	cfg.Notifications = false
	cfg.MaxTopicAlias = 2
	b := startBridge(t, cfg, local.Server)
	handshake := func() *fakeConn {
		c := f.accept()
		if cp := c.decode(packet.Version5).(*packet.Connect); cp.Properties.TopicAliasMaximum != 2 {
			t.Fatalf("CONNECT Topic Alias Maximum %d", cp.Properties.TopicAliasMaximum)
		}
		c.send(0x20, 3, 0, 0, 0)
		c.expect("SUBSCRIBE", pkt(0x82, []byte{0, 1, 0}, str("in/#"), []byte{0x0d}))
		c.send(0x90, 4, 0, 1, 0, 1)
		return c
	}
	c := handshake()
	waitState(t, b, bridge.Connected)
	// PUBLISH QoS 0 in/a/b with Topic Alias 1 (property 0x23), then with
	// the alias alone.
	c.send(pkt(0x30, str("in/a/b"), []byte{3, 0x23, 0, 1}, []byte("first"))...)
	c.send(pkt(0x30, str(""), []byte{3, 0x23, 0, 1}, []byte("second"))...)
	for _, want := range []string{"first", "second"} {
		if p := expectPublish(t, lsub); p.Topic != "in/a/b" || string(p.Payload) != want {
			t.Fatalf("local got %q %q, want in/a/b %q", p.Topic, p.Payload, want)
		}
	}
	// Alias 3 is beyond the 2 the bridge allowed [MQTT-3.3.2-9].
	c.send(pkt(0x30, str("in/c"), []byte{3, 0x23, 0, 3}, []byte("bad"))...)
	c = handshake()
	expectQuiet(t, lsub, 50*time.Millisecond)
	// An alias from the previous connection is gone [MQTT-3.3.2-7]: the
	// new connection starts with none.
	c.send(pkt(0x30, str("in/new"), []byte{3, 0x23, 0, 1}, []byte("third"))...)
	if p := expectPublish(t, lsub); p.Topic != "in/new" {
		t.Fatalf("local got %q", p.Topic)
	}
}

// A remote that refuses the bridge's client identifier (CONNACK 0x85):
// the bridge keeps the reason as its last error, waits and tries again.
func TestConnackClientIDNotValid(t *testing.T) {
	f := newFakeRemote(t)
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	cfg := config(f.addr(), packet.Version5, mustTopic(t, "in/#", bridge.In, "", ""))
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	if cp := c.decode(packet.Version5).(*packet.Connect); cp.ClientID != "testhost.test" {
		t.Fatalf("client id %q", cp.ClientID)
	}
	c.send(0x20, 3, 0, 0x85, 0)
	c = f.accept() // retried
	st := b.Status()
	if !strings.Contains(st.LastError, "0x85") || st.State == bridge.Connected {
		t.Fatalf("status after 0x85: %+v", st)
	}
	c.decode(packet.Version5)
}

// lockedBuffer is a log destination tests read while the broker writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// max_queued_messages bounds the bridge's queue while the remote is away:
// what overflows is dropped and counted in the bridge's status, and the
// broker says so once, not once a message; when the remote is back the
// queued messages go.
func TestQueueOverflowCountedAndLoggedOnce(t *testing.T) {
	logs := &lockedBuffer{}
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, MaxQueuedMessages: 3,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	f := newFakeRemote(t)
	cfg := config(f.addr(), packet.Version311, mustTopic(t, "q/#", bridge.Out, "", ""))
	cfg.Topics[0].QoS = 1
	cfg.Notifications = false
	cfg.AttemptUnsubscribe = false
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	c.decode(packet.Version311) // and no CONNACK: the remote hangs

	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	for i := range 10 {
		publish(t, pub, uint16(i+1), "q/x", "m", 1)
	}
	waitFor(t, "7 dropped, 3 queued", func() bool {
		st := b.Status()
		return st.Dropped == 7 && st.Queued == 3
	})
	if n := strings.Count(logs.String(), "Outgoing messages are being dropped for client local.testhost.test"); n != 1 {
		t.Fatalf("the overflow logged %d times, want once:\n%s", n, logs.String())
	}

	c.send(0x20, 2, 0, 0)
	for range 3 {
		p := c.decode(packet.Version311).(*packet.Publish)
		c.send(0x40, 2, byte(p.PacketID>>8), byte(p.PacketID))
	}
	waitFor(t, "the queue drained", func() bool { return b.Status().Queued == 0 })
	if st := b.Status(); st.Sent != 3 || st.Dropped != 7 {
		t.Fatalf("status %+v", st)
	}
}
