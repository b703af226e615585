package crashtest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestBridgeCrashKeepsAcknowledgedMessages runs two brokers as child
// processes, both with persistence: an edge broker with a bridge (QoS 2,
// local_cleansession false) to a central one. A QoS 1 and a QoS 2
// publisher send numbered messages to the edge while the central broker
// goes up and down (killed with SIGKILL every other cycle) and the edge is
// killed with SIGKILL at a random moment of every cycle. Persistent
// subscribers on the central broker (QoS 1 and QoS 2) must receive every
// message the edge acknowledged, and no QoS 2 message twice.
// MIDGE_CRASH_CYCLES sets the number of cycles (default 20);
// MIDGE_CRASH_SEED repeats a run.
// MIDGE_CRASH_CENTRAL_UP=1 keeps the central broker up,
// MIDGE_CRASH_EDGE_UP=1 the edge, MIDGE_CRASH_CENTRAL_TERM=1 stops the
// central broker with SIGTERM before killing it.
func TestBridgeCrashKeepsAcknowledgedMessages(t *testing.T) {
	cycles := envInt(t, "MIDGE_CRASH_CYCLES", 20)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MIDGE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MIDGE_CRASH_SEED), %d cycles", seed, cycles)
	rng := rand.New(rand.NewPCG(seed, seed))

	bin := buildMidge(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	edgeDir, centralDir := t.TempDir(), t.TempDir()
	edgePort, centralPort := testutil.FreePort(t), testutil.FreePort(t)
	edgeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(edgePort))
	centralAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(centralPort))
	common := "allow_anonymous true\npersistence true\nuser %s\nlog_dest stderr\nlog_type error\nlog_type warning\nmax_queued_messages 1000000\npersistence_location %s\n"
	centralConf := filepath.Join(centralDir, "central.conf")
	edgeConf := filepath.Join(edgeDir, "edge.conf")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(centralConf, fmt.Sprintf("listener %d 127.0.0.1\n"+common, centralPort, u.Username, centralDir))
	write(edgeConf, fmt.Sprintf("listener %d 127.0.0.1\n"+common+
		"connection central\naddress %s\nremote_clientid edge-bridge\nrestart_timeout 1\ntopic crash/# out 2\n",
		edgePort, u.Username, edgeDir, centralAddr))

	pubs := []*publisher{{id: "pub1", qos: 1}, {id: "pub2", qos: 2}}
	subs := []*subscriber{{id: "sub1", qos: 1, every: 1}, {id: "sub2", qos: 2, every: 1}}
	for _, s := range subs {
		s.counts = make(map[string]int)
		s.await = make(map[uint16]bool)
	}
	for _, p := range pubs {
		p.inflight = make(map[uint16]int)
		p.released = make(map[uint16]bool)
		p.acked = make(map[int]bool)
	}

	var central, edge *broker
	var events []string
	centralKills, edgeKills := 0, 0
	for cycle := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		up := cycle%2 == 0 || os.Getenv("MIDGE_CRASH_CENTRAL_UP") != ""
		killEdge := os.Getenv("MIDGE_CRASH_EDGE_UP") == ""
		if up && central == nil {
			central = mustLaunch(t, bin, centralConf, centralAddr)
		}
		if central != nil {
			for _, s := range subs {
				s.newPhase()
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						s.run(ctx, centralAddr, "")
						pause(ctx)
					}
				}()
			}
			if cycle == 0 {
				for _, s := range subs {
					if !s.waitSubscribed(ctx) {
						t.Fatalf("%s did not subscribe\ncentral log:\n%s", s.id, central.log())
					}
				}
			}
		}
		if edge == nil {
			edge = mustLaunch(t, bin, edgeConf, edgeAddr)
		}
		for _, p := range pubs {
			wg.Add(1)
			go func() { defer wg.Done(); p.run(ctx, edgeAddr, false) }()
		}
		// The crash comes at a random moment: this sleep is the workload's
		// length, not a wait for a condition.
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		if killEdge {
			edge.kill()
			edge = nil
			edgeKills++
		}
		if !up && central != nil {
			if os.Getenv("MIDGE_CRASH_CENTRAL_TERM") != "" {
				central.stop()
			}
			central.kill()
			central = nil
			centralKills++
		}
		cancel()
		wg.Wait()
		for _, p := range pubs {
			p.mu.Lock()
			events = append(events, fmt.Sprintf("cycle %d (central %v): %s published up to %d", cycle, up, p.id, p.next))
			p.mu.Unlock()
		}
	}

	// A last run without a crash: both brokers up, the publishers finish
	// their flows and send an end marker, the subscribers read up to both.
	if central == nil {
		central = mustLaunch(t, bin, centralConf, centralAddr)
	}
	defer central.kill()
	if edge == nil {
		edge = mustLaunch(t, bin, edgeConf, edgeAddr)
	}
	defer edge.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range subs {
		s.newPhase()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !s.ended(2) && ctx.Err() == nil {
				s.run(ctx, centralAddr, "pub1,pub2")
				pause(ctx)
			}
		}()
	}
	for _, s := range subs {
		if !s.waitSubscribed(ctx) {
			t.Fatalf("final drain: %s did not subscribe\ncentral log:\n%s", s.id, central.log())
		}
	}
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !p.isEnded() && ctx.Err() == nil {
				p.run(ctx, edgeAddr, true)
				pause(ctx)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("final drain did not finish: %v\nedge log:\n%s\ncentral log:\n%s", ctx.Err(), edge.log(), central.log())
	}

	// The end markers may overtake messages the central broker resends to
	// a subscriber after its restart: read on for a moment.
	lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Second)
	var lwg sync.WaitGroup
	for _, s := range subs {
		s.newPhase()
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			for lctx.Err() == nil {
				s.run(lctx, centralAddr, "")
				pause(lctx)
			}
		}()
	}
	lwg.Wait()
	lcancel()

	total, dups := 0, 0
	for _, p := range pubs {
		total += len(p.acked)
		for _, s := range subs {
			var lost []int
			for seq := range p.acked {
				if s.counts[key(p.id, seq)] == 0 {
					lost = append(lost, seq)
				}
			}
			if len(lost) > 0 {
				slices.Sort(lost)
				t.Errorf("%s lost %d of the %d messages the edge acknowledged to %s: %v", s.id, len(lost), len(p.acked), p.id, ranges(lost))
			}
		}
	}
	for _, s := range subs {
		if s.qos < 2 {
			continue
		}
		for k, n := range s.counts {
			if strings.HasPrefix(k, "pub2:") && n > 1 {
				dups++
				t.Errorf("%s received QoS 2 message %s %d times", s.id, k, n)
			}
		}
	}
	if t.Failed() {
		t.Log(strings.Join(events, "\n"))
		t.Log("edge log:\n" + edge.log())
		t.Log("central log:\n" + central.log())
	}
	t.Logf("%d cycles (edge killed %d times, central stopped %d times): %d acknowledged messages, each checked at %d subscriptions on the central broker; %d QoS 2 duplicates",
		cycles, edgeKills, centralKills, total, len(subs), dups)
}

// mustLaunch starts a broker for conf, listening at addr, or fails the test.
func mustLaunch(t *testing.T, bin, conf, addr string) *broker {
	t.Helper()
	b, err := launch(bin, conf, addr, nil)
	if err != nil {
		t.Fatalf("broker %s did not start: %v\n%s", conf, err, b.log())
	}
	return b
}
