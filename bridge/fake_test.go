package bridge_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
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

const stateTopic = "$SYS/broker/connection/testhost.test/state"

// The bytes of a 3.1.1 bridge's CONNECT, SUBSCRIBE, UNSUBSCRIBE and
// notification, and its resends after the remote drops: the QoS 1 PUBLISH
// again with DUP and the same identifier, the QoS 2 PUBREL again.
func TestBytesV311AndResend(t *testing.T) {
	f := newFakeRemote(t)
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
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
	c.send(0x40, 2, byte(id1>>8), byte(id1))
	waitFor(t, "inflight drained", func() bool { return b.Status().Queued == 0 })

	// QoS 2: PUBREC, then the remote drops before PUBCOMP.
	pub.Send(&packet.Publish{Topic: "out/2", Payload: []byte("m2"), QoS: 2, PacketID: 8})
	p = c.decode(packet.Version311).(*packet.Publish)
	id2 := p.PacketID
	c.send(0x50, 2, byte(id2>>8), byte(id2))
	c.expect("PUBREL", []byte{0x62, 2, byte(id2 >> 8), byte(id2)})
	c.nc.Close()
	c = f.accept()
	handshake(c, 1)
	c.expect("resent PUBREL", []byte{0x62, 2, byte(id2 >> 8), byte(id2)})
	c.send(0x70, 2, byte(id2>>8), byte(id2))
	waitFor(t, "QoS 2 done", func() bool { return b.Status().Queued == 0 })
}

// An MQTT 5 bridge: its CONNECT properties, a SUBSCRIBE with No Local and
// Retain As Published, the remote's Receive Maximum as the local window,
// and the fallback to 3.1.1 when the remote answers like a 3.1.1 broker.
func TestV5ConnectWindowAndFallback(t *testing.T) {
	f := newFakeRemote(t)
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
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
		c.send(0x40, 2, byte(id>>8), byte(id))
	}
	for range 2 {
		id := c.decode(packet.Version5).(*packet.Publish).PacketID
		c.send(0x40, 2, byte(id>>8), byte(id))
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
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	startBridge(t, config(f.addr(), packet.Version311, mustTopic(t, "out/#", bridge.Out, "", "")), local.Server)
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
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	cfg := config(f.addr(), packet.Version311, mustTopic(t, "#", bridge.In, "", ""))
	cfg.Notifications = false
	b := startBridge(t, cfg, local.Server)
	lsub, _ := testutil.Connect(t, local.Addr, packet.Version5, "lsub")
	lsub.Subscribe(1, "#", 1)

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
