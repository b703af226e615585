//go:build linux

package broker

import (
	"errors"
	"net"
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
	stop [2]int // a pipe: a byte written to stop[1] ends the loop
	done chan struct{}
	mu   sync.Mutex
	fds  map[int32]*conn // guarded by mu: parked connections by descriptor
}

// newPoller opens the epoll set and starts its goroutine.
func newPoller(srv *Server) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: fd, fds: make(map[int32]*conn), done: make(chan struct{})}
	if err := syscall.Pipe2(p.stop[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.stop[0])}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, p.stop[0], &ev); err != nil {
		syscall.Close(fd)
		syscall.Close(p.stop[0])
		syscall.Close(p.stop[1])
		return nil, err
	}
	go p.loop(srv)
	return p, nil
}

// loop waits for parked connections to become readable until the epoll set
// is closed.
func (p *poller) loop(srv *Server) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			srv.log.Error("poller failed; parked connections stay parked", "err", err)
			return
		}
		for i := range n {
			fd := events[i].Fd
			if fd == int32(p.stop[0]) {
				return
			}
			p.mu.Lock()
			c := p.fds[fd]
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
	p.fds[int32(c.fd)] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.fds, int32(c.fd))
		p.mu.Unlock()
		return err
	}
	return nil
}

// remove unregisters c's descriptor. It is called once per add, by whoever
// unparks c, before c's descriptor can be closed and reused.
func (p *poller) remove(c *conn) {
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	p.mu.Lock()
	if p.fds[int32(c.fd)] == c {
		delete(p.fds, int32(c.fd))
	}
	p.mu.Unlock()
}

// close stops the poller and waits for its goroutine. Parked connections
// must have been unparked.
func (p *poller) close() {
	syscall.Write(p.stop[1], []byte{0})
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.stop[0])
	syscall.Close(p.stop[1])
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
