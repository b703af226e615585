package testutil

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if ok, err := Listens(os.Getpid(), port); !ok {
		t.Errorf("Listens(self, %s) = false, %v; want true", port, err)
	}
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	if ok, _ := Listens(other.Process.Pid, port); ok {
		t.Errorf("Listens(other process, %s) = true; the port is this process's", port)
	}
	dead := strconv.Itoa(FreePort(t))
	if ok, err := Listens(os.Getpid(), dead); ok || err == nil {
		t.Errorf("Listens(self, free port %s) = %v, %v; want false and an error", dead, ok, err)
	}
}

// FreePort gives ports below the ephemeral range, free for TCP and UDP,
// never the same twice.
func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] || p < 1024 || p >= ephemeralLow() {
			t.Fatalf("port %d: seen before %v, ephemeral range from %d", p, seen[p], ephemeralLow())
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
	}
}
