package bridge

import (
	"syscall"
	"time"
)

// userTimeout returns a dialer Control that sets TCP_USER_TIMEOUT
// (bridge_tcp_user_timeout).
func userTimeout(d time.Duration) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, 0x12 /* TCP_USER_TIMEOUT */, int(d.Milliseconds()))
		})
		if err != nil {
			return err
		}
		return serr
	}
}
