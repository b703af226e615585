package clienttool

import (
	"context"
	"net"
	"testing"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packet"
)

// rrResponder answers requests on rr/req: to their Response Topic, or to
// rr/resp when they have none (MQTT 3.1.1), with "re:" and the payload, the
// request's Correlation Data and QoS, a Content Type and a User Property.
func rrResponder(t *testing.T, port string) {
	t.Helper()
	var cl *client.Client
	replies := make(chan *client.Message, 16)
	ctx, cancel := context.WithTimeout(context.Background(), mqWait)
	defer cancel()
	cl, _, err := client.Dial(ctx, client.Options{
		Address:         net.JoinHostPort("127.0.0.1", port),
		ProtocolVersion: packet.Version5,
		CleanStart:      true,
		OnMessage: func(m *client.Message) {
			r := &client.Message{Topic: "rr/resp", Payload: append([]byte("re:"), m.Payload...), QoS: m.QoS}
			if m.Properties.Has(packet.PropResponseTopic) {
				r.Topic = m.Properties.ResponseTopic
			}
			if m.Properties.Has(packet.PropCorrelationData) {
				r.Properties.CorrelationData = m.Properties.CorrelationData
				r.Properties.Set(packet.PropCorrelationData)
			}
			r.Properties.SetString(packet.PropContentType, "text/reply")
			r.Properties.User = []packet.UserProperty{{Key: "from", Value: "responder"}}
			replies <- r
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for r := range replies {
			cl.PublishAsync(context.Background(), r, nil)
		}
	}()
	t.Cleanup(func() {
		cl.Close()
		close(replies)
	})
	if _, err := cl.Subscribe(ctx, client.Subscription{Filter: "rr/req", QoS: 2}); err != nil {
		t.Fatal(err)
	}
}

// TestRRGolden compares Debian's mosquitto_rr and midge's rr against a
// responder, on Debian's broker and midge's.
func TestRRGolden(t *testing.T) {
	t.Parallel()
	type rrGolden struct {
		name     string
		args     []string
		retained [][]string
	}
	cases := []rrGolden{
		{"basic", []string{"-d", "-t", "rr/req", "-e", "rr/resp/1", "-m", "ping"}, nil},
		{"format", []string{"-t", "rr/req", "-e", "rr/r2", "-m", "hi", "-D", "publish", "correlation-data", "abc",
			"-F", "%t %p %C %D %P %q"}, nil},
		{"verbose-qos1", []string{"-v", "-t", "rr/req", "-e", "rr/r3", "-m", "q1", "-q", "1"}, nil},
		// Without -d: when the answer to the request's PUBLISH comes
		// relative to the response depends on the broker's timing.
		{"qos2-no-eol", []string{"-v", "-N", "-t", "rr/req", "-e", "rr/r4", "-m", "q2", "-q", "2"}, nil},
		{"json-pretty", []string{"-t", "rr/req", "-e", "rr/r5", "-m", "{\"a\":1}", "-F", "%J", "--pretty"}, nil},
		{"mqttv311", []string{"-d", "-V", "311", "-t", "rr/req", "-e", "rr/resp", "-m", "old"}, nil},
		// A retained message on the response topic is the response: the
		// request goes out first, as libmosquitto sends it before it reads
		// on. (Mosquitto 2.0.11 ignores -R here; midge does not: see
		// TestRRNoStale.)
		{"retained-response", []string{"-d", "-t", "rr/req", "-e", "rr/ret", "-m", "fresh", "-v"},
			[][]string{{"-t", "rr/ret", "-m", "stale", "-r"}}},
		{"timeout", []string{"-d", "-W", "1", "-t", "rr/nobody", "-e", "rr/r6", "-n"}, nil},
		{"null", []string{"-d", "-t", "rr/req", "-e", "rr/r7", "-n", "-v"}, nil},
	}
	goldenOnBrokers(t, cases, func(c rrGolden) string { return c.name }, func(t *testing.T, c rrGolden, b mqBroker) {
		rrResponder(t, b.port)
		for _, r := range c.retained {
			mqPublishRetained(t, b.port, r...)
		}
		home := mqHome(t)
		args := mqArgs(b.port, c.args...)
		want := mqStartDebian(t, "mosquitto_rr", home, "", nil, args...)
		want.wait(t)
		got := mqStartMidge(t, toolRR, home, "", nil, args...)
		mqCompare(t, want, got, nil)
	})
}
