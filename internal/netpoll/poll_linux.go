//go:build linux

package netpoll

import (
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
)

// Poller watches parked connections: idle connections whose reader
// goroutine has ended and whose buffers are given back. One epoll set and
// one goroutine serve every parked connection; when a parked connection's
// socket becomes readable (or closes), the Poller calls its ready function
// with the value registered for the descriptor. Registration is
// level-triggered and one-shot, so data that arrived before the connection
// was registered is reported at once and each connection is reported at
// most once per Add.
type Poller[T comparable] struct {
	epfd  int
	file  *os.File // epfd inside Go's netpoller: waiting holds no thread
	done  chan struct{}
	ready func(T)
	log   *slog.Logger
	mu    sync.Mutex
	fds   map[int32]T // guarded by mu: parked connections by descriptor
}

// New opens the epoll set and starts its goroutine, which calls ready for
// each registered value whose socket becomes readable. The epoll
// descriptor is itself watched by Go's netpoller (it is readable when
// events are pending), so the goroutine waits like any network read instead
// of blocking a thread in epoll_wait, which on one processor would stall
// every other goroutine until the runtime took the processor back.
func New[T comparable](ready func(T), log *slog.Logger) (*Poller[T], error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	p := &Poller[T]{epfd: fd, file: os.NewFile(uintptr(fd), "midge-poller"), fds: make(map[int32]T),
		done: make(chan struct{}), ready: ready, log: log}
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		return nil, err
	}
	go p.loop(rc)
	return p, nil
}

// loop waits for parked connections to become readable until the epoll set
// is closed.
func (p *Poller[T]) loop(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	var zero T
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
			p.log.Error("poller failed; parked connections stay parked", "err", werr)
			return
		}
		for i := range n {
			p.mu.Lock()
			v := p.fds[events[i].Fd]
			p.mu.Unlock()
			if v != zero {
				p.ready(v)
			}
		}
	}
}

// Add registers descriptor fd for v.
func (p *Poller[T]) Add(fd int32, v T) error {
	p.mu.Lock()
	p.fds[fd] = v
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		p.mu.Lock()
		delete(p.fds, fd)
		p.mu.Unlock()
		return err
	}
	return nil
}

// Remove unregisters descriptor fd of v. It is called once per Add, by
// whoever unparks v, before the descriptor can be closed and reused.
func (p *Poller[T]) Remove(fd int32, v T) {
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	p.mu.Lock()
	if p.fds[fd] == v {
		delete(p.fds, fd)
	}
	p.mu.Unlock()
}

// Close stops the poller and waits for its goroutine. Parked connections
// must have been unparked.
func (p *Poller[T]) Close() {
	p.file.Close()
	<-p.done
}

// SocketFD returns the descriptor of a plain TCP or Unix socket, or -1 for
// connections that cannot be parked (TLS and WebSocket ones buffer data the
// poller cannot see).
func SocketFD(nc net.Conn) int {
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
