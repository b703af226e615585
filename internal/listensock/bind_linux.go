//go:build linux

package listensock

import "syscall"

// bindToDevice returns a socket control function that binds the socket to
// the network interface name (SO_BINDTODEVICE; needs CAP_NET_RAW).
func bindToDevice(name string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, name)
		})
		if err != nil {
			return err
		}
		return serr
	}
}
