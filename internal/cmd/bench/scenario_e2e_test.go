package bench

import (
	"os"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestBenchQueue: 30 offline sessions, 7 messages each, all received when
// they come back; the broker (this test process) is found by its port.
func TestBenchQueue(t *testing.T) {
	t.Parallel()
	srv := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rep := benchJSON(t, "queue", "-L", "mqtt://"+srv.Addr, "-c", "30", "-C", "7", "--hold", "0", "-d", "30s")
	if rep.Publish == nil || rep.Publish.Sent != 7 || rep.Publish.Acked != 7 {
		t.Errorf("publish: %+v", rep.Publish)
	}
	if r := rep.Receive; r == nil || r.Expected != 210 || r.Received != 210 || r.Lost != 0 {
		t.Errorf("receive: %+v", r)
	}
	f := rep.Figures
	if f["sessions"] != 30 || f["messages_per_session"] != 7 {
		t.Errorf("figures: %v", f)
	}
	if _, ok := f["bytes_per_queued_msg"]; !ok {
		t.Errorf("no bytes per queued message: %v", f)
	}
	if rep.Broker == nil || rep.Broker.PID != os.Getpid() {
		t.Errorf("broker (found by its port, this process): %+v", rep.Broker)
	}
}

// TestBenchStorm: 50 sessions with 3 messages each come back at once,
// without and with a (here stand-in) restart command.
func TestBenchStorm(t *testing.T) {
	t.Parallel()
	srv := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"outage", nil},
		{"restart-command", []string{"--restart", "echo restarting >&2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"storm", "-L", "mqtt://" + srv.Addr, "-c", "50", "-C", "3", "-t", "bench/storm/" + tc.name, "-d", "30s"}, tc.extra...)
			rep := benchJSON(t, args...)
			f := rep.Figures
			if f["clients"] != 50 || f["connected"] != 50 || f["session_present"] != 50 || f["seconds_all_delivered"] <= 0 || f["seconds_all_connected"] > f["seconds_all_delivered"] {
				t.Errorf("figures: %v", f)
			}
			if r := rep.Receive; r == nil || r.Expected != 150 || r.Received != 150 {
				t.Errorf("receive: %+v", r)
			}
		})
	}
	// A failing restart command fails the run.
	_, errOut, code := runBenchArgs(t, "storm", "-L", "mqtt://"+srv.Addr, "-c", "2", "-t", "bench/storm/fail", "--restart", "exit 3")
	if code != 1 || !strings.Contains(errOut, "--restart") {
		t.Errorf("failing restart: exit %d, %s", code, errOut)
	}
}

// TestBenchFilters: 3,000 distinct filters on 3 connections, 2,000
// publishes over random topics, deliveries within what the filters allow.
func TestBenchFilters(t *testing.T) {
	t.Parallel()
	srv := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	for _, qos := range []string{"0", "1"} {
		t.Run("qos"+qos, func(t *testing.T) {
			t.Parallel()
			rep := benchJSON(t, "filters", "-L", "mqtt://"+srv.Addr, "-q", qos, "--filters", "3000", "-S", "3", "-c", "2", "-C", "2000",
				"-t", "bench/f"+qos, "-d", "30s")
			if p := rep.Publish; p == nil || p.Sent != 2000 || qos == "1" && p.Acked != 2000 {
				t.Errorf("publish: %+v", p)
			}
			f := rep.Figures
			if f["filters"] != 3000 || f["deliveries_min_expected"] <= 0 || f["matches_per_publish"] <= 0 {
				t.Errorf("figures: %v", f)
			}
			if r := rep.Receive; r == nil || float64(r.Received) < f["deliveries_min_expected"] || float64(r.Received) > f["deliveries_max_expected"] {
				t.Errorf("receive %+v, figures %v", r, f)
			}
		})
	}
}

// TestBenchFilterSet: the generated filters are distinct, valid, of every
// family, and matches counts them like a brute-force matcher.
func TestBenchFilterSet(t *testing.T) {
	fs := makeFilters("p", 5000, 4, 7)
	if len(fs.owner) != 5000 {
		t.Fatalf("%d filters", len(fs.owner))
	}
	all := map[string]bool{}
	plusN, hashN := 0, 0
	for _, fl := range fs.byConn {
		for _, f := range fl {
			if all[f] {
				t.Fatalf("duplicate %q", f)
			}
			all[f] = true
			plusN += strings.Count(f, "+")
			hashN += strings.Count(f, "#")
		}
	}
	if plusN == 0 || hashN == 0 {
		t.Errorf("no wildcards: %d +, %d #", plusN, hashN)
	}
	for a := int8(0); a < 3; a++ {
		for b := int8(0); b < filterWidth; b += 5 {
			for c := int8(0); c < filterWidth; c += 3 {
				for d := int8(0); d < filterWidth; d += 7 {
					topic := fkey{a, b, c, d}.String()
					want := 0
					for f := range all {
						if matchFilter(strings.TrimPrefix(f, "p/"), topic) {
							want++
						}
					}
					if got, _ := fs.matches(a, b, c, d); got != want {
						t.Fatalf("%s: %d matches, brute force %d", topic, got, want)
					}
				}
			}
		}
	}
}

// matchFilter is a plain MQTT matcher for the test.
func matchFilter(filter, topic string) bool {
	f, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(tl) || l != "+" && l != tl[i] {
			return false
		}
	}
	return len(f) == len(tl)
}

// TestBenchFDLimit: a queue run holds --concurrency connections at a time,
// so a million sessions need no million descriptors; a million idle
// connections do, and are refused with a clear message.
func TestBenchFDLimit(t *testing.T) {
	o, err := parseArgs([]string{"queue", "-c", "1000000", "--concurrency", "64"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFDLimit(o); err != nil {
		t.Errorf("queue of a million sessions, 64 at a time: %v", err)
	}
	o, err = parseArgs([]string{"conn", "-c", "100000000"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFDLimit(o); err == nil || !strings.Contains(err.Error(), "open files") {
		t.Errorf("100 million connections: %v, want a refusal naming the open-file limit", err)
	}
}
