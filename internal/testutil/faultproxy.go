package testutil

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// FaultProxy relays TCP connections, and optionally UDP datagrams, from
// its address to a target, and can cut them: all of them (Cut), or those
// from one source IP address (Block), until Restore. A test puts it
// between processes to inject a network partition; processes that bind
// their outgoing sockets to distinct loopback addresses (127.0.0.2, ...)
// can be told apart by source. It is closed when the test ends.
type FaultProxy struct {
	// Addr is where it listens, TCP and (with UDP) UDP on the same port.
	Addr string
	ln   net.Listener
	pc   net.PacketConn // nil without UDP

	mu      sync.Mutex              // guards target, cut, blocked, conns, udp, closed
	target  string                  // where to relay to
	cut     bool                    // everything dropped
	blocked map[string]bool         // source IPs dropped
	conns   map[net.Conn]string     // open relayed connections (both ends), with the client's IP
	udp     map[string]*net.UDPConn // by client address: the socket towards the target
	closed  bool
	wg      sync.WaitGroup // the relaying goroutines
}

// NewFaultProxy starts a proxy on a free port of 127.0.0.1 to target (which
// SetTarget may give later), with UDP too if udp.
func NewFaultProxy(t testing.TB, target string, udp bool) *FaultProxy {
	t.Helper()
	p := &FaultProxy{target: target, blocked: make(map[string]bool), conns: make(map[net.Conn]string),
		udp: make(map[string]*net.UDPConn)}
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if !udp {
			p.ln = ln
			break
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			ln.Close()
			continue
		}
		p.ln, p.pc = ln, pc
		break
	}
	if p.ln == nil {
		t.Fatal("fault proxy: no port free for both TCP and UDP")
	}
	p.Addr = p.ln.Addr().String()
	p.wg.Add(1)
	go p.accept()
	if p.pc != nil {
		p.wg.Add(1)
		go p.readUDP()
	}
	t.Cleanup(p.close)
	return p
}

// SetTarget sets the address relayed to, for the connections and
// datagrams to come.
func (p *FaultProxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// Cut drops all traffic and closes the connections under way.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.closeConns("")
}

// Block drops the traffic from source IP ip and closes its connections.
func (p *FaultProxy) Block(ip string) {
	p.mu.Lock()
	p.blocked[ip] = true
	p.mu.Unlock()
	p.closeConns(ip)
}

// Restore lets all traffic through again.
func (p *FaultProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	clear(p.blocked)
	p.mu.Unlock()
}

// passes reports whether traffic from IP ip passes.
func (p *FaultProxy) passes(ip string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.cut && !p.blocked[ip] && !p.closed
}

// closeConns closes the relayed connections of client IP ip ("" for all).
func (p *FaultProxy) closeConns(ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, cip := range p.conns {
		if ip == "" || cip == ip {
			c.Close()
			delete(p.conns, c)
		}
	}
}

// hostOf returns the IP address of a net.Addr.
func hostOf(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

// accept relays each TCP connection that passes.
func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		ip := hostOf(c.RemoteAddr())
		if !p.passes(ip) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.relay(c, ip)
	}
}

// relay copies between c and a new connection to the target.
func (p *FaultProxy) relay(c net.Conn, ip string) {
	defer p.wg.Done()
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = ip, ip
	p.mu.Unlock()
	if !p.passes(ip) { // cut while it was dialing
		p.closeConns(ip)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.Close()
		c.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// readUDP relays each datagram that passes to the target, from a socket
// of its own per client, whose answers go back to the client.
func (p *FaultProxy) readUDP() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := p.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.passes(hostOf(from)) {
			continue
		}
		p.mu.Lock()
		up := p.udp[from.String()]
		if up == nil && !p.closed {
			raddr, err := net.ResolveUDPAddr("udp", p.target)
			if p.target == "" {
				err = errors.New("no target")
			}
			if err == nil {
				up, err = net.DialUDP("udp", nil, raddr)
			}
			if err == nil {
				p.udp[from.String()] = up
				p.wg.Add(1)
				go p.answerUDP(up, from)
			}
		}
		p.mu.Unlock()
		if up != nil {
			up.Write(buf[:n])
		}
	}
}

// answerUDP relays what the target sends to up back to the client from.
func (p *FaultProxy) answerUDP(up *net.UDPConn, from net.Addr) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP refusal while the target is down
		}
		if p.passes(hostOf(from)) {
			p.pc.WriteTo(buf[:n], from)
		}
	}
}

// close stops the proxy and waits for its goroutines.
func (p *FaultProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	for _, u := range p.udp {
		u.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	if p.pc != nil {
		p.pc.Close()
	}
	p.wg.Wait()
}
