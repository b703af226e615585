//go:build unix

package broker

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// fakeNotifySocket is systemd's end of NOTIFY_SOCKET: it returns the
// socket's path and a channel of the datagrams received.
func fakeNotifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}

// next returns the next datagram, failing after a deadline.
func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return ""
	}
}

func TestWatchdogInterval(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		getenv func(string) string
		want   time.Duration
	}{
		{env(), 0},
		{env("NOTIFY_SOCKET", "/x"), 0},
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "30000000"), 15 * time.Second},
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "42"), 15 * time.Second},
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "43"), 0}, // inherited from another process
		{env("WATCHDOG_USEC", "30000000"), 0},                                              // nowhere to send
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "0"), 0},
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "-5"), 0},
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "soon"), 0},
		{env("NOTIFY_SOCKET", "/x", "WATCHDOG_USEC", "1"), time.Millisecond},
	}
	for i, tt := range tests {
		if got := watchdogInterval(tt.getenv, 42); got != tt.want {
			t.Errorf("%d: %v, want %v", i, got, tt.want)
		}
	}
}

// TestSystemdNotify runs the broker as a Type=notify unit with
// WatchdogSec=0.2 would: READY=1 once it serves, WATCHDOG=1 again and again
// at half the timeout, STOPPING=1 when it stops.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	sock, ch := fakeNotifySocket(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "m.conf")
	os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nlog_dest none\n"), 0o644)
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "200000"}
	r := runInProcess(t, brokerHooks{getenv: func(k string) string { return env[k] }}, "-c", conf)
	if s := next(t, ch); s != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", s)
	}
	// The broker serves by the time it says it is ready.
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("READY=1 before the listener serves: %v", err)
	}
	c.Close()
	start := time.Now()
	for i := range 4 {
		if s := next(t, ch); s != "WATCHDOG=1" {
			t.Fatalf("notification %d: %q, want WATCHDOG=1", i, s)
		}
	}
	// Four pings at 100 ms take at least 300 ms (the first comes at once).
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("4 watchdog pings in %v: sent faster than every WATCHDOG_USEC/2", d)
	}
	if code := r.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	// Sent before runBrokerOptions returned; maybe after more pings.
	for {
		switch s := next(t, ch); s {
		case "STOPPING=1":
			return
		case "WATCHDOG=1":
		default:
			t.Fatalf("unexpected %q before STOPPING=1", s)
		}
	}
}

// TestNoNotifySocket checks that without NOTIFY_SOCKET nothing is sent and
// the broker runs as usual (the other helpers of this package run so).
func TestNotifyWithoutSocket(t *testing.T) {
	t.Parallel()
	if err := newSDNotifier(func(string) string { return "" }).notify("READY=1"); err != nil {
		t.Fatal(err)
	}
	if err := newSDNotifier(func(string) string { return "/nonexistent/notify" }).notify("READY=1"); err == nil {
		t.Fatal("a missing socket is not reported")
	}
}

// TestSIGRTMINReopensLog renames the log file away, as logrotate does, and
// sends SIGRTMIN: the broker writes on in a new file of the configured
// name, without a configuration reload.
func TestSIGRTMINReopensLog(t *testing.T) {
	t.Parallel()
	if sigRTMIN == 0 {
		t.Skip("SIGRTMIN is handled on Linux only")
	}
	dir, port := worldDir(t), freePort(t)
	logf := filepath.Join(dir, "m.log")
	conf := filepath.Join(dir, "m.conf")
	os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\nlog_dest file "+logf+"\nlog_type all\n"), 0o644)
	cmd := startBinary(t, "-c", conf)
	waitLog(t, logf, "running")
	if err := os.Rename(logf, logf+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(sigRTMIN); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the new log file", func() bool { _, err := os.Stat(logf); return err == nil })
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitLog(t, logf, "New connection from 127.0.0.1:")
	if strings.Contains(readOrEmpty(logf+".1"), "New connection") {
		t.Error("written to the rotated file after SIGRTMIN")
	}
	if strings.Contains(readOrEmpty(logf), "Reloading config") {
		t.Error("SIGRTMIN reloaded the configuration")
	}
	// glibc's SIGRTMIN (34), which Go cannot deliver, must not kill the
	// broker: a logrotate script written for Mosquitto sends it.
	if err := cmd.Process.Signal(syscall.Signal(34)); err != nil {
		t.Fatal(err)
	}
	os.Rename(logf, logf+".2")
	if out, err := exec.Command("/bin/kill", "-s", "RTMIN+1", strconv.Itoa(cmd.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("/bin/kill -s RTMIN+1: %v %s", err, out)
	}
	testutil.WaitFor(t, "the log file reopened by kill -s RTMIN+1", func() bool { _, err := os.Stat(logf); return err == nil })
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the broker died: %v", err)
	}
}
