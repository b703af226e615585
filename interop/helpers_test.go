package interop_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

const (
	// python is Debian's interpreter, the one python3-paho-mqtt installs
	// into; the python3 first on PATH may be another one without paho.
	python = "/usr/bin/python3"

	installHint = "install the interop tools with: apt-get install mosquitto-clients python3-paho-mqtt"

	// procTimeout bounds the life of every client subprocess (startProc).
	// Servers (startServer) live until their test ends: a test's parallel
	// subtests may wait for a free slot longer than this before they use
	// the broker their parent started.
	procTimeout = 20 * time.Second
	// waitTimeout bounds every wait for a condition.
	waitTimeout = testutil.Timeout
)

// needMosquittoClients fails the test unless mosquitto_pub and mosquitto_sub
// are installed, and stdbuf, which makes their output line-buffered so that
// debug lines such as "Subscribed (mid: 1): 0" reach a pipe when printed.
func needMosquittoClients(t *testing.T) {
	t.Helper()
	testutil.NeedTool(t, "mosquitto_pub", "mosquitto-clients")
	testutil.NeedTool(t, "mosquitto_sub", "mosquitto-clients")
	testutil.NeedTool(t, "stdbuf", "coreutils")
}

// needPaho fails the test unless Debian's python3 can import paho.mqtt.
func needPaho(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import paho.mqtt").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import paho.mqtt: %v\n%s%s", python, err, out, installHint)
	}
}

// startBroker starts a broker for cfg on 127.0.0.1 and returns it and its
// port.
func startBroker(t *testing.T, cfg broker.Config) (*testutil.Broker, string) {
	t.Helper()
	b := testutil.StartBroker(t, cfg)
	_, port, err := net.SplitHostPort(b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return b, port
}

// startLocalhostBroker starts a broker for cfg that listens on 127.0.0.1 and
// on ::1 with the same port, so that "-h localhost" reaches it whichever
// address localhost resolves to first.
func startLocalhostBroker(t *testing.T, cfg broker.Config) (*testutil.Broker, string) {
	t.Helper()
	for range 10 {
		b, port := startBroker(t, cfg)
		ln, err := net.Listen("tcp6", net.JoinHostPort("::1", port))
		if errors.Is(err, syscall.EADDRINUSE) {
			shutdown(t, b) // the port is taken on ::1: try another
			continue
		}
		if err != nil {
			// No IPv6 loopback: localhost cannot resolve to ::1 either.
			t.Logf("listening on [::1]:%s: %v; serving 127.0.0.1 only", port, err)
			return b, port
		}
		done := make(chan error, 1)
		go func() { done <- b.Serve(context.Background(), ln, broker.Listener{}) }()
		t.Cleanup(func() {
			shutdown(t, b)
			if err := <-done; !errors.Is(err, broker.ErrServerClosed) {
				t.Errorf("Serve on [::1]:%s returned %v, want ErrServerClosed", port, err)
			}
		})
		return b, port
	}
	t.Fatal("found no port free on both 127.0.0.1 and ::1")
	return nil, ""
}

// shutdown shuts b down before the end of the test, leaving Stop to
// StartBroker's cleanup. (Stop as committed in 32ec0c3 panics on a second
// call: it closes b.done again.)
func shutdown(t *testing.T, b *testutil.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// waitSys waits until the broker's $SYS value for name (such as
// "clients/connected") is want.
func waitSys(t *testing.T, b *testutil.Broker, name, want string) {
	t.Helper()
	var got string
	testutil.WaitFor(t, "$SYS/broker/"+name+" = "+want, func() bool {
		got = b.SysValues()["$SYS/broker/"+name]
		return got == want
	})
}

// proc is a subprocess whose output is collected line by line. It is killed
// when the test ends, and in any case after procTimeout.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and err is set
	err  error         // cmd.Wait's result

	mu     sync.Mutex    // guards the fields below
	stdout []string      // complete lines, without the newline
	stderr bytes.Buffer  // everything written to stderr
	wake   chan struct{} // closed and replaced when a line arrives
	part   []byte        // an incomplete last stdout line
}

// startMosquitto starts a mosquitto client tool with line-buffered output.
func startMosquitto(t *testing.T, tool string, args ...string) *proc {
	t.Helper()
	return startProc(t, nil, "stdbuf", append([]string{"-oL", tool}, args...)...)
}

// startMosquittoInput is startMosquitto with stdin read from input.
func startMosquittoInput(t *testing.T, input string, tool string, args ...string) *proc {
	t.Helper()
	return startProc(t, strings.NewReader(input), "stdbuf", append([]string{"-oL", tool}, args...)...)
}

// startPython runs a script from testdata with Debian's python3,
// unbuffered.
func startPython(t *testing.T, script string, args ...string) *proc {
	t.Helper()
	return startProc(t, nil, python, append([]string{"-u", "testdata/" + script}, args...)...)
}

// startProc starts name with args and stdin (if not nil), for at most
// procTimeout.
func startProc(t *testing.T, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	return startProcFor(t, procTimeout, stdin, name, args...)
}

// startServer starts a server process (a broker, HAProxy) as startProc
// does, but with no limit on its life: it is killed when the test ends.
func startServer(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProcFor(t, 0, nil, name, args...)
}

// startProcFor is startProc with the limit on the process's life (0: none).
func startProcFor(t *testing.T, limit time.Duration, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if limit > 0 {
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), limit)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	cmd.WaitDelay = time.Second
	p := &proc{t: t, name: strings.Join(args, " "), cmd: cmd, done: make(chan struct{}), wake: make(chan struct{})}
	cmd.Stdout = stdoutWriter{p}
	cmd.Stderr = stderrWriter{p}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", p.name, err)
	}
	go func() {
		err := cmd.Wait()
		cancel()
		p.mu.Lock()
		p.err = err
		if len(p.part) > 0 {
			p.stdout = append(p.stdout, string(p.part))
			p.part = nil
		}
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.output())
		}
	})
	return p
}

type stdoutWriter struct{ p *proc }

func (w stdoutWriter) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.part = append(p.part, b...)
	added := false
	for {
		i := bytes.IndexByte(p.part, '\n')
		if i < 0 {
			break
		}
		p.stdout = append(p.stdout, strings.TrimSuffix(string(p.part[:i]), "\r"))
		p.part = p.part[i+1:]
		added = true
	}
	if added {
		close(p.wake)
		p.wake = make(chan struct{})
	}
	return len(b), nil
}

type stderrWriter struct{ p *proc }

func (w stderrWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// lines returns the stdout lines so far.
func (p *proc) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stdout...)
}

// output returns stdout and stderr for failure messages.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "stdout:\n  " + strings.Join(append(p.stdout, string(p.part)), "\n  ") + "\nstderr:\n  " + p.stderr.String()
}

// waitLines waits until n stdout lines satisfy match and returns them.
func (p *proc) waitLines(n int, match func(string) bool) []string {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		var got []string
		for _, l := range p.stdout {
			if match(l) {
				got = append(got, l)
			}
		}
		wake := p.wake
		p.mu.Unlock()
		if len(got) >= n {
			return got[:n]
		}
		select {
		case <-wake:
		case <-p.done:
			// Output is complete once done is closed: look once more.
			p.mu.Lock()
			got = got[:0]
			for _, l := range p.stdout {
				if match(l) {
					got = append(got, l)
				}
			}
			p.mu.Unlock()
			if len(got) >= n {
				return got[:n]
			}
			p.t.Fatalf("%s exited (%v) with %d of %d expected lines\n%s", p.name, p.err, len(got), n, p.output())
		case <-timer.C:
			p.t.Fatalf("timed out waiting for %d expected lines from %s, got %d\n%s", n, p.name, len(got), p.output())
		}
	}
}

// waitLine waits for a stdout line containing s and returns it.
func (p *proc) waitLine(s string) string {
	p.t.Helper()
	return p.waitLines(1, func(l string) bool { return strings.Contains(l, s) })[0]
}

// wait waits for the process to exit and fails the test unless it exited
// with status 0. It returns the stdout lines.
func (p *proc) wait() []string {
	p.t.Helper()
	p.waitExit(0)
	return p.lines()
}

// waitExit waits for the process to exit and fails the test unless its exit
// status is code.
func (p *proc) waitExit(code int) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		p.t.Fatalf("%s still running after %v\n%s", p.name, waitTimeout, p.output())
	}
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(p.err, &ee):
		got = ee.ExitCode()
	case p.err != nil:
		p.t.Fatalf("%s: %v\n%s", p.name, p.err, p.output())
	}
	if got != code {
		p.t.Fatalf("%s exited with %v, want status %d\n%s", p.name, p.err, code, p.output())
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// kill sends sig to the process and waits for it to end.
func (p *proc) kill(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		p.t.Fatalf("%s still running %v after %v\n%s", p.name, waitTimeout, sig, p.output())
	}
}

// itoa is strconv.Itoa, for building argument lists.
func itoa(n int) string { return strconv.Itoa(n) }
