package testutil

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// Listens reports whether process pid holds a TCP socket listening on port
// (a decimal string), read from Linux's /proc: the socket inodes that listen
// on the port in /proc/net/tcp and /proc/net/tcp6, against the process's
// open files. Unlike a dial, it cannot be answered by another process.
func Listens(pid int, port string) (bool, error) {
	n, err := strconv.Atoi(port)
	if err != nil {
		return false, err
	}
	suffix := fmt.Sprintf(":%04X", n)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			if len(f) >= 10 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return false, fmt.Errorf("nothing listens on port %s", port)
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && inodes[link] {
			return true, nil
		}
	}
	return false, fmt.Errorf("port %s is held by another process", port)
}
