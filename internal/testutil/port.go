package testutil

import (
	"net"
	"strconv"
	"testing"
)

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago, for
// a process the test starts that must be told its port in advance.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// DeadAddr returns an address on 127.0.0.1 that nothing listens on (its
// port was free a moment ago), for tests of connections that fail.
func DeadAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
