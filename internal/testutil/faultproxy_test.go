package testutil

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// TestFaultProxy checks that the proxy relays TCP and UDP both ways, that
// Cut closes the connections under way and drops what comes after, that
// Block drops one source address only, and that Restore lets traffic
// through again.
func TestFaultProxy(t *testing.T) {
	t.Parallel()
	// An echo server, TCP and UDP on one port.
	var ln net.Listener
	var pc net.PacketConn
	for ln == nil {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", l.Addr().String()); err != nil {
			l.Close()
			continue
		}
		ln = l
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	p := NewFaultProxy(t, ln.Addr().String(), true)

	echoTCP := func(c net.Conn, r *bufio.Reader) error {
		c.SetDeadline(time.Now().Add(Timeout))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_, err := r.ReadString('\n')
		return err
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	echoUDP := func(from string, wait time.Duration) bool {
		laddr, _ := net.ResolveUDPAddr("udp", from)
		raddr, _ := net.ResolveUDPAddr("udp", p.Addr)
		u, err := net.DialUDP("udp", laddr, raddr)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		u.Write([]byte("ping"))
		u.SetReadDeadline(time.Now().Add(wait))
		_, err = u.Read(make([]byte, 16))
		return err == nil
	}

	c, r := dial()
	if err := echoTCP(c, r); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if !echoUDP("127.0.0.1:0", Timeout) {
		t.Fatal("no UDP echo through the proxy")
	}

	p.Cut()
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a connection survived Cut")
	}
	c2, r2 := dial()
	if err := echoTCP(c2, r2); err == nil {
		t.Fatal("a new connection passed after Cut")
	}
	if echoUDP("127.0.0.1:0", 200*time.Millisecond) {
		t.Fatal("a datagram passed after Cut")
	}

	p.Restore()
	p.Block("127.0.0.2")
	c3, r3 := dial() // from 127.0.0.1: passes
	if err := echoTCP(c3, r3); err != nil {
		t.Fatalf("from 127.0.0.1 with 127.0.0.2 blocked: %v", err)
	}
	if echoUDP("127.0.0.2:0", 200*time.Millisecond) {
		t.Fatal("a datagram from a blocked address passed")
	}
	if !echoUDP("127.0.0.1:0", Timeout) {
		t.Fatal("a datagram from another address was dropped")
	}
	p.Restore()
	if !echoUDP("127.0.0.2:0", Timeout) {
		t.Fatal("no UDP echo after Restore")
	}
}
