package clienttool

// Helpers for the tests that run Debian's mosquitto_pub, mosquitto_sub and
// mosquitto_rr beside midge's pub, sub and rr and compare what they print.
// The Debian tools are required: a test fails, with an install hint, when
// one is missing.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

const (
	// mqInstallHint says how to get what these tests run.
	mqInstallHint = "install Debian's Mosquitto 2.0.11 and its tools: apt-get install mosquitto mosquitto-clients coreutils"
	// mqWait bounds every wait for output or for a process to end.
	mqWait = 15 * time.Second
)

// mqDebian returns the path of one of Debian's client programs
// (mosquitto_pub, mosquitto_sub, mosquitto_rr, mosquitto_passwd), failing
// the test if it is not installed. Absolute paths keep a midge link on PATH
// out of the way.
func mqDebian(t testing.TB, name string) string {
	t.Helper()
	p := "/usr/bin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing (%v): %s", p, err, mqInstallHint)
	}
	return p
}

// mqBroker is a broker the tools run against.
type mqBroker struct {
	name string // "mosquitto" or "midge"
	port string
}

// mqBrokers starts Debian's mosquitto and midge's broker, each on a port
// of its own on 127.0.0.1. mosquittoConf are extra lines for mosquitto.conf;
// cfg configures midge's.
func mqBrokers(t *testing.T, cfg broker.Config, mosquittoConf ...string) []mqBroker {
	t.Helper()
	return []mqBroker{mqStartMosquitto(t, mosquittoConf...), mqStartMidgeBroker(t, cfg)}
}

// eachBroker runs body as a parallel subtest, named after the broker,
// against each of brokers.
func eachBroker(t *testing.T, brokers []mqBroker, body func(t *testing.T, b mqBroker)) {
	t.Helper()
	testutil.ForEach(t, brokers, func(b mqBroker) string { return b.name }, body)
}

// goldenOnBrokers runs run for each case as a parallel subtest called
// name(case), against Debian's mosquitto and midge's broker, both allowing
// anonymous clients.
func goldenOnBrokers[C any](t *testing.T, cases []C, name func(C) string, run func(t *testing.T, c C, b mqBroker)) {
	testutil.ForEach(t, cases, name, func(t *testing.T, c C) {
		eachBroker(t, mqBrokers(t, broker.Config{AllowAnonymous: true}), func(t *testing.T, b mqBroker) {
			run(t, c, b)
		})
	})
}

// mqStartMidgeBroker starts midge's broker in the test's process.
func mqStartMidgeBroker(t *testing.T, cfg broker.Config) mqBroker {
	t.Helper()
	b := testutil.StartBroker(t, cfg)
	_, port, err := net.SplitHostPort(b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return mqBroker{name: "midge", port: port}
}

// mqStartMosquitto starts Debian's broker with anonymous access (unless
// extra says otherwise) and the extra configuration lines, and stops it
// when the test ends.
func mqStartMosquitto(t *testing.T, extra ...string) mqBroker {
	t.Helper()
	_, port, err := net.SplitHostPort(testutil.StartMosquitto(t, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return mqBroker{name: "mosquitto", port: port}
}

// mqOutput collects what a program writes and lets a test wait for text.
type mqOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	wake chan struct{} // closed and replaced on every write; lazily made
}

func (o *mqOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if o.wake != nil {
		close(o.wake)
		o.wake = nil
	}
	return len(p), nil
}

func (o *mqOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitCount waits until text appears n times, failing the test after mqWait.
func (o *mqOutput) waitCount(t testing.TB, text string, n int) {
	t.Helper()
	deadline := time.NewTimer(mqWait)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		if strings.Count(o.buf.String(), text) >= n {
			o.mu.Unlock()
			return
		}
		if o.wake == nil {
			o.wake = make(chan struct{})
		}
		wake := o.wake
		o.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d× %q in:\n%s", n, text, o.String())
		}
	}
}

// mqRun is a run of a tool: Debian's as a process, or midge's in the test's
// process.
type mqRun struct {
	name     string
	out, err mqOutput
	both     mqOutput // stdout and stderr interleaved, in the order written
	done     chan struct{}
	code     int           // set before done is closed
	stop     func()        // SIGTERM for a process; cancels midge's context
	cmd      *exec.Cmd     // Debian's
	env      []string      // Debian's environment
	home     string        // HOME for both, so that no options file is read by accident
	stdin    []byte        // standard input
	timeout  time.Duration // how long the run may take
}

// mqHome returns an empty home directory for the tools, so that a
// developer's ~/.config/mosquitto_* does not change what they do.
func mqHome(t testing.TB) string {
	t.Helper()
	return t.TempDir()
}

// mqEnv is the environment lookup midge's tools get: HOME (and, if set,
// XDG_CONFIG_HOME) from the test.
func mqEnv(home, xdg string) getenv {
	return func(k string) (string, bool) {
		switch k {
		case "HOME":
			return home, true
		case "XDG_CONFIG_HOME":
			return xdg, xdg != ""
		}
		return "", false
	}
}

// mqStartDebian runs Debian's tool with args, line buffered (stdbuf) so
// that a test can wait for its debug lines.
func mqStartDebian(t *testing.T, tool, home, xdg string, stdin []byte, args ...string) *mqRun {
	t.Helper()
	bin := mqDebian(t, tool)
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Fatalf("stdbuf is missing: %s", mqInstallHint)
	}
	r := &mqRun{name: "debian " + tool, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*mqWait)
	cmd := exec.CommandContext(ctx, stdbuf, append([]string{"-o0", "-e0", bin}, args...)...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "TZ=UTC", "LC_ALL=C"}
	if xdg != "" {
		cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+xdg)
	}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&r.out, &r.both), io.MultiWriter(&r.err, &r.both)
	cmd.Stdin = bytes.NewReader(stdin)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	r.cmd = cmd
	r.stop = func() { cmd.Process.Signal(syscall.SIGTERM) }
	r.background(t, cancel, func() {
		err := cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		if err != nil && r.code == -1 {
			r.code = 128 + int(syscall.SIGKILL)
		}
	})
	return r
}

// mqStartMidge runs midge's tool in the test's process.
func mqStartMidge(t *testing.T, tl tool, home, xdg string, stdin []byte, args ...string) *mqRun {
	t.Helper()
	r := &mqRun{name: "midge " + tl.mosquittoName(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	st := base.Streams{In: bytes.NewReader(stdin), Out: io.MultiWriter(&r.out, &r.both), Err: io.MultiWriter(&r.err, &r.both)}
	r.background(t, cancel, func() {
		r.code = runClientTool(ctx, tl, tl.mosquittoName(), args, st, mqEnv(home, xdg))
	})
	return r
}

// background runs wait in a goroutine, then cancel, and then marks r done;
// the test's end cancels the run and waits for it.
func (r *mqRun) background(t testing.TB, cancel context.CancelFunc, wait func()) {
	go func() {
		wait()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
}

// wait waits for the run to end and returns its exit status.
func (r *mqRun) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(mqWait):
		t.Fatalf("%s did not end; stdout:\n%s\nstderr:\n%s", r.name, r.out.String(), r.err.String())
		return -1
	}
}

// mqMasks hides what differs from run to run: assigned and random client
// identifiers, timestamps, and one quirk of libmosquitto's tools:
// mosquitto_sub's SIGINT handler logs "sending DISCONNECT" with printf, and
// when the signal lands just after a message's line was written but before
// stdio had emptied its buffer (most likely), that line's newline goes out a second time
// (seen in 1 of about 20 suite runs, as an empty line before the debug
// line). midge's tools never print it.
var mqMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\n\n(Client \S+ sending DISCONNECT)`), "\n$1"},
	{regexp.MustCompile(`auto-[0-9A-Za-z-]+`), "auto-ID"},
	{regexp.MustCompile(`mosq-[0-9A-Za-z]{18}`), "mosq-ID"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z[+-]\d{4}`), "TST"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}`), "ISO8601"},
	{regexp.MustCompile(`\d{9,}\.\d{9}`), "UNIXNS"},
}

// mqMask applies mqMasks.
func mqMask(s string) string {
	for _, m := range mqMasks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// mqCompare compares the masked outputs and exit statuses of two runs.
func mqCompare(t *testing.T, want, got *mqRun, mask func(string) string) {
	t.Helper()
	if mask == nil {
		mask = mqMask
	}
	wc, gc := want.wait(t), got.wait(t)
	if wc != gc {
		t.Errorf("exit status: %s %d, %s %d", want.name, wc, got.name, gc)
	}
	if w, g := mask(want.out.String()), mask(got.out.String()); w != g {
		t.Errorf("stdout differs:\n--- %s\n%s--- %s\n%s", want.name, w, got.name, g)
	}
	if w, g := mask(want.err.String()), mask(got.err.String()); w != g {
		t.Errorf("stderr differs:\n--- %s\n%s--- %s\n%s", want.name, w, got.name, g)
	}
}

// mqPublish publishes with Debian's mosquitto_pub and checks that it
// succeeded.
func mqPublish(t *testing.T, port string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, mqDebian(t, "mosquitto_pub"), append([]string{"-p", port}, args...)...)
	cmd.Env = []string{"HOME=/nonexistent", "PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// mqRetain publishes msg retained on topicName, as mqPublish does, and
// waits until the broker hands it to a new subscriber as retained: a
// broker may route a publish after its client has gone, and a test that
// subscribes next must not race it.
func mqRetain(t *testing.T, port, topicName, msg string) {
	t.Helper()
	mqPublishRetained(t, port, "-t", topicName, "-m", msg, "-r")
}

// mqPublishRetained is mqRetain for mosquitto_pub arguments that publish
// one retained message with -t and -m.
func mqPublishRetained(t *testing.T, port string, args ...string) {
	t.Helper()
	var topicName, msg string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-t":
			topicName = args[i+1]
		case "-m":
			msg = args[i+1]
		}
	}
	if topicName == "" || !slices.Contains(args, "-r") {
		t.Fatalf("mqPublishRetained %q: no -t, or no -r", args)
	}
	mqPublish(t, port, args...)
	testutil.WaitFor(t, "the retained message "+topicName, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), mqWait)
		defer cancel()
		cmd := exec.CommandContext(ctx, mqDebian(t, "mosquitto_sub"), "-p", port, "-t", topicName, "--retained-only", "-C", "1", "-W", "1")
		cmd.Env = []string{"HOME=/nonexistent", "PATH=/usr/bin:/bin"}
		out, _ := cmd.Output() // -W ends it with status 27 when nothing came
		return string(out) == msg+"\n"
	})
}

// mqArgs prepends -p port (and -h 127.0.0.1) to args.
func mqArgs(port string, args ...string) []string {
	return append([]string{"-h", "127.0.0.1", "-p", port}, args...)
}

func mqItoa(i int) string { return strconv.Itoa(i) }

var _ = fmt.Sprintf

// mqFreePort returns a port that was free on 127.0.0.1 a moment ago.
func mqFreePort(t testing.TB) string { return strconv.Itoa(testutil.FreePort(t)) }
