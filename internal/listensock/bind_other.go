//go:build !linux

package listensock

import (
	"errors"
	"syscall"
)

// bindToDevice fails: binding to an interface needs Linux's SO_BINDTODEVICE.
func bindToDevice(string) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return errors.New("bind_interface is supported on Linux only")
	}
}
