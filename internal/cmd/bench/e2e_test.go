package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// runBenchArgs runs "midge bench args..." and returns its output, error
// output and exit status.
func runBenchArgs(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), "midge bench", args, base.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), code
}

// benchJSON runs midge bench with --json and decodes the report; the run
// must succeed.
func benchJSON(t *testing.T, args ...string) *report {
	t.Helper()
	out, errOut, code := runBenchArgs(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("midge bench %s: exit %d\n%s%s", strings.Join(args, " "), code, errOut, out)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return &rep
}

// checkAllDelivered checks a pubsub report: everything sent was received
// once, in order, and acknowledged.
func checkAllDelivered(t *testing.T, rep *report, sent, expected int64) {
	t.Helper()
	p, r := rep.Publish, rep.Receive
	if p == nil || r == nil {
		t.Fatalf("report without publish or receive: %+v", rep)
	}
	if p.Sent != sent || p.Unsent != 0 {
		t.Errorf("sent %d (unsent %d), want %d", p.Sent, p.Unsent, sent)
	}
	if rep.QoS > 0 && p.Acked != sent {
		t.Errorf("acknowledged %d of %d", p.Acked, sent)
	}
	if r.Expected != expected || r.Received != expected || r.Lost != 0 || r.Dup != 0 || r.OutOfOrder != 0 || r.Foreign != 0 || r.Unexpected != 0 {
		t.Errorf("receive: %+v, want %d received and nothing lost, duplicated or reordered", r, expected)
	}
	if r.Latency == nil || r.Latency.Count != uint64(expected) || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
		t.Errorf("latency: %+v", r.Latency)
	}
	if rep.Errors != 0 || rep.TimedOut || rep.Stalled {
		t.Errorf("errors %d %v, timed out %v, stalled %v", rep.Errors, rep.FirstErrors, rep.TimedOut, rep.Stalled)
	}
}

func TestBenchPubSub(t *testing.T) {
	t.Parallel()
	srv := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	for _, tc := range []struct {
		engine, version string
		qos             int
	}{
		{"wire", "3.1.1", 0},
		{"wire", "3.1.1", 1},
		{"wire", "3.1.1", 2},
		{"wire", "5", 1},
		{"wire", "5", 2},
		{"client", "3.1.1", 1},
		{"client", "5", 2},
	} {
		name := fmt.Sprintf("%s/v%s/qos%d", tc.engine, tc.version, tc.qos)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Three publishers to test/<name>/<i>, two subscribers on
			// test/<name>/+: each receives all 900.
			rep := benchJSON(t, "pubsub", "-L", "mqtt://"+srv.Addr, "--engine", tc.engine, "-V", tc.version,
				"-q", fmt.Sprint(tc.qos), "-c", "3", "-S", "2", "-C", "900", "-t", "test/"+name+"/%i", "-d", "30s")
			checkAllDelivered(t, rep, 900, 1800)
			if rep.Publishers != 3 || rep.Subscribers != 2 || rep.Connect.Connected != 5 || rep.Connect.Handshake == nil {
				t.Errorf("clients: %+v", rep.Connect)
			}
		})
	}

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		out, errOut, code := runBenchArgs(t, "pubsub", "-h", "127.0.0.1", "-p", strings.Split(srv.Addr, ":")[1],
			"-q", "1", "-c", "2", "-C", "500", "-t", "test/text/%c", "-R", "5000", "--progress", "always")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, errOut, out)
		}
		for _, want := range []string{
			"midge bench pubsub  mqtt://127.0.0.1:",
			"2 publishers, 1 subscriber: 3 connected",
			"published   500 in", "(target 5,000); acknowledged 500",
			"received    500 of 500 in",
			"lost 0, duplicated 0, out of order 0",
			"latency     p50 ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
		// At 5,000 msg/s, 500 messages take about 0.1 s.
		if !strings.Contains(errOut, "\r") && !strings.Contains(errOut, "\x1b[K") {
			t.Errorf("no progress line on stderr: %q", errOut)
		}
	})

	// A fan-out with a shared subscription: the group receives each
	// message once between its members.
	t.Run("shared", func(t *testing.T) {
		t.Parallel()
		rep := benchJSON(t, "pubsub", "-L", "mqtt://"+srv.Addr, "-V", "5", "-q", "1", "-c", "2", "-S", "3",
			"-C", "600", "-t", "test/shared/%i", "--sub-topic", "$share/g/test/shared/+")
		checkAllDelivered(t, rep, 600, 600)
	})
}

// TestBenchDurableSubscriber measures a subscriber with a persistent
// session (--clean=false, QoS 1): it reconnects every 250 messages while
// the publishers go on, and nothing is lost; then a subscriber that is
// away while its messages are published receives them when it comes back.
func TestBenchDurableSubscriber(t *testing.T) {
	t.Parallel()
	srv := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	url := "mqtt://" + srv.Addr
	for _, engine := range []string{"wire", "client"} {
		t.Run("reconnecting/"+engine, func(t *testing.T) {
			t.Parallel()
			rep := benchJSON(t, "pubsub", "-L", url, "--engine", engine, "-q", "1", "--clean=false", "-i", "durable-"+engine+"-%r%i",
				"-c", "2", "-C", "2000", "-t", "test/durable/"+engine+"/%i", "--sub-reconnect", "250", "-d", "30s")
			p, r := rep.Publish, rep.Receive
			// Redelivery of what was unacknowledged at a reconnection is
			// allowed (at least once); loss is not.
			if p.Sent != 2000 || p.Acked != 2000 || r.Expected != 2000 || r.Received != 2000 || r.Lost != 0 || rep.Errors != 0 {
				t.Errorf("publish %+v receive %+v errors %v", p, r, rep.FirstErrors)
			}
			if r.Reconnects < 4 {
				t.Errorf("%d reconnections, want at least 4", r.Reconnects)
			}
		})
	}

	t.Run("offline", func(t *testing.T) {
		t.Parallel()
		sub := []string{"sub", "-L", url, "-q", "1", "--clean=false", "-i", "offline-%i", "-t", "test/offline"}
		// Create the session; the run ends at -d.
		rep := benchJSON(t, append(sub, "-d", "200ms")...)
		if rep.Connect.Connected != 1 || rep.Receive.Received != 0 {
			t.Fatalf("first subscription: %+v %+v", rep.Connect, rep.Receive)
		}
		rep = benchJSON(t, "pub", "-L", url, "-q", "1", "-t", "test/offline", "-C", "700")
		if rep.Publish.Sent != 700 || rep.Publish.Acked != 700 || rep.Publish.AckLatency == nil {
			t.Fatalf("publish: %+v", rep.Publish)
		}
		rep = benchJSON(t, append(sub, "-C", "700", "-d", "30s")...)
		if r := rep.Receive; r.Received != 700 || r.Lost != 0 || r.Dup != 0 || r.OutOfOrder != 0 || r.Latency == nil || rep.TimedOut {
			t.Errorf("queued messages: %+v, timed out %v", r, rep.TimedOut)
		}
	})
}

func TestBenchConn(t *testing.T) {
	t.Parallel()
	srv := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	for _, engine := range []string{"wire", "client"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			rep := benchJSON(t, "conn", "-L", "mqtt://"+srv.Addr, "--engine", engine, "-c", "40", "-t", "test/conn/%i",
				"--concurrency", "8", "--hold", "0", "--pid", fmt.Sprint(os.Getpid()))
			c := rep.Connect
			if c.Attempted != 40 || c.Connected != 40 || c.Failed != 0 || c.Alive != 40 || c.Handshake == nil || c.Handshake.Count != 40 {
				t.Errorf("connect: %+v", c)
			}
			if rep.Broker == nil || rep.Broker.PID != os.Getpid() {
				t.Errorf("broker report (the test process stands in): %+v", rep.Broker)
			}
		})
	}
	// Connections that fail are counted and make the exit status 1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out, _, code := runBenchArgs(t, "conn", "-L", "mqtt://"+addr, "-c", "3", "--hold", "0", "--json")
	var rep report
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.Connect.Failed != 3 || len(rep.Connect.FirstErrors) == 0 {
		t.Errorf("closed port: exit %d, report %s", code, out)
	}
}

// TestBenchTLSAndWebSocket runs pubsub over mqtts:// (wire engine, with
// --cafile and with --insecure), ws:// and wss:// (client engine).
func TestBenchTLSAndWebSocket(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "midge bench test CA")
	caFile := pki.CAFile
	tlsConf := &tls.Config{Certificates: []tls.Certificate{pki.TLSServer("server")}}
	for _, tc := range []struct {
		name   string
		lc     broker.Listener
		scheme string
		extra  []string
	}{
		{"mqtts-cafile", broker.Listener{TLS: tlsConf}, "mqtts", []string{"--cafile", caFile}},
		{"mqtts-insecure", broker.Listener{TLS: tlsConf}, "mqtts", []string{"--insecure"}},
		{"ws", broker.Listener{WebSocket: true}, "ws", nil},
		{"wss", broker.Listener{WebSocket: true, TLS: tlsConf}, "wss", []string{"--cafile", caFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startBenchBroker(t, tc.lc)
			args := append([]string{"pubsub", "-L", tc.scheme + "://" + addr, "-q", "1", "-c", "2", "-C", "400"}, tc.extra...)
			rep := benchJSON(t, args...)
			checkAllDelivered(t, rep, 400, 400)
		})
	}
	// Without the CA, the certificate is refused.
	addr := startBenchBroker(t, broker.Listener{TLS: tlsConf})
	_, errOut, code := runBenchArgs(t, "pub", "-L", "mqtts://"+addr, "-C", "10")
	if code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("unknown CA: exit %d, %s", code, errOut)
	}
}

// startBenchBroker serves a broker on 127.0.0.1:0 with listener lc.
func startBenchBroker(t *testing.T, lc broker.Listener) string {
	t.Helper()
	return testutil.StartBrokerListener(t, broker.Config{AllowAnonymous: true}, lc).Addr
}
