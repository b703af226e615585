//go:build unix

package clienttool

import (
	"strconv"
	"syscall"
	"testing"
)

// mqClosedPort returns a port on 127.0.0.1 that refuses connections for the
// whole test: a socket bound to it without listening holds it, so that no
// other test's listener on port 0 can be given it meanwhile.
func mqClosedPort(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}
