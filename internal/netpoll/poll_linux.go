//go:build linux

package broker

import (
	"net"
	"os"
	"sync"
	"syscall"
)

// poller watches parked connections: idle connections whose reader
// goroutine has ended and whose buffers are given back. One epoll set and
// one goroutine serve every parked connection of a server; when a parked
// connection's socket becomes readable (or closes), the poller starts a new
// reader for it. Registration is level-triggered and one-shot, so data that
// arrived before the connection was registered is reported at once and each
// connection is reported at most once per park.
type poller struct {
	epfd int
	file *os.File // epfd inside Go's netpoller: waiting holds no thread
	done chan struct{}
	mu   sync.Mutex
	fds  map[int32]*conn // guarded by mu: parked connections by descriptor

	deadlines deadlines // keep alive deadlines of parked connections
}

// newPoller opens the epoll set and starts its goroutine. The epoll
// descriptor is itself watched by Go's netpoller (it is readable when
// events are pending), so the goroutine waits like any network read instead
// of blocking a thread in epoll_wait, which on one processor would stall
// every other goroutine until the runtime took the processor back.
func newPoller(srv *Server) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	p := &poller{epfd: fd, file: os.NewFile(uintptr(fd), "midge-poller"), fds: make(map[int32]*conn), done: make(chan struct{}),
		deadlines: deadlines{srv: srv}}
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		return nil, err
	}
	go p.loop(srv, rc)
	return p, nil
}

// loop waits for parked connections to become readable until the epoll set
// is closed.
func (p *poller) loop(srv *Server, rc syscall.RawConn) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		var n int
		var werr error
		err := rc.Read(func(fd uintptr) bool {
			n, werr = syscall.EpollWait(int(fd), events, 0)
			if werr == syscall.EINTR || werr == nil && n == 0 {
				return false // nothing yet: wait in the netpoller
			}
			return true
		})
		if err != nil {
			return // closed
		}
		if werr != nil {
			srv.log.Error("poller failed; parked connections stay parked", "err", werr)
			return
		}
		for i := range n {
			p.mu.Lock()
			c := p.fds[events[i].Fd]
			p.mu.Unlock()
			if c != nil {
				c.unpark(unparkReadable)
			}
		}
	}
}

// add registers c's descriptor.
func (p *poller) add(c *conn) error {
	p.mu.Lock()
	p.fds[c.fd] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
		p.mu.Lock()
		delete(p.fds, c.fd)
		p.mu.Unlock()
		return err
	}
	return nil
}

// remove unregisters c's descriptor. It is called once per add, by whoever
// unparks c, before c's descriptor can be closed and reused.
func (p *poller) remove(c *conn) {
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
	p.mu.Lock()
	if p.fds[c.fd] == c {
		delete(p.fds, c.fd)
	}
	p.mu.Unlock()
}

// close stops the poller and waits for its goroutine. Parked connections
// must have been unparked.
func (p *poller) close() {
	p.file.Close()
	<-p.done
	p.deadlines.stop()
}

// socketFD returns the descriptor of a plain TCP or Unix socket, or -1 for
// connections that cannot be parked (TLS and WebSocket ones buffer data the
// poller cannot see).
func socketFD(nc net.Conn) int {
	sc, ok := nc.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return -1
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}
