package crashtest_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// brokerConf is a configuration file of the midge broker with persistence
// in dir. The port of its listener is chosen anew when it is taken.
type brokerConf struct {
	bin, dir, conf, user string
	addr                 string // the listener's address, as last written
}

func newBrokerConf(t *testing.T, bin, dir string) *brokerConf {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	c := &brokerConf{bin: bin, dir: dir, conf: filepath.Join(dir, "midge.conf"), user: u.Username}
	c.write(t)
	return c
}

// write chooses a port that is free and writes the configuration with it.
func (c *brokerConf) write(t *testing.T) {
	t.Helper()
	port := testutil.FreePort(t)
	c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s\nuser %s\nlog_dest stderr\nmax_queued_messages 1000000\n",
		port, c.dir, c.user)
	if err := os.WriteFile(c.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start starts the broker and waits until it accepts connections at
// c.addr. The port was free when write chose it, but any process on the
// machine may bind it (a listener, or a connection's local port) before
// the broker does: then the broker exits, and start chooses another port
// and starts it again.
func (c *brokerConf) start(t *testing.T, flags ...string) *broker {
	t.Helper()
	for attempt := 1; ; attempt++ {
		b, err := launch(c.bin, c.conf, c.addr, flags)
		if err == nil {
			return b
		}
		if attempt < 5 && strings.Contains(b.log(), "address already in use") {
			t.Logf("port of %s taken, choosing another", c.addr)
			c.write(t)
			continue
		}
		t.Fatalf("broker did not start: %v\n%s", err, b.log())
	}
}

// broker is the child process.
type broker struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
	mu   sync.Mutex
	logs strings.Builder // guarded by mu: its stdout and stderr
}

var errExited = errors.New("the broker exited")

// launch runs the broker and waits until it accepts connections at addr,
// or exits.
func launch(bin, conf, addr string, flags []string) (*broker, error) {
	b := &broker{done: make(chan struct{})}
	b.cmd = exec.Command(bin, append([]string{"broker", "-c", conf}, flags...)...)
	b.cmd.Stderr = lockedWriter{b}
	b.cmd.Stdout = lockedWriter{b}
	if err := b.cmd.Start(); err != nil {
		close(b.done)
		return b, err
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			return b, nil
		}
		select {
		case <-b.done:
			return b, fmt.Errorf("%w: %v", errExited, b.err)
		default:
		}
		if time.Now().After(deadline) {
			b.kill()
			return b, err
		}
		time.Sleep(10 * time.Millisecond) // the next try to connect
	}
}

// kill ends the broker with SIGKILL, if it runs, and waits for it.
func (b *broker) kill() {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Kill()
	<-b.done
}

// stop ends the broker with SIGTERM and returns its exit status.
func (b *broker) stop() error {
	b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.done
	return b.err
}

func (b *broker) log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logs.String()
}

type lockedWriter struct{ b *broker }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.b.logs.Write(p)
}
