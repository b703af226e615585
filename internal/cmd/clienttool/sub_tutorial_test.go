package clienttool

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// mqLinks returns a directory where cmd/midge, built once, is linked as
// mosquitto_pub, mosquitto_sub and mosquitto_rr.
func mqLinks(t *testing.T) string {
	t.Helper()
	return testutil.MidgeLinks(t, "mosquitto_pub", "mosquitto_sub", "mosquitto_rr")
}

// mqStartLink runs midge through its link named tool, as a process.
func mqStartLink(t *testing.T, tool, home string, args ...string) *mqRun {
	t.Helper()
	r := &mqRun{name: "midge as " + tool, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*mqWait)
	cmd := exec.CommandContext(ctx, filepath.Join(mqLinks(t), tool), args...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &r.out, &r.err
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	r.stop = func() { cmd.Process.Signal(syscall.SIGINT) }
	r.background(t, cancel, func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
	})
	return r
}

// TestTutorialClients runs the tutorial's two commands (with -p for the test's
// broker) through links named mosquitto_sub and mosquitto_pub to a built
// midge, beside Debian's tools, on both brokers, and compares everything
// they print until the subscribers are interrupted (Ctrl-C).
func TestTutorialClients(t *testing.T) {
	t.Parallel()
	mqLinks(t)
	eachBroker(t, mqBrokers(t, broker.Config{AllowAnonymous: true}), func(t *testing.T, b mqBroker) {
		home := mqHome(t)
		subArgs := []string{"-d", "-h", "localhost", "-t", "test/topic", "-p", b.port}
		pubArgs := []string{"-d", "-h", "localhost", "-t", "test/topic", "-m", "Hello, Mosquitto!", "-p", b.port}
		wantSub := mqStartDebian(t, "mosquitto_sub", home, "", nil, subArgs...)
		gotSub := mqStartLink(t, "mosquitto_sub", home, subArgs...)
		wantSub.out.waitCount(t, "Subscribed (mid: 1)", 1)
		gotSub.out.waitCount(t, "Subscribed (mid: 1)", 1)
		wantPub := mqStartDebian(t, "mosquitto_pub", home, "", nil, pubArgs...)
		wantPub.wait(t)
		gotPub := mqStartLink(t, "mosquitto_pub", home, pubArgs...)
		mqCompare(t, wantPub, gotPub, nil)
		wantSub.out.waitCount(t, "Hello, Mosquitto!\n", 2)
		gotSub.out.waitCount(t, "Hello, Mosquitto!\n", 2)
		wantSub.cmd.Process.Signal(syscall.SIGINT)
		gotSub.stop()
		mqCompare(t, wantSub, gotSub, nil)
	})
}

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }
