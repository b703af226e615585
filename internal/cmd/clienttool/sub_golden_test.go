package clienttool

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
)

// subGolden is a mosquitto_sub command line run by Debian's mosquitto_sub
// and midge's sub side by side against the same broker.
type subGolden struct {
	name string
	args []string // without -h and -p
	// retained are mosquitto_pub command lines run before the subscribers
	// start; live are run once both have printed "Subscribed (mid: 1)"
	// (so their args need -d).
	retained, live [][]string
	// sequential runs Debian's subscriber to its end first, then publishes
	// retained again and runs midge's: for runs that change the broker's
	// state (--remove-retained).
	sequential bool
	mask       func(string) string
	// fixed, if set, is what midge does where Mosquitto 2.0.11 has a bug:
	// midge's exit status and standard error (standard output still matches).
	fixed *fixedRun
}

// fixedRun is midge's exit status and standard error where they differ
// from Mosquitto's on purpose.
type fixedRun struct {
	code   int
	stderr string
}

// digits hides every digit, for time formats.
var digits = regexp.MustCompile(`[0-9]`)

func subGoldens() []subGolden {
	props := []string{"-V", "5", "-D", "publish", "user-property", "k1", "v1", "-D", "publish", "content-type", "text/plain",
		"-D", "publish", "user-property", "k2", "v 2", "-D", "publish", "correlation-data", "cd", "-D", "publish", "response-topic", "re/sp",
		"-D", "publish", "payload-format-indicator", "1", "-D", "publish", "message-expiry-interval", "3600"}
	withProps := func(args ...string) []string { return append(append([]string{}, args...), props...) }
	return []subGolden{
		{name: "tutorial", args: []string{"-d", "-t", "test/topic", "-C", "1"},
			live: [][]string{{"-t", "test/topic", "-m", "Hello, Mosquitto!"}}},
		{name: "verbose", args: []string{"-d", "-v", "-t", "g/#", "-C", "5"},
			live: [][]string{{"-t", "g/a", "-m", "hello"}, {"-t", "g/b", "-n"}, {"-t", "g/c", "-m", "x y", "-q", "1"},
				{"-t", "g/d", "-m", "z", "-q", "2"}, {"-t", "g/主题", "-m", "中文"}}},
		{name: "payload-only", args: []string{"-d", "-t", "g/#", "-C", "3", "-q", "2"},
			live: [][]string{{"-t", "g/a", "-n"}, {"-t", "g/c", "-m", "two", "-q", "1"}, {"-t", "g/b", "-m", "one", "-q", "2"}}}, // QoS 2 last, as in json
		{name: "no-eol", args: []string{"-d", "-N", "-v", "-t", "g/#", "-C", "3"},
			live: [][]string{{"-t", "g/a", "-m", "a"}, {"-t", "g/b", "-n"}, {"-t", "g/c", "-m", "c"}}},
		{name: "format-fields", args: []string{"-d", "-V", "5", "-t", "g/#", "-C", "3", "-q", "1", "-F",
			`%t|%p|%q|%r|%l|%m|%x|%X|%%|%10t|%-10t|%.2t|%5.1t|%05l|%-5l|%010p|%-10p|%-p|%10x|%3X|%A|%5A|%C|%8C|%D|%E|%05E|%F|%-3F|%P|%R|%-8R|%S|%4S\t\\\a\v\r\0`},
			live: [][]string{withProps("-t", "g/a", "-m", "payload", "-q", "1"), {"-t", "g/b", "-n", "-V", "5"},
				{"-t", "g/c", "-m", "\x01\xff bin", "-q", "2"}}},
		{name: "json", args: []string{"-d", "-V", "5", "-t", "g/#", "-C", "5", "-q", "2", "-F", "%j",
			"-D", "subscribe", "subscription-identifier", "7"},
			live: [][]string{withProps("-t", "g/a", "-m", "hello \"w\" \\ \n\tx", "-q", "1"), {"-t", "g/b", "-n"},
				{"-t", "g/c", "-m", "a\x01b\xc3\xa9\x7f"}, withProps("-t", "g/e", "-m", "p"),
				// The QoS 2 message comes last: a message published after it
				// may reach the subscriber before or after the broker's PUBREL.
				{"-t", "g/\"q\"", "-m", "{}", "-q", "2"}}},
		{name: "json-payload", args: []string{"-d", "-V", "5", "-t", "g/#", "-C", "6", "-F", "%J"},
			live: [][]string{
				{"-t", "g/a", "-m", `{"a": [1, 2.50, true, null, "x\u00e9\ud83d\ude00", 1e300, -0.0, 12345678901234567890, 0.1, 1.5e-7, {}, []], "b":{}, "c":{"d":{"e":1}}, "a":2}`},
				{"-t", "g/b", "-m", "notjson"}, {"-t", "g/c", "-n", "-D", "publish", "user-property", "a", "b"},
				{"-t", "g/d", "-m", "  \"str\\/\\b\\f\\n\\r\\t\"  "}, {"-t", "g/e", "-m", "[01, -1.5E+3, 1e-400]"},
				{"-t", "g/f", "-m", "[\"\\ud800\"]"}}},
		{name: "json-pretty", args: []string{"-d", "-V", "5", "-t", "g/#", "-C", "3", "--pretty", "-F", "%J\n%j",
			"-D", "subscribe", "subscription-identifier", "3"},
			live: [][]string{withProps("-t", "g/a", "-m", `{"a":[1,{"b":[]},{}],"c":{"d":{}}}`),
				{"-t", "g/b", "-m", "[]", "-q", "1"}, {"-t", "g/c", "-m", "7"}}},
		{name: "time", args: []string{"-d", "-t", "g/#", "-C", "1", "-F", `@Y-@m-@dT@H:@M:@S@z @N @@ %U %I %20I %.4I @a @b @j \e[1m`},
			live: [][]string{{"-t", "g/a", "-m", "t"}}, mask: func(s string) string { return digits.ReplaceAllString(mqMask(s), "N") }},
		{name: "filter-out", args: []string{"-d", "-v", "-t", "g/#", "-T", "g/b", "-T", "g/c/#", "-T", "+/+/+/e", "-C", "2"},
			live: [][]string{{"-t", "g/b", "-m", "1"}, {"-t", "g/c", "-m", "2"}, {"-t", "g/c/d", "-m", "3"},
				{"-t", "g/c/d/e", "-m", "4"}, {"-t", "g/a", "-m", "5"}, {"-t", "g/x/y/e", "-m", "6"}, {"-t", "g/f", "-m", "7"}}},
		{name: "no-stale", args: []string{"-d", "-v", "-t", "g/#", "-R", "-C", "1"},
			retained: [][]string{{"-t", "g/old", "-m", "stale", "-r"}},
			live:     [][]string{{"-t", "g/new", "-m", "fresh"}}},
		{name: "no-stale-v5", args: []string{"-d", "-v", "-V", "5", "-t", "g/#", "-R", "-C", "1"},
			retained: [][]string{{"-t", "g/old", "-m", "stale", "-r"}},
			live:     [][]string{{"-t", "g/new", "-m", "fresh"}}},
		{name: "retained-only", args: []string{"-d", "-v", "-t", "g/#", "--retained-only"},
			retained: [][]string{{"-t", "g/r1", "-m", "one", "-r"}, {"-t", "g/r2", "-m", "two", "-r", "-q", "1"}},
			live:     [][]string{{"-t", "g/x", "-m", "fresh"}}},
		{name: "retained-count", args: []string{"-v", "-t", "g/#", "-C", "2", "-F", "%t %p %r"},
			retained: [][]string{{"-t", "g/r1", "-m", "one", "-r"}, {"-t", "g/r2", "-m", "two", "-r"}}},
		// Mosquitto 2.0.11 never disconnects once it has cleared a retained
		// message (it has no publish callback): only -W ends it. midge
		// disconnects once the clearing PUBLISH is acknowledged.
		{name: "remove-retained", args: []string{"-d", "-v", "-t", "g/#", "--remove-retained", "-C", "1", "-W", "2"},
			retained: [][]string{{"-t", "g/r1", "-m", "one", "-r"}}, sequential: true, fixed: &fixedRun{code: 0}},
		// The cleared message comes back, not retained, which ends
		// --retained-only: midge disconnects, Mosquitto 2.0.11 waits for -W.
		{name: "remove-retained-only", args: []string{"-d", "-v", "-t", "g/#", "--remove-retained", "--retained-only", "-W", "2"},
			retained: [][]string{{"-t", "g/r1", "-m", "one", "-r"}, {"-t", "g/r2", "-m", "two", "-r"}}, sequential: true,
			fixed: &fixedRun{code: 0}},
		{name: "exit-after-subscribe", args: []string{"-d", "-E", "-t", "a", "-t", "b/+", "-q", "1"}},
		{name: "exit-after-subscribe-v5", args: []string{"-d", "-E", "-V", "5", "-t", "a", "-t", "b/#", "-q", "2", "--retain-as-published", "-R"}},
		{name: "unsubscribe", args: []string{"-d", "-v", "-t", "g/#", "-U", "h/#", "-U", "i", "-C", "1"},
			live: [][]string{{"-t", "g/a", "-m", "x"}}},
		{name: "subscription-identifier", args: []string{"-d", "-V", "5", "-t", "g/#", "-C", "1", "-F", "%S %t", "-D", "subscribe", "subscription-identifier", "42",
			"-D", "subscribe", "user-property", "a", "b"},
			live: [][]string{{"-t", "g/a", "-m", "x"}}},
		{name: "mqttv31", args: []string{"-d", "-V", "mqttv31", "-t", "g/#", "-C", "2", "-q", "1"},
			live: [][]string{{"-t", "g/a", "-m", "x", "-q", "1"}, {"-t", "g/b", "-m", "y", "-q", "2"}}},
		{name: "timeout", args: []string{"-d", "-W", "1", "-t", "g/#"}},
		{name: "timeout-v5", args: []string{"-d", "-W", "1", "-t", "g/#", "-V", "5", "-v", "-C", "5"},
			live: [][]string{{"-t", "g/a", "-m", "x"}}},
		{name: "quiet", args: []string{"-d", "--quiet", "-t", "g/#", "-C", "2", "-F", "%J"},
			retained: [][]string{{"-t", "g/a", "-m", "not json", "-r"}, {"-t", "g/b", "-m", "[1]", "-r"}}},
	}
}

// TestSubGolden runs each subGolden against Debian's mosquitto and midge's
// broker and compares what the two subscribers print, their exit statuses
// included, with client ids and timestamps masked.
func TestSubGolden(t *testing.T) {
	t.Parallel()
	goldenOnBrokers(t, subGoldens(), func(g subGolden) string { return g.name }, runSubGolden)
}

func runSubGolden(t *testing.T, g subGolden, b mqBroker) {
	home := mqHome(t)
	args := mqArgs(b.port, g.args...)
	for _, r := range g.retained {
		mqPublishRetained(t, b.port, r...)
	}
	want := mqStartDebian(t, "mosquitto_sub", home, "", nil, args...)
	var got *mqRun
	if g.sequential {
		waitLive(t, want, g.live, b.port)
		want.wait(t)
		for _, r := range g.retained {
			mqPublishRetained(t, b.port, r...)
		}
		got = mqStartMidge(t, toolSub, home, "", nil, args...)
		waitLive(t, got, g.live, b.port)
	} else {
		got = mqStartMidge(t, toolSub, home, "", nil, args...)
		if len(g.live) > 0 {
			want.out.waitCount(t, "Subscribed (mid: 1)", 1)
			waitLive(t, got, g.live, b.port)
		}
	}
	mask := g.mask
	if mask == nil {
		mask = mqMask
	}
	if g.fixed != nil {
		want.wait(t)
		want.code = g.fixed.code
		want.err.buf.Reset()
		want.err.buf.WriteString(g.fixed.stderr)
	}
	mqCompare(t, want, got, mask)
	if t.Failed() {
		t.Logf("args: %s", strings.Join(args, " "))
	}
}

// waitLive waits for the subscriber to subscribe and publishes live.
func waitLive(t *testing.T, r *mqRun, live [][]string, port string) {
	t.Helper()
	if len(live) == 0 {
		return
	}
	r.out.waitCount(t, "Subscribed (mid: 1)", 1)
	for _, l := range live {
		mqPublish(t, port, l...)
	}
}

// TestSubTimeoutOrder: with -d, when -W fires, mosquitto_sub writes the
// "sending DISCONNECT" debug line (standard output) and then "Timed out"
// (standard error), and so does midge's sub. (Through a pipe without
// stdbuf, C stdio holds Mosquitto's standard output back until exit, so
// "Timed out" shows first there: docs/mosquitto-compat.md.) Debian's tool
// writes both streams to one pipe here, so their order is the order of its
// writes.
func TestSubTimeoutOrder(t *testing.T) {
	t.Parallel()
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Fatalf("stdbuf is missing: %s", mqInstallHint)
	}
	for _, v := range []string{"311", "5"} {
		t.Run("v"+v, func(t *testing.T) {
			t.Parallel()
			b := mqStartMidgeBroker(t, broker.Config{AllowAnonymous: true})
			args := mqArgs(b.port, "-d", "-W", "1", "-t", "g/#", "-V", v)
			var want mqOutput
			cmd := exec.Command(stdbuf, append([]string{"-o0", "-e0", mqDebian(t, "mosquitto_sub")}, args...)...)
			cmd.Env = []string{"HOME=" + mqHome(t), "PATH=/usr/bin:/bin", "LC_ALL=C"}
			cmd.Stdout, cmd.Stderr = &want, &want // one pipe: the order of the writes
			cmd.Run()
			got := mqStartMidge(t, toolSub, mqHome(t), "", nil, args...)
			got.wait(t)
			if w, g := mqMask(want.String()), mqMask(got.both.String()); w != g {
				t.Errorf("interleaved output differs:\n--- debian\n%s--- midge\n%s", w, g)
			}
		})
	}
}
