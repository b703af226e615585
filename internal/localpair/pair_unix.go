//go:build unix

package localpair

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// New returns the two ends of a Unix stream socket pair: buffered by
// the kernel, and parkable like any socket.
func New() (net.Conn, net.Conn, error) {
	// SOCK_CLOEXEC is not on every Unix (macOS): set close-on-exec under
	// ForkLock, as the standard library does, so no child inherits them.
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("broker: socketpair: %w", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "local")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			for _, o := range conns[:i] {
				o.Close()
			}
			if i == 0 {
				syscall.Close(fds[1])
			}
			return nil, nil, fmt.Errorf("broker: socketpair: %w", err)
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}
