package interop_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }

// worldDir makes a directory for a broker's configuration and files that
// the broker can still read after it drops root privileges to the
// mosquitto user (it reads them again on SIGHUP). It is removed when the
// test ends.
func worldDir(t *testing.T) string { return testutil.WorldDir(t, "midge-interop-", 0o755) }

// writeTempFile writes text to a new file in dir whose name is pattern with
// its "*" replaced by a unique string, readable by everyone, and returns
// its path.
func writeTempFile(t *testing.T, dir, pattern, text string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // CreateTemp makes it 0600
		t.Fatal(err)
	}
	return writeFile(t, dir, filepath.Base(path), text)
}

// writeFile writes text to dir/name, readable by everyone, and returns its
// path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// makeDir makes the directory dir/name with the permissions perm, whatever
// the umask, and returns its path.
func makeDir(t *testing.T, dir, name string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.Mkdir(path, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyFile copies src to dir/name, readable by everyone, and returns the
// new path.
func copyFile(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(b))
}

// replaceFile replaces dst by the contents of src atomically (a rename),
// so that a reload never sees half a file.
func replaceFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// freePorts returns n different ports that were free on every address a
// moment ago (testutil.FreePort). startMidge tries again with new ports if
// one is taken meanwhile.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	ports := make([]string, 0, n)
	for len(ports) < n {
		if p := strconv.Itoa(testutil.FreePort(t)); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// midgeLogPrefix starts every mosquitto.conf the tests write: the log goes
// to standard output, where startMidge reads it line by line.
const midgeLogPrefix = "log_dest stdout\nlog_type all\n"

// mosquittoEnv names a mosquitto binary (/usr/sbin/mosquitto) to run
// instead of midge in the tests that start a broker process, to check what
// the tests expect against Mosquitto itself.
const mosquittoEnv = "MIDGE_INTEROP_MOSQUITTO"

// startMidge runs "midge broker -c dir/mosquitto-N.conf" with the file conf
// makes for nports free ports, and waits until it serves. It returns the
// broker process, whose stdout lines are the log, and the ports. If a port
// was taken in the meantime, it tries again with others. Each start writes
// a file of its own, so that parallel tests sharing dir do not read each
// other's configuration.
func startMidge(t *testing.T, dir string, nports int, conf func(ports []string) string) (*proc, []string) {
	t.Helper()
	argv := []string{"", "broker"}
	if mosq := os.Getenv(mosquittoEnv); mosq != "" {
		argv = []string{"stdbuf", "-oL", mosq} // Mosquitto buffers a piped stdout
	} else {
		argv[0] = testutil.MidgeBinary(t)
	}
	return startBrokerProc(t, dir, argv, nports, conf)
}

// startBrokerProc runs the broker command argv with "-c" and a file of its
// own in dir, which conf makes for nports free ports after midgeLogPrefix,
// and waits until the broker serves. If a port was taken in the meantime,
// it tries again with others.
func startBrokerProc(t *testing.T, dir string, argv []string, nports int, conf func(ports []string) string) (*proc, []string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ports := freePorts(t, nports)
		text := midgeLogPrefix + conf(ports)
		path := writeTempFile(t, dir, "mosquitto-*.conf", text)
		p := startServer(t, argv[0], slices.Concat(argv[1:], []string{"-c", path})...)
		if p.waitRunning() {
			return p, ports
		}
		// A port taken meanwhile: midge says "address already in use",
		// Mosquitto "Address already in use", and its WebSocket listeners
		// only "Unable to start any listening sockets".
		if out := p.output(); attempt < 3 && (strings.Contains(strings.ToLower(out), "address already in use") ||
			strings.Contains(out, "Unable to start any listening sockets")) {
			continue
		}
		t.Fatalf("%s -c %s did not start:\n%s\nconfiguration:\n%s", strings.Join(argv, " "), path, p.output(), text)
	}
}

// waitRunning waits for the broker's "version ... running" log line and reports
// whether it came before the process exited.
func (p *proc) waitRunning() bool {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		wake := p.wake
		p.mu.Unlock()
		for _, l := range p.lines() {
			if strings.Contains(l, " version ") && strings.HasSuffix(l, " running") {
				return true
			}
		}
		select {
		case <-wake:
		case <-p.done:
			return false
		case <-timer.C:
			p.t.Fatalf("midge not running after %v\n%s", waitTimeout, p.output())
		}
	}
}

// countLines returns how many of the stdout lines so far contain s.
func (p *proc) countLines(s string) int {
	n := 0
	for _, l := range p.lines() {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// mark returns how many stdout lines the process has printed so far, for
// waitAfter.
func (p *proc) mark() int { return len(p.lines()) }

// waitAfter waits up to d for a stdout line after the first mark ones that
// contains every one of subs, and returns it; it fails the test if none
// comes.
func (p *proc) waitAfter(mark int, d time.Duration, subs ...string) string {
	p.t.Helper()
	l, ok := p.lineAfter(mark, d, func(l string) bool { return containsAll(l, subs) })
	if !ok {
		p.t.Fatalf("%s printed no line with %q within %v\n%s", p.name, subs, d, p.output())
	}
	return l
}

// lineAfter waits up to d for a stdout line after the first mark ones that
// satisfies match.
func (p *proc) lineAfter(mark int, d time.Duration, match func(string) bool) (string, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	find := func() (string, bool) {
		lines := p.lines()
		for _, l := range lines[min(mark, len(lines)):] {
			if match(l) {
				return l, true
			}
		}
		return "", false
	}
	for {
		p.mu.Lock()
		wake := p.wake
		p.mu.Unlock()
		if l, ok := find(); ok {
			return l, true
		}
		select {
		case <-wake:
		case <-p.done:
			return find()
		case <-timer.C:
			return "", false
		}
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
