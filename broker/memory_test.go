package broker_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// totalAlloc returns the bytes allocated by the process so far.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// An unauthenticated client that announces a 200 MB CONNECT and sends 32 MB
// of it must not make the broker allocate what it sends: no CONNECT can
// legally be that large, so the broker closes the connection at the header.
func TestHugeConnectAllocatesLittle(t *testing.T) {
	b := start(t, open())
	junk := make([]byte, 32<<20)
	hdr := packet.FixedHeader{Type: packet.TypeConnect, Remaining: 200 << 20}.Append(nil)
	before := totalAlloc()
	nc := testutil.DialTCP(t, b.Addr)
	nc.SetDeadline(time.Now().Add(testutil.Timeout))
	nc.Write(hdr)
	nc.Write(junk) // fails once the broker closes: ignored
	nc.(*net.TCPConn).CloseWrite()
	if _, err := io.Copy(io.Discard, nc); err != nil && !isReset(err) {
		t.Fatalf("reading until the broker closes: %v", err)
	}
	if got := totalAlloc() - before; got > 1<<20 {
		t.Fatalf("the broker allocated %d bytes for an unauthenticated CONNECT, want less than 1 MiB", got)
	}
}

// isReset reports whether err is a connection reset by the peer, which a
// broker closing with unread input causes.
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// A large PUBLISH is held once: the broker reads it into one buffer, routes
// the payload without copying it and writes it to the subscriber from
// there, so that what it allocates stays close to the packet's size.
func TestLargePublishIsNotCopied(t *testing.T) {
	b := start(t, open())
	const size = 16 << 20
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i % 251)
	}
	p := &packet.Publish{Topic: "big", Payload: payload}
	msg, err := packet.Append(nil, p, packet.Version311)
	if err != nil {
		t.Fatal(err)
	}
	sub := testutil.DialTCP(t, b.Addr)
	sub.SetDeadline(time.Now().Add(testutil.Timeout))
	for _, pk := range []packet.Packet{
		&packet.Connect{ProtocolVersion: packet.Version311, ClientID: "sub", CleanStart: true},
		&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "big"}}},
	} {
		out, _ := packet.Append(nil, pk, packet.Version311)
		if _, err := sub.Write(out); err != nil {
			t.Fatal(err)
		}
	}
	// CONNACK (4 bytes) and SUBACK (5 bytes).
	if _, err := io.ReadFull(sub, make([]byte, 9)); err != nil {
		t.Fatal(err)
	}
	pub, _ := testutil.Connect(t, b.Addr, packet.Version311, "pub")
	got := make([]byte, len(msg))
	before := totalAlloc()
	pub.SendRaw(msg)
	if _, err := io.ReadFull(sub, got); err != nil {
		t.Fatalf("reading the PUBLISH: %v", err)
	}
	alloc := totalAlloc() - before
	if !bytes.Equal(got, msg) {
		t.Fatal("the subscriber got a different PUBLISH")
	}
	if alloc > size*3/2 {
		t.Fatalf("the broker allocated %d bytes to pass on a %d-byte PUBLISH, want at most 1.5 times its size", alloc, size)
	}
}

// A large MQTT 5 PUBLISH with properties, decoded in place and written with
// its payload apart from its header, arrives whole.
func TestLargePublishV5(t *testing.T) {
	b := start(t, open())
	sub := subscriber(t, b, packet.Version5, "sub", "big/#", 1)
	pub := connect(t, b, packet.Version5, "pub")
	payload := bytes.Repeat([]byte("0123456789"), 20000)
	p := &packet.Publish{Topic: "big/v5", QoS: 1, PacketID: 7, Payload: payload}
	p.Properties.User = []packet.UserProperty{{Key: "k", Value: "v"}}
	p.Properties.SetString(packet.PropContentType, "text/plain")
	pub.Send(p)
	expectAck(t, pub, packet.TypePuback, 7)
	got := expectPublish(t, sub, "big/v5", string(payload))
	if got.Properties.ContentType != "text/plain" || len(got.Properties.User) != 1 || got.Properties.User[0].Value != "v" {
		t.Fatalf("properties %+v", got.Properties)
	}
}
