//go:build unix

package broker

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

func TestParseBrokerArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    brokerOptions
		wantErr string
	}{
		{args: nil, want: brokerOptions{}},
		{args: []string{"-c", "/etc/m.conf", "-v"}, want: brokerOptions{configFile: "/etc/m.conf", verbose: true}},
		{args: []string{"--config-file", "m.conf", "--daemon", "--verbose", "--quiet"}, want: brokerOptions{configFile: "m.conf", daemon: true, verbose: true, quiet: true}},
		{args: []string{"-p", "1884", "--port", "1885"}, want: brokerOptions{ports: []int{1884, 1885}}},
		{args: []string{"--test-config", "-c", "x"}, want: brokerOptions{testConfig: true, configFile: "x"}},
		{args: []string{"-h"}, want: brokerOptions{help: true}},
		{args: []string{"-c"}, wantErr: "-c argument given, but no config file specified."},
		{args: []string{"-p"}, wantErr: "-p argument given, but no port specified."},
		{args: []string{"-p", "0"}, wantErr: "Invalid port specified (0)."},
		{args: []string{"-p", "x"}, wantErr: "Invalid port specified (x)."},
		{args: []string{"-dv"}, wantErr: "Unknown option '-dv'."},
		{args: []string{"extra"}, wantErr: "Unknown option 'extra'."},
		{args: strings.Fields("-p 1 -p 2 -p 3 -p 4 -p 5 -p 6 -p 7 -p 8 -p 9 -p 10 -p 11"), wantErr: "Only 10 ports can be specified on the command line."},
	}
	for _, tt := range tests {
		got, err := parseBrokerArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		got.raw = nil
		if err != nil || !slices.Equal(got.ports, tt.want.ports) {
			t.Errorf("%q: %+v, %v", tt.args, got, err)
			continue
		}
		got.ports, tt.want.ports = nil, nil
		if got.configFile != tt.want.configFile || got.daemon != tt.want.daemon || got.verbose != tt.want.verbose ||
			got.quiet != tt.want.quiet || got.testConfig != tt.want.testConfig || got.help != tt.want.help {
			t.Errorf("%q: got %+v, want %+v", tt.args, got, tt.want)
		}
	}
}

func runIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), "mosquitto", args, base.Streams{Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestTestConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := testutil.WriteFile(t, dir, "good.conf", "listener 1883\nallow_anonymous true\n")
	bad := testutil.WriteFile(t, dir, "bad.conf", "listener 1883\nbogus 1\nmax_qos 7\n")

	code, _, errs := runIn(t, "--test-config", "-c", good)
	if code != 0 || !strings.HasSuffix(errs, ": Configuration file is OK.\n") {
		t.Errorf("good: %d %q", code, errs)
	}
	code, _, errs = runIn(t, "--test-config", "-c", bad)
	if code != 3 || !strings.Contains(errs, `Error: `+bad+`:2: unknown option "bogus"`) || !strings.Contains(errs, bad+":3: invalid max_qos value 7") ||
		strings.Contains(errs, "is OK") {
		t.Errorf("bad: %d %q", code, errs)
	}
	code, _, errs = runIn(t, "--test-config")
	if code != 3 || !strings.Contains(errs, "Please provide a configuration file to test.") {
		t.Errorf("no -c: %d %q", code, errs)
	}
	code, _, errs = runIn(t, "--test-config", "-c", filepath.Join(dir, "missing.conf"))
	if code != 3 || !strings.Contains(errs, "Unable to open config file") {
		t.Errorf("missing: %d %q", code, errs)
	}
	code, out, _ := runIn(t, "-h")
	if code != 3 || !strings.Contains(out, "Usage: mosquitto [-c config_file]") {
		t.Errorf("-h: %d %q", code, out)
	}
	code, out, errs = runIn(t, "-x")
	if code != 3 || !strings.Contains(errs, "Error: Unknown option '-x'.") || !strings.Contains(out, "Usage:") {
		t.Errorf("-x: %d %q %q", code, out, errs)
	}
}

// TestServeInProcess runs the broker in this process on a free port and
// checks it logs like Mosquitto and stops cleanly.
func TestServeInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "m.conf")
	logf := filepath.Join(dir, "m.log")
	os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\nlog_dest file "+logf+"\npid_file "+dir+"/m.pid\n"), 0o644)
	b, stop := startInProcess(t, conf, logf)
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the connection to be logged", func() bool { return strings.Contains(readOrEmpty(logf), "New connection from 127.0.0.1:") })
	c.Close()
	if pid := readOrEmpty(filepath.Join(dir, "m.pid")); pid != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file %q", pid)
	}
	b.reload() // a SIGHUP with an unchanged file
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	log := readOrEmpty(logf)
	for _, want := range []string{"midge version " + "0.1.0 starting", "Opening ipv4 listen socket on port " + port + ".", "New connection from 127.0.0.1:",
		"Reloading config.", "terminating"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "m.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// TestTutorial follows the tutorial with the built binary run as
// "mosquitto -c": both configurations, then mosquitto_sub and mosquitto_pub
// exactly as the tutorial types them (plus the port).
func TestTutorial(t *testing.T) {
	t.Parallel()
	sub, pub := testutil.NeedTool(t, "mosquitto_sub", "mosquitto-clients"), testutil.NeedTool(t, "mosquitto_pub", "mosquitto-clients")
	for _, name := range []string{"tutorial-anonymous.conf", "tutorial-password.conf"} {
		t.Run(name, func(t *testing.T) {
			dir, port := worldDir(t), freePort(t)
			conf := tutorialConfig(t, name, dir, port)
			auth := []string{}
			if name == "tutorial-password.conf" {
				setPassword(t, filepath.Join(dir, "etc", "pwfile"), "alice", "s3cret", true)
				auth = []string{"-u", "alice", "-P", "s3cret"}
			}
			startBinary(t, "-c", conf)
			logf := filepath.Join(dir, "log", "mosquitto.log")
			waitLog(t, logf, "running")

			got := make(chan string, 1)
			sc := exec.Command(sub, append([]string{"-d", "-h", "localhost", "-p", port, "-t", "test/topic", "-C", "1", "-W", "10"}, auth...)...)
			go func() { out, _ := sc.CombinedOutput(); got <- string(out) }()
			testutil.WaitFor(t, "the subscription", func() bool { return strings.Contains(readOrEmpty(logf), "New client connected") })
			// The subscriber is connected; publish until it has its SUBACK.
			deadline := time.Now().Add(10 * time.Second)
			var out string
		loop:
			for time.Now().Before(deadline) {
				p := exec.Command(pub, append([]string{"-d", "-h", "localhost", "-p", port, "-t", "test/topic", "-m", "Hello, Mosquitto!"}, auth...)...)
				if b, err := p.CombinedOutput(); err != nil {
					t.Fatalf("mosquitto_pub: %v %s", err, b)
				}
				select {
				case out = <-got:
					break loop
				case <-time.After(200 * time.Millisecond):
				}
			}
			if !strings.Contains(out, "Hello, Mosquitto!") {
				t.Fatalf("subscriber got %q", out)
			}
			if name == "tutorial-password.conf" {
				b, _ := exec.Command(pub, "-h", "localhost", "-p", port, "-t", "test/topic", "-m", "x").CombinedOutput()
				if !strings.Contains(string(b), "not authorised") && !strings.Contains(string(b), "Connection Refused") {
					t.Errorf("anonymous publish accepted: %s", b)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "run", "mosquitto.pid")); err != nil {
				t.Errorf("pid file: %v", err)
			}
		})
	}
}

// TestDaemon checks that -d returns once the broker serves in the
// background, writes the pid file, and that the daemon removes it on
// SIGTERM.
func TestDaemon(t *testing.T) {
	t.Parallel()
	dir, port := worldDir(t), freePort(t)
	pidf := filepath.Join(dir, "m.pid")
	conf := filepath.Join(dir, "m.conf")
	os.WriteFile(conf, []byte("pid_file "+pidf+"\nlistener "+port+" 127.0.0.1\nallow_anonymous true\nlog_dest file "+dir+"/m.log\n"), 0o644)
	out, err := exec.Command(midgeBinary(t), "-c", conf, "-d").CombinedOutput()
	if err != nil {
		t.Fatalf("-d: %v %s", err, out)
	}
	pid, err := strconv.Atoi(readOrEmpty(pidf))
	if err != nil {
		t.Fatalf("pid file %q after -d returned", readOrEmpty(pidf))
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if pid == os.Getpid() || syscall.Kill(pid, 0) != nil {
		t.Fatalf("daemon %d not running", pid)
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+port); err != nil {
		t.Fatalf("daemon not listening: %v", err)
	} else {
		c.Close()
	}
	if sid, err := getsid(pid); err == nil && sid != pid {
		t.Errorf("daemon is not a session leader: sid %d", sid)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	testutil.WaitFor(t, "the pid file to go", func() bool { _, err := os.Stat(pidf); return os.IsNotExist(err) })

	// A daemon that cannot start reports it and the foreground fails.
	os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nlistener "+port+" 127.0.0.1\n"), 0o644)
	if out, err := exec.Command(midgeBinary(t), "-c", conf, "-d").CombinedOutput(); err == nil {
		t.Errorf("-d with a bad configuration succeeded: %s", out)
	}
}

// TestReload connects Debian's mosquitto_sub, then adds a user to the
// password file and sends SIGHUP: the subscriber stays connected and gets
// the new user's message. A password file that cannot be read is reported
// and the old one kept.
func TestReload(t *testing.T) {
	t.Parallel()
	sub, pub := testutil.NeedTool(t, "mosquitto_sub", "mosquitto-clients"), testutil.NeedTool(t, "mosquitto_pub", "mosquitto-clients")
	dir, port := worldDir(t), freePort(t)
	conf := tutorialConfig(t, "tutorial-password.conf", dir, port)
	pw := filepath.Join(dir, "etc", "pwfile")
	setPassword(t, pw, "alice", "a-pass", true)
	cmd := startBinary(t, "-c", conf)
	logf := filepath.Join(dir, "log", "mosquitto.log")
	waitLog(t, logf, "running")

	var subOut bytes.Buffer
	var subMu sync.Mutex
	sc := exec.Command(sub, "-h", "localhost", "-p", port, "-t", "t/#", "-u", "alice", "-P", "a-pass", "-i", "watcher")
	sc.Stdout = writerFunc(func(p []byte) (int, error) { subMu.Lock(); defer subMu.Unlock(); return subOut.Write(p) })
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Process.Kill(); sc.Wait() })
	received := func(s string) bool { subMu.Lock(); defer subMu.Unlock(); return strings.Contains(subOut.String(), s) }
	publish := func(user, pass, msg string) error {
		return exec.Command(pub, "-h", "localhost", "-p", port, "-t", "t/x", "-m", msg, "-u", user, "-P", pass).Run()
	}
	testutil.WaitFor(t, "the subscriber", func() bool {
		publish("alice", "a-pass", "ping")
		return received("ping")
	})
	if publish("bob", "b-pass", "early") == nil {
		t.Fatal("bob accepted before he was added")
	}

	setPassword(t, pw, "bob", "b-pass", false)
	cmd.Process.Signal(syscall.SIGHUP)
	testutil.WaitFor(t, "bob's message after the reload", func() bool { return publish("bob", "b-pass", "from bob") == nil && received("from bob") })

	// A file that cannot be read: reported, the running users kept. (A line
	// Mosquitto cannot use only drops that line: TestCompatPasswordFileLines.)
	os.Remove(pw)
	cmd.Process.Signal(syscall.SIGHUP)
	testutil.WaitFor(t, "the reload error", func() bool {
		return strings.Contains(readOrEmpty(logf), pw) && strings.Contains(readOrEmpty(logf), "configuration not reloaded")
	})
	if err := publish("bob", "b-pass", "still bob"); err != nil {
		t.Fatalf("bob refused after a failed reload: %v", err)
	}
	testutil.WaitFor(t, "the message after the failed reload", func() bool { return received("still bob") })
	if strings.Contains(readOrEmpty(logf), "Client watcher disconnected") {
		t.Error("the subscriber was disconnected by a reload")
	}
}

// TestReloadAppliesOptions edits a broker option and sends SIGHUP: the
// option takes effect without a restart, as in Mosquitto. With
// retain_available false, mosquitto_pub -r is refused; once the line is
// gone and the file reloaded, the same command stores its message.
func TestReloadAppliesOptions(t *testing.T) {
	t.Parallel()
	pub, sub := testutil.NeedTool(t, "mosquitto_pub", "mosquitto-clients"), testutil.NeedTool(t, "mosquitto_sub", "mosquitto-clients")
	dir, port := worldDir(t), freePort(t) // readable by the user midge runs as
	conf := filepath.Join(dir, "m.conf")
	logf := filepath.Join(dir, "midge.log")
	base := "listener " + port + " 127.0.0.1\nallow_anonymous true\nlog_dest file " + logf + "\n"
	if err := os.WriteFile(conf, []byte(base+"retain_available false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := startBinary(t, "-c", conf)
	waitLog(t, logf, "running")
	retain := func() error {
		return exec.Command(pub, "-p", port, "-V", "311", "-q", "1", "-r", "-t", "r/x", "-m", "kept").Run() // MQTT 5 clients drop the flag themselves
	}
	if retain() == nil {
		t.Fatal("a retained PUBLISH was accepted with retain_available false")
	}
	os.WriteFile(conf, []byte(base), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, logf, "Reloading config.")
	testutil.WaitFor(t, "a retained PUBLISH accepted after the reload", func() bool { return retain() == nil })
	out, err := exec.Command(sub, "-p", port, "-t", "r/x", "-C", "1", "-W", "5").Output()
	if err != nil || strings.TrimSpace(string(out)) != "kept" {
		t.Errorf("mosquitto_sub after the reload: %q, %v", out, err)
	}
	if log := readOrEmpty(logf); strings.Contains(log, "retain_available changed") {
		t.Errorf("the log says a restart is needed:\n%s", log)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// getsid returns the session of process pid, from /proc (Linux).
func getsid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 4 {
		return 0, os.ErrInvalid
	}
	return strconv.Atoi(f[3])
}

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }

// A changed plugin_opt_config_file is not applied by a reload (the plugin
// is loaded at start-up only, as Mosquitto's): the reload says so, naming
// both files, and dynamic security keeps the one it has.
func TestReloadNotesDynsecOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logf := filepath.Join(dir, "midge.log")
	first, second := filepath.Join(dir, "first.json"), filepath.Join(dir, "second.json")
	conf := func(file string) string {
		return "log_dest file " + logf + "\nlistener PORT 127.0.0.1\nallow_anonymous false\n" + dynsecConf(t, dir, file)
	}
	b, port := runConf(t, conf(first))
	b.reload() // unchanged: no note
	if log := readOrEmpty(logf); strings.Contains(log, "plugin_opt_config_file") {
		t.Fatalf("a note for an unchanged configuration:\n%s", log)
	}
	os.WriteFile(b.opts.configFile, []byte(strings.ReplaceAll(conf(second), "PORT", port)), 0o644)
	b.reload()
	want := "Warning: plugin_opt_config_file changed from " + first + " to " + second +
		": restart midge to apply it (plugins are loaded at start-up only, as in Mosquitto); dynamic security keeps using " + first
	waitLog(t, logf, want)
	if _, err := os.Stat(second); err == nil {
		t.Error("the reload created the new file")
	}
}
