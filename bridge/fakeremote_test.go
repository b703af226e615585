package bridge_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// fakeRemote is a remote broker the test drives byte by byte.
type fakeRemote struct {
	t  *testing.T
	ln net.Listener
}

func newFakeRemote(t *testing.T) *fakeRemote {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeRemote{t: t, ln: ln}
}

func (f *fakeRemote) addr() string { return f.ln.Addr().String() }

// fakeConn is one connection the bridge made to the fake remote.
type fakeConn struct {
	t  *testing.T
	nc net.Conn
}

// accept waits for the bridge's next connection.
func (f *fakeRemote) accept() *fakeConn {
	f.t.Helper()
	type res struct {
		nc  net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { nc, err := f.ln.Accept(); ch <- res{nc, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			f.t.Fatal(r.err)
		}
		f.t.Cleanup(func() { r.nc.Close() })
		return &fakeConn{t: f.t, nc: r.nc}
	case <-time.After(testutil.Timeout):
		f.t.Fatal("the bridge did not connect")
	}
	return nil
}

// raw reads one whole packet's bytes (fixed header included).
func (c *fakeConn) raw() []byte {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	hdr := make([]byte, 1, 5)
	if _, err := io.ReadFull(c.nc, hdr); err != nil {
		c.t.Fatalf("reading from the bridge: %v", err)
	}
	n, mul := 0, 1
	for {
		var b [1]byte
		if _, err := io.ReadFull(c.nc, b[:]); err != nil {
			c.t.Fatal(err)
		}
		hdr = append(hdr, b[0])
		n += int(b[0]&0x7f) * mul
		mul *= 128
		if b[0] < 0x80 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.nc, body); err != nil {
		c.t.Fatal(err)
	}
	return append(hdr, body...)
}

// expect reads one packet and checks its bytes.
func (c *fakeConn) expect(what string, want []byte) {
	c.t.Helper()
	if got := c.raw(); !bytes.Equal(got, want) {
		c.t.Fatalf("%s:\n got % x\nwant % x", what, got, want)
	}
}

func (c *fakeConn) send(b ...byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// decode reads one packet and decodes it for version v.
func (c *fakeConn) decode(v byte) packet.Packet {
	c.t.Helper()
	b := c.raw()
	r := packet.NewReader(bytes.NewReader(b), 0)
	r.Version = v
	p, err := r.ReadPacket()
	if err != nil {
		c.t.Fatalf("decoding % x: %v", b, err)
	}
	return p
}

// str encodes an MQTT string.
func str(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// pkt builds a packet from its first byte and body parts.
func pkt(first byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	out := []byte{first}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// ackPkt builds a PUBACK, PUBREC, PUBREL or PUBCOMP (by its first byte)
// for packet identifier id.
func ackPkt(first byte, id uint16) []byte { return []byte{first, 2, byte(id >> 8), byte(id)} }

const stateTopic = "$SYS/broker/connection/testhost.test/state"

// The bytes of a 3.1.1 bridge's CONNECT, SUBSCRIBE, UNSUBSCRIBE and
// notification, and its resends after the remote drops: the QoS 1 PUBLISH
// again with DUP and the same identifier, the QoS 2 PUBREL again.
func TestBytesV311AndResend(t *testing.T) {
	f := newFakeRemote(t)
	local := anonBroker(t)
	cfg := config(f.addr(), packet.Version311,
		mustTopic(t, "in/#", bridge.In, "", ""), mustTopic(t, "out/#", bridge.Out, "", ""))
	cfg.Topics[0].QoS = 2
	cfg.Topics[1].QoS = 2
	b := startBridge(t, cfg, local.Server)

	connect := pkt(0x10, str("MQTT"), []byte{0x84 /* 4 | the bridge bit */, 0x2c /* will, will QoS 1, will retain */, 0, 60},
		str("testhost.test"), str(stateTopic), str("0"))
	handshake := func(c *fakeConn, present byte) {
		c.expect("CONNECT", connect)
		c.send(0x20, 2, present, 0)
		c.expect("SUBSCRIBE", pkt(0x82, []byte{0, 1}, str("in/#"), []byte{2}))
		c.expect("UNSUBSCRIBE", pkt(0xa2, []byte{0, 2}, str("out/#")))
		c.expect("notification", pkt(0x33, str(stateTopic), []byte{0, 3}, []byte("1")))
		c.send(0x90, 3, 0, 1, 2)
		c.send(0xb0, 2, 0, 2)
		c.send(0x40, 2, 0, 3)
	}
	c := f.accept()
	handshake(c, 0)
	waitState(t, b, bridge.Connected)

	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	pub.Send(&packet.Publish{Topic: "out/1", Payload: []byte("m1"), QoS: 1, PacketID: 7})
	p := c.decode(packet.Version311).(*packet.Publish)
	if p.Topic != "out/1" || p.QoS != 1 || p.Dup {
		t.Fatalf("first PUBLISH %+v", p)
	}
	id1 := p.PacketID
	testutil.Expect[*packet.Ack](pub) // midge acknowledged it: the bridge must deliver it
	c.nc.Close()                      // no PUBACK: the remote goes away

	c = f.accept()
	handshake(c, 1)
	c.expect("resent QoS 1 PUBLISH", pkt(0x3a /* DUP, QoS 1 */, str("out/1"), []byte{byte(id1 >> 8), byte(id1)}, []byte("m1")))
	c.send(ackPkt(0x40, id1)...)
	testutil.WaitFor(t, "inflight drained", func() bool { return b.Status().Queued == 0 })

	// QoS 2: PUBREC, then the remote drops before PUBCOMP.
	pub.Send(&packet.Publish{Topic: "out/2", Payload: []byte("m2"), QoS: 2, PacketID: 8})
	p = c.decode(packet.Version311).(*packet.Publish)
	id2 := p.PacketID
	c.send(ackPkt(0x50, id2)...)
	c.expect("PUBREL", ackPkt(0x62, id2))
	c.nc.Close()
	c = f.accept()
	handshake(c, 1)
	c.expect("resent PUBREL", ackPkt(0x62, id2))
	c.send(ackPkt(0x70, id2)...)
	testutil.WaitFor(t, "QoS 2 done", func() bool { return b.Status().Queued == 0 })
}

// An MQTT 5 bridge: its CONNECT properties, a SUBSCRIBE with No Local and
// Retain As Published, the remote's Receive Maximum as the local window,
// and the fallback to 3.1.1 when the remote answers like a 3.1.1 broker.
func TestV5ConnectWindowAndFallback(t *testing.T) {
	f := newFakeRemote(t)
	local := anonBroker(t)
	cfg := config(f.addr(), packet.Version5, mustTopic(t, "in/#", bridge.In, "", ""), mustTopic(t, "out/#", bridge.Out, "", ""))
	cfg.Topics[0].QoS = 1
	cfg.AttemptUnsubscribe = false
	cfg.SessionExpiry = 3600
	b := startBridge(t, cfg, local.Server)

	c := f.accept()
	cp := c.decode(packet.Version5).(*packet.Connect)
	if cp.ProtocolVersion != 5 || cp.Bridge || cp.CleanStart || cp.ClientID != "testhost.test" || cp.KeepAlive != 60 ||
		cp.Properties.SessionExpiry != 3600 || cp.Properties.ReceiveMaximum != 20 || cp.Properties.TopicAliasMaximum != 10 ||
		cp.Will == nil || cp.Will.Topic != stateTopic || !cp.Will.Retain || cp.Will.QoS != 1 {
		t.Fatalf("CONNECT %+v", cp)
	}
	// CONNACK with Receive Maximum 2 (0x21) and Topic Alias Maximum 0.
	c.send(0x20, 6, 0, 0, 3, 0x21, 0, 2)
	c.expect("SUBSCRIBE", pkt(0x82, []byte{0, 1, 0}, str("in/#"), []byte{0x0d /* QoS 1 | No Local | Retain As Published */}))
	sub := c.decode(packet.Version5)
	if n, ok := sub.(*packet.Publish); !ok || n.Topic != stateTopic || string(n.Payload) != "1" {
		t.Fatalf("notification %+v", sub)
	}
	c.send(0x90, 4, 0, 1, 0, 1)
	c.send(0x40, 2, 0, 2)
	waitState(t, b, bridge.Connected)

	pub, _ := testutil.Connect(t, local.Addr, packet.Version5, "pub")
	for i := range 4 {
		publish(t, pub, uint16(10+i), "out/x", "m", 1)
	}
	// Only two in flight: the remote's Receive Maximum.
	var ids []uint16
	for range 2 {
		ids = append(ids, c.decode(packet.Version5).(*packet.Publish).PacketID)
	}
	c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := c.nc.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a third PUBLISH beyond the remote's Receive Maximum")
	}
	for _, id := range ids {
		c.send(ackPkt(0x40, id)...)
	}
	for range 2 {
		id := c.decode(packet.Version5).(*packet.Publish).PacketID
		c.send(ackPkt(0x40, id)...)
	}

	// A remote that answers MQTT 5 like a 3.1.1 broker: the bridge falls
	// back to 3.1.1 (with the bridge bit) on the next attempt.
	c.nc.Close()
	c = f.accept()
	c.decode(packet.Version5)
	c.send(0x20, 2, 0, 1)
	c.nc.Close()
	c = f.accept()
	cp = c.decode(packet.Version311).(*packet.Connect)
	if cp.ProtocolVersion != 4 || !cp.Bridge {
		t.Fatalf("after the fallback: %+v", cp)
	}
}

// try_private refused (CONNACK 1 to 0x84, as AWS IoT and Azure answer):
// the next attempt goes without the bridge bit.
func TestTryPrivateRefused(t *testing.T) {
	f := newFakeRemote(t)
	local := anonBroker(t)
	startBridge(t, configOne(t, f.addr(), packet.Version311, bridge.Out, "out/#"), local.Server)
	c := f.accept()
	if cp := c.decode(packet.Version311).(*packet.Connect); !cp.Bridge {
		t.Fatal("first CONNECT without the bridge bit")
	}
	c.send(0x20, 2, 0, 1)
	c = f.accept()
	if cp := c.decode(packet.Version311).(*packet.Connect); cp.Bridge {
		t.Fatal("bridge bit sent again after the remote refused it")
	}
}

// A remote that misbehaves: it drops the connection mid-handshake, sends a
// PUBACK and a PUBREC for identifiers never used, and a PUBLISH to a
// wildcard topic. The bridge reconnects, answers the PUBREC with PUBREL,
// relays nothing bad and goes on working.
func TestMisbehavingRemote(t *testing.T) {
	f := newFakeRemote(t)
	local := anonBroker(t)
	cfg := configOne(t, f.addr(), packet.Version311, bridge.In, "#")
	cfg.Notifications = false
	b := startBridge(t, cfg, local.Server)
	lsub := subscriber(t, local.Addr, packet.Version5, "lsub", "#", 1)

	handshake := func(c *fakeConn) {
		c.decode(packet.Version311)
		c.send(0x20, 2, 0, 0)
		c.expect("SUBSCRIBE", pkt(0x82, []byte{0, 1}, str("#"), []byte{1}))
		c.send(0x90, 3, 0, 1, 1)
	}
	c := f.accept()
	c.decode(packet.Version311)
	c.nc.Close() // mid-handshake
	c = f.accept()
	handshake(c)
	waitState(t, b, bridge.Connected)

	c.send(0x40, 2, 0x12, 0x34) // PUBACK for nothing: ignored
	c.send(0x50, 2, 0x23, 0x45) // PUBREC for nothing: PUBREL so the remote frees it
	c.expect("PUBREL for an unknown PUBREC", []byte{0x62, 2, 0x23, 0x45})
	c.send(pkt(0x30, str("ok/1"), []byte("fine"))...)
	if p := expectPublish(t, lsub); p.Topic != "ok/1" {
		t.Fatalf("got %q", p.Topic)
	}

	c.send(pkt(0x30, str("bad/#"), []byte("x"))...) // a wildcard in a PUBLISH topic
	c = f.accept()                                  // the bridge dropped that connection
	handshake(c)
	c.send(pkt(0x30, str("ok/2"), []byte("fine"))...)
	if p := expectPublish(t, lsub); p.Topic != "ok/2" {
		t.Fatalf("got %q after the bad PUBLISH", p.Topic)
	}
}

// keepalive_interval: a remote that does not answer PINGREQ within the
// next interval is dropped, the error kept, and the bridge reconnects.
func TestKeepAlivePingTimeout(t *testing.T) {
	f := newFakeRemote(t)
	local := anonBroker(t)
	cfg := configOne(t, f.addr(), packet.Version311, bridge.In, "in/#")
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
	local := anonBroker(t)
	cfg := configOne(t, f.addr(), packet.Version5, bridge.Out, "out/#")
	cfg.AttemptUnsubscribe = false
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	if cp := c.decode(packet.Version5).(*packet.Connect); cp.Will == nil || !cp.Will.Retain {
		t.Fatalf("first CONNECT's will %+v", cp.Will)
	}
	c.send(0x20, 3, 0, 0x9a, 0)
	testutil.WaitFor(t, "the 0x9a error kept", func() bool { return strings.Contains(b.Status().LastError, "0x9a") })
	c = f.accept()
	if cp := c.decode(packet.Version5).(*packet.Connect); cp.Will == nil || cp.Will.Retain {
		t.Fatalf("CONNECT after 0x9a: will %+v", cp.Will)
	}
	c.send(0x20, 3, 0, 0, 0)
	n := c.decode(packet.Version5).(*packet.Publish)
	if n.Topic != stateTopic || n.Retain {
		t.Fatalf("notification %q retain %v", n.Topic, n.Retain)
	}
	c.send(ackPkt(0x40, n.PacketID)...)
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
	local := anonBroker(t)
	lsub := subscriber(t, local.Addr, packet.Version5, "lsub", "in/#", 0)
	cfg := configOne(t, f.addr(), packet.Version5, bridge.In, "in/#")
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
	local := anonBroker(t)
	cfg := configOne(t, f.addr(), packet.Version5, bridge.In, "in/#")
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
