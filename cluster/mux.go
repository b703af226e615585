package cluster

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The first byte of a connection to the cluster port says what it carries.
const (
	// streamRaft is hashicorp/raft's network transport.
	streamRaft byte = 0x01
	// streamForward is a forwarding stream (forward.go).
	streamForward byte = 0x02
	// streamRoutes is a route stream (routestream.go).
	streamRoutes byte = 0x03
)

// firstByteTimeout bounds the wait for a connection's first byte.
const firstByteTimeout = 10 * time.Second

// mux accepts the connections of the cluster port and hands each to the
// listener of its kind.
type mux struct {
	ln   net.Listener
	raft *chanListener
	fwd  *chanListener
	rts  *chanListener // route streams
	http *chanListener
	log  *slog.Logger
	wg   sync.WaitGroup // the accept loop and the connections being sorted
}

func newMux(ln net.Listener, log *slog.Logger) *mux {
	return &mux{ln: ln, log: log, raft: newChanListener(ln.Addr()), fwd: newChanListener(ln.Addr()), rts: newChanListener(ln.Addr()), http: newChanListener(ln.Addr())}
}

// serve accepts until the listener is closed.
func (m *mux) serve() {
	defer m.wg.Done()
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			m.raft.close()
			m.fwd.close()
			m.rts.close()
			m.http.close()
			return
		}
		delay = 0
		m.wg.Add(1)
		go m.sort(c)
	}
}

// sort reads c's first byte and hands c to its listener.
func (m *mux) sort(c net.Conn) {
	defer m.wg.Done()
	c.SetReadDeadline(time.Now().Add(firstByteTimeout))
	br := bufio.NewReaderSize(c, 512)
	b, err := br.Peek(1)
	if err != nil {
		if _, ok := c.(*tls.Conn); ok && !errors.Is(err, io.EOF) {
			// A TLS handshake refused (no or a foreign certificate), or a
			// connection that sent nothing.
			m.log.Warn("cluster: connection refused", "remote", c.RemoteAddr().String(), "err", err)
		}
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	switch {
	case b[0] == streamRaft:
		br.Discard(1)
		m.raft.put(&bufConn{Conn: c, r: br})
	case b[0] == streamForward:
		br.Discard(1)
		m.fwd.put(&bufConn{Conn: c, r: br})
	case b[0] == streamRoutes:
		br.Discard(1)
		m.rts.put(&bufConn{Conn: c, r: br})
	case b[0] >= 'A' && b[0] <= 'Z':
		m.http.put(&bufConn{Conn: c, r: br})
	default:
		c.Close()
	}
}

// close stops accepting and closes the listeners.
func (m *mux) close() error {
	err := m.ln.Close()
	m.raft.close()
	m.fwd.close()
	m.rts.close()
	m.http.close()
	return err
}

// bufConn is a connection whose first bytes were read into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by the mux.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// put hands c to Accept, or closes it if the listener is closed.
func (l *chanListener) put(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept waits for the next connection.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close() { l.once.Do(func() { close(l.done) }) }

// Close closes the listener.
func (l *chanListener) Close() error { l.close(); return nil }

// Addr returns the cluster port's address.
func (l *chanListener) Addr() net.Addr { return l.addr }

// raftStream is raft's StreamLayer over the mux.
type raftStream struct {
	*chanListener
	advertise net.Addr
	tls       *tls.Config // nil: plain TCP
	local     net.Addr    // source address; nil for any
}

var _ raft.StreamLayer = (*raftStream)(nil)

// Addr returns the address advertised to the other nodes.
func (s *raftStream) Addr() net.Addr { return s.advertise }

// Dial connects to a node's cluster port and announces raft.
func (s *raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialCluster(s.tls, s.local, string(address), timeout, []byte{streamRaft})
}
