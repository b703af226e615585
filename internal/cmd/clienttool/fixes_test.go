package clienttool

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
)

// These tests cover what midge does on purpose differently from Mosquitto
// 2.0.11: 2.1's additions, and 2.0.11's bugs that later releases fixed.

// TestOptionsFileFlag checks 2.1's -o: the named file replaces the default
// options file, and its refusals.
func TestOptionsFileFlag(t *testing.T) {
	t.Parallel()
	b := mqStartMidgeBroker(t, broker.Config{AllowAnonymous: true})
	home := mqHome(t)
	if err := os.MkdirAll(filepath.Join(home, ".config"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, ".config", "mosquitto_pub"), []byte("-q 2\n"), 0o644)
	opts := filepath.Join(home, "opts")
	os.WriteFile(opts, []byte("-d\n-m from -o\n"), 0o644)
	r := mqStartMidge(t, toolPub, home, "", nil, mqArgs(b.port, "-o", opts, "-t", "o/t")...)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.err.String())
	}
	if want := "sending PUBLISH (d0, q0, r0, m1, 'o/t', ... (7 bytes))"; !strings.Contains(r.out.String(), want) {
		t.Errorf("-o file not used instead of ~/.config/mosquitto_pub: got\n%s", r.out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o"}, "Error: -o argument given but no options file specified.\n\n\nUse 'mosquitto_pub --help' to see usage.\n"},
		{[]string{"-o", "a", "-o", "b"}, "Error: Duplicate -o argument given.\n\n\nUse 'mosquitto_pub --help' to see usage.\n"},
	} {
		r := mqStartMidge(t, toolPub, home, "", nil, c.args...)
		if code := r.wait(t); code != 1 || r.err.String() != c.want {
			t.Errorf("%q: exit %d, stderr %q; want 1, %q", c.args, code, r.err.String(), c.want)
		}
	}
}

// TestRetainHandling checks 2.1's --retain-handling for sub: "never" gets
// no retained message and shows its option bits, as -R does in MQTT 5.
func TestRetainHandling(t *testing.T) {
	t.Parallel()
	eachBroker(t, mqBrokers(t, broker.Config{AllowAnonymous: true}), func(t *testing.T, b mqBroker) {
		mqRetain(t, b.port, "rh/a", "kept")
		home := mqHome(t)
		r := mqStartMidge(t, toolSub, home, "", nil, mqArgs(b.port, "-d", "-V", "5", "-v", "-t", "rh/#", "--retain-handling", "never", "-C", "1")...)
		r.out.waitCount(t, "Subscribed (mid: 1)", 1)
		mqPublish(t, b.port, "-t", "rh/b", "-m", "new")
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d: %s", code, r.err.String())
		}
		out := r.out.String()
		if !strings.Contains(out, "Options: 0x20)") || strings.Contains(out, "kept") || !strings.Contains(out, "rh/b new") {
			t.Errorf("--retain-handling never:\n%s", out)
		}
		r = mqStartMidge(t, toolSub, home, "", nil, mqArgs(b.port, "-V", "5", "-v", "-t", "rh/#", "--retain-handling", "new", "-C", "1")...)
		if code := r.wait(t); code != 0 || r.out.String() != "rh/a kept\n" {
			t.Errorf("--retain-handling new: exit %d, %q", code, r.out.String())
		}
		r = mqStartMidge(t, toolSub, home, "", nil, "--retain-handling", "sometimes", "-t", "x")
		if code := r.wait(t); code != 1 || !strings.HasPrefix(r.err.String(), "Error: Unknown value 'sometimes' for --retain-handling.\n\n") {
			t.Errorf("bad value: exit %d, %q", code, r.err.String())
		}
	})
}

// TestRRFixes checks where midge's rr differs from 2.0.11's: it sends -f's
// file and -s's input (2.0.11 sends an empty request) and -R leaves out a
// retained response (2.0.11 prints it).
func TestRRFixes(t *testing.T) {
	t.Parallel()
	b := mqStartMidgeBroker(t, broker.Config{AllowAnonymous: true})
	rrResponder(t, b.port)
	home := mqHome(t)
	file := filepath.Join(home, "request")
	os.WriteFile(file, []byte("from a file"), 0o644)
	mqRetain(t, b.port, "rr/ret", "stale")
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"-f", file, "-e", "rr/f"}, "", "re:from a file\n"},
		{[]string{"-s", "-e", "rr/s"}, "from stdin", "re:from stdin\n"},
		{[]string{"-m", "fresh", "-e", "rr/ret", "-R", "-v"}, "", "rr/ret re:fresh\n"},
	} {
		r := mqStartMidge(t, toolRR, home, "", []byte(c.stdin), mqArgs(b.port, append([]string{"-t", "rr/req"}, c.args...)...)...)
		if code := r.wait(t); code != 0 || r.out.String() != c.want {
			t.Errorf("%q: exit %d, printed %q (stderr %q); want %q", c.args, code, r.out.String(), r.err.String(), c.want)
		}
	}
}

// TestRandomFilter checks that --random-filter prints the percentage asked
// for (2.0.11 prints a tenth of it) and refuses what 2.0.11 refuses.
func TestRandomFilter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		arg  string
		want int // per 10000
	}{{"100", 10000}, {"50", 5000}, {"0.1", 10}, {"1000", 100000}} {
		cfg, err := parseToolArgs(toolSub, []string{"-t", "a", "--random-filter", c.arg}, mqEnv(t.TempDir(), ""))
		if err != nil || cfg.randomFilter != c.want {
			t.Errorf("--random-filter %s: %d, %v; want %d", c.arg, cfg.randomFilter, err, c.want)
		}
	}
	p := &printer{random: 5000, eol: true}
	n := int64(0)
	p.rand = func() int64 { n++; return n * 37 }
	printed := 0
	for range 10000 {
		var b bytes.Buffer
		p.print(&b, nil, &outMessage{payload: []byte("x")})
		if b.Len() > 0 {
			printed++
		}
	}
	if printed < 4500 || printed > 5500 {
		t.Errorf("--random-filter 50 printed %d of 10000", printed)
	}
}
