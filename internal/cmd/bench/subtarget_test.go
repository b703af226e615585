package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// linkBrokers forwards every message a client publishes on from to the
// subscribers of to, in publishing order, as a cluster's forwarding does
// (Observe on one side, Route on the other). It holds up to max messages in
// flight: a message beyond that is dropped, which the bench reports as lost.
func linkBrokers(t *testing.T, from, to *testutil.Broker, max int) {
	t.Helper()
	ch := make(chan *broker.Message, max)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	remove := from.Observe(func(m *broker.Message) {
		if m.Publisher == "" || strings.HasPrefix(m.Topic, "$") {
			return // the broker's own, and what was routed to it
		}
		cp := &broker.Message{Topic: m.Topic, Payload: append([]byte(nil), m.Payload...), QoS: m.QoS}
		select {
		case ch <- cp:
		default:
		}
	})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-ch:
				if err := to.Route(ctx, m); err != nil && ctx.Err() == nil {
					t.Errorf("route: %v", err)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { remove(); cancel(); <-done })
}

func TestBenchPubSubOtherBroker(t *testing.T) {
	t.Parallel()
	a := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	linkBrokers(t, a, b, 10000)

	for _, tc := range []struct {
		name   string
		engine string
		qos    string
	}{{"wire-qos0", "wire", "0"}, {"wire-qos1", "wire", "1"}, {"client-qos1", "client", "1"}} {
		t.Run(tc.name, func(t *testing.T) {
			rep := benchJSON(t, "pubsub", "-L", "mqtt://"+a.Addr, "--sub-L", "mqtt://"+b.Addr, "--engine", tc.engine,
				"-q", tc.qos, "-c", "2", "-S", "2", "-C", "600", "-t", "x/"+tc.name+"/%i", "-d", "30s", "--pid", "none")
			checkAllDelivered(t, rep, 600, 1200)
			if rep.Target != "mqtt://"+a.Addr || rep.SubTarget != "mqtt://"+b.Addr {
				t.Errorf("target %q, sub_target %q", rep.Target, rep.SubTarget)
			}
		})
	}

	// The subscribers really are on the other broker: on one that nothing
	// reaches, the check reports every message lost, and a run in which
	// nothing arrived fails.
	t.Run("unlinked", func(t *testing.T) {
		c := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
		out, errOut, code := runBenchArgs(t, "pubsub", "-L", "mqtt://"+a.Addr, "--sub-L", "mqtt://"+c.Addr,
			"-q", "1", "-C", "50", "-t", "x/unlinked", "-d", "10s", "--drain", "300ms", "--pid", "none")
		for _, want := range []string{"pub mqtt://" + a.Addr + " -> sub mqtt://" + c.Addr, "received    0 of 50", "lost 50"} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s%s", want, out, errOut)
			}
		}
		if want := "none of the 50 messages expected arrived"; code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, error output %q; want 1 and %q", code, errOut, want)
		}
	})
}

func TestBenchSubTargetOptions(t *testing.T) {
	o, err := parseArgs([]string{"pubsub", "-h", "127.0.0.1", "-p", "1884", "--sub-L", "mqtt://127.0.0.1:1885", "-u", "u", "-P", "p"})
	if err != nil {
		t.Fatal(err)
	}
	if o.target.addr != "127.0.0.1:1884" || o.subTarget == nil || o.subTarget.addr != "127.0.0.1:1885" || o.engine != "wire" {
		t.Errorf("targets %+v %+v, engine %s", o.target, o.subTarget, o.engine)
	}
	if d := newSubDialer(o); d.t != o.subTarget {
		t.Errorf("subscribers dial %+v", d.t)
	}
	if d := newDialer(o); d.t != &o.target {
		t.Errorf("publishers dial %+v", d.t)
	}
	// Without --sub-L the subscribers dial the target.
	o, err = parseArgs([]string{"pubsub", "-p", "1884"})
	if err != nil {
		t.Fatal(err)
	}
	if d := newSubDialer(o); d.t != &o.target {
		t.Errorf("subscribers dial %+v without --sub-L", d.t)
	}
	// A WebSocket subscriber side picks the client engine.
	o, err = parseArgs([]string{"pubsub", "--sub-L", "ws://127.0.0.1:8080/mqtt"})
	if err != nil {
		t.Fatal(err)
	}
	if o.engine != "client" {
		t.Errorf("engine %s with a ws:// --sub-L", o.engine)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pub", "--sub-L", "mqtt://127.0.0.1:1"}, "--sub-L is for pubsub"},
		{[]string{"sub", "--sub-L", "mqtt://127.0.0.1:1"}, "--sub-L is for pubsub"},
		{[]string{"pubsub", "--sub-L", "http://127.0.0.1:1"}, "--sub-L \"http://127.0.0.1:1\": the scheme"},
		{[]string{"pubsub", "--sub-L", "mqtt://:1"}, "no host"},
		{[]string{"pubsub", "--sub-L", "ws://127.0.0.1:1", "--engine", "wire"}, "WebSocket needs --engine client"},
		{[]string{"pubsub", "-u", "a", "--sub-L", "mqtt://b@127.0.0.1:1"}, "leave them out of --sub-L"},
	} {
		if _, err := parseArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}

	// A remote --sub-L is refused like a remote target.
	o, err = parseArgs([]string{"pubsub", "-h", "127.0.0.1", "--sub-L", "mqtt://192.0.2.1:1883"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.checkNetwork(context.Background()); err == nil || !strings.Contains(err.Error(), "192.0.2.1") {
		t.Errorf("remote --sub-L: %v", err)
	}
}
