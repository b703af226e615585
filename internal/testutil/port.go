package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FreePort returns a port that was free for TCP and UDP on every address a
// moment ago, for a process the test starts that must be told its port in
// advance. It is taken below Linux's ephemeral range (32768 and up unless
// /proc/sys/net/ipv4/ip_local_port_range says otherwise), where the kernel
// never picks a port on its own: no listener on port 0 and no outgoing
// connection of a parallel test can take it before the process binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	low, high := 20000, ephemeralLow()
	if high-low < 1000 {
		low = 1024 // an unusual range: what is below it
	}
	given.Lock()
	defer given.Unlock()
	for range 1000 {
		port := low + rand.IntN(high-low)
		if !given.ports[port] && portFree(port) {
			given.ports[port] = true // never twice in one test binary
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// given are the ports FreePort returned: two calls of one test (a node's
// cluster and gossip ports, chosen before the node starts) must differ.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: make(map[int]bool)}

// portFree reports whether port can be listened on, TCP and UDP, on every
// address.
func portFree(port int) bool {
	addr := ":" + strconv.Itoa(port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// ephemeralLow returns the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 1024 {
				return n
			}
		}
	}
	return 32768
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
