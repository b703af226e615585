package clienttool

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pubGolden is a mosquitto_pub command line run by Debian's mosquitto_pub
// and then by midge's pub against the same broker, while a subscriber
// records what each published.
type pubGolden struct {
	name  string
	args  []string // without -h and -p
	stdin string
	n     int // messages the subscriber sees from one run
}

// pidPrefix hides the process id -I appends.
var pidPrefix = regexp.MustCompile(`pre[0-9]+`)

// TestPubGolden compares Debian's mosquitto_pub and midge's pub: what they
// print (with -d), their exit statuses, and what a subscriber receives
// from them, on Debian's broker and midge's.
func TestPubGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "payload.bin")
	if err := os.WriteFile(file, []byte("binary\x00\x01\xff\nfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	props := []string{"-V", "5", "-D", "publish", "user-property", "k1", "v1", "-D", "publish", "content-type", "text/plain",
		"-D", "publish", "user-property", "k2", "v 2", "-D", "publish", "correlation-data", "cd", "-D", "publish", "response-topic", "re/sp",
		"-D", "publish", "payload-format-indicator", "1", "-D", "publish", "message-expiry-interval", "3600"}
	cases := []pubGolden{
		{name: "tutorial", args: []string{"-d", "-t", "test/topic", "-m", "Hello, Mosquitto!"}, n: 1},
		{name: "qos1", args: []string{"-d", "-t", "p/a", "-m", "one", "-q", "1"}, n: 1},
		{name: "qos2-retain", args: []string{"-d", "-t", "p/a", "-m", "two", "-q", "2", "-r", "-i", "fixed-id"}, n: 1},
		{name: "v5-qos2", args: []string{"-d", "-t", "p/a", "-m", "two", "-q", "2", "-V", "5"}, n: 1},
		{name: "file", args: []string{"-d", "-t", "p/f", "-f", file, "-q", "1"}, n: 1},
		{name: "empty-file", args: []string{"-d", "-t", "p/f", "-f", "/dev/null"}, n: 1},
		// Without -d: how PUBACKs interleave with the PUBLISHes of further
		// lines depends on timing, in Mosquitto (two threads) as in midge.
		{name: "lines", args: []string{"-t", "p/l", "-l", "-q", "1"}, stdin: "a\nb b\n\nlast", n: 4},
		{name: "lines-qos0", args: []string{"-d", "-t", "p/l", "-l"}, stdin: "x\r\ny\n", n: 2},
		{name: "lines-empty", args: []string{"-d", "-t", "p/l", "-l", "-q", "2"}, stdin: "", n: 0},
		{name: "stdin-file", args: []string{"-d", "-t", "p/s", "-s", "-q", "2"}, stdin: "multi\nline\n", n: 1},
		{name: "null-retained", args: []string{"-d", "-t", "p/n", "-n", "-r"}, n: 1},
		{name: "empty-message", args: []string{"-t", "p/e", "-m", ""}, n: 1},
		{name: "properties", args: append([]string{"-d", "-t", "p/p", "-m", "props", "-q", "1"}, props...), n: 1},
		{name: "repeat", args: []string{"-d", "-t", "p/r", "-m", "again", "--repeat", "3", "--repeat-delay", "0.05", "-q", "1"}, n: 3},
		{name: "repeat-null", args: []string{"-d", "-t", "p/r", "-n", "--repeat", "2"}, n: 2},
		{name: "topic-alias", args: []string{"-d", "-t", "p/t", "-m", "x", "-V", "5", "-D", "publish", "topic-alias", "1", "--repeat", "3"}, n: 3},
		{name: "topic-alias-lines", args: []string{"-d", "-t", "p/t", "-l", "-V", "5", "-D", "publish", "topic-alias", "2"}, stdin: "1\n2\n3\n", n: 3},
		{name: "mqttv31", args: []string{"-d", "-t", "p/3", "-m", "x", "-V", "31", "-q", "1"}, n: 1},
		{name: "id-prefix", args: []string{"-d", "-t", "p/i", "-m", "x", "-I", "pre"}, n: 1},
		{name: "will-and-auth", args: []string{"-d", "-t", "p/w", "-m", "x", "--will-topic", "w", "--will-payload", "bye", "--will-qos", "1", "--will-retain", "-u", "user", "-P", "pw", "-k", "30"}, n: 1},
		{name: "v5-will-props", args: []string{"-d", "-t", "p/w", "-m", "x", "-V", "5", "--will-topic", "w", "-D", "will", "will-delay-interval", "5",
			"-D", "connect", "user-property", "a", "b", "-D", "disconnect", "session-expiry-interval", "0", "-x", "30", "-i", "v5id"}, n: 1},
		{name: "empty-topic", args: []string{"-d", "-t", "", "-m", "x"}, n: 0},
		{name: "v311-publish-properties", args: []string{"-d", "-t", "p/x", "-m", "x", "-D", "publish", "content-type", "c", "-V", "311"}, n: 0},
		{name: "quiet", args: []string{"--quiet", "-t", "p/q", "-m", "x", "-q", "1"}, n: 1},
		{name: "url", args: []string{"-d", "-L", "mqtt://127.0.0.1:PORT/p/u", "-m", "x"}, n: 1},
		{name: "bind", args: []string{"-d", "-A", "127.0.0.1", "-t", "p/b", "-m", "x"}, n: 1},
	}
	goldenOnBrokers(t, cases, func(c pubGolden) string { return c.name }, runPubGolden)
}

func runPubGolden(t *testing.T, c pubGolden, b mqBroker) {
	home := mqHome(t)
	obs := mqStartDebian(t, "mosquitto_sub", home, "", nil, mqArgs(b.port, "-d", "-V", "5", "-t", "#", "-q", "2",
		"-F", "MSG %t q%q r%r l%l F%F E%E C%C R%R P%P D%D x%x END")...)
	obs.out.waitCount(t, "Subscribed (mid: 1)", 1)
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = strings.ReplaceAll(a, "PORT", b.port)
	}
	args = mqArgs(b.port, args...)
	want := mqStartDebian(t, "mosquitto_pub", home, "", []byte(c.stdin), args...)
	want.wait(t)
	obs.out.waitCount(t, " END\n", c.n)
	got := mqStartMidge(t, toolPub, home, "", []byte(c.stdin), args...)
	got.wait(t)
	obs.out.waitCount(t, " END\n", 2*c.n)
	mqCompare(t, want, got, func(s string) string { return pidPrefix.ReplaceAllString(mqMask(s), "pre<PID>") })
	var msgs []string
	for _, l := range strings.Split(obs.out.String(), "\n") {
		if strings.HasPrefix(l, "MSG ") {
			msgs = append(msgs, l)
		}
	}
	if len(msgs) != 2*c.n {
		t.Fatalf("subscriber saw %d messages, want %d:\n%s", len(msgs), 2*c.n, obs.out.String())
	}
	if w, g := strings.Join(msgs[:c.n], "\n"), strings.Join(msgs[c.n:], "\n"); w != g {
		t.Errorf("what was published differs:\n--- debian\n%s\n--- midge\n%s", w, g)
	}
	if t.Failed() {
		t.Logf("args: %q", args)
	}
}
