package broker_test

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Issue 14 item 10: every log line is cut at 999 bytes, as Mosquitto cuts
// it, so that a huge topic costs the log no more than a short one. A client
// subscribes to a 5,000-byte filter; the subscribe line, read back from
// $SYS/broker/log/M/subscribe (log_dest topic), must be the bytes Debian's
// Mosquitto publishes for the same SUBSCRIBE, cut inside a UTF-8 sequence
// as Mosquitto cuts it, and no line written to stdout may be longer.
func TestLogLineCap(t *testing.T) {
	filter := strings.Repeat("é", 2500)
	maddr := testutil.StartMosquitto(t, "log_type all", "log_dest topic", "log_timestamp false")

	var srv atomic.Pointer[broker.Server]
	var out testutil.LockedBuffer
	h, err := logging.New(logging.Options{Types: logging.All, Dests: logging.Topic | logging.Stdout, NoTimestamp: true},
		logging.Env{Stdout: &out, Publish: func(topic string, line []byte) {
			if s := srv.Load(); s != nil {
				s.PublishLog(topic, line)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, Logger: slog.New(h)})
	srv.Store(b.Server)

	mosq := subscribeLogLine(t, maddr, filter)
	midge := subscribeLogLine(t, b.Addr, filter)
	if len(mosq) != 999 {
		t.Errorf("Mosquitto's line has %d bytes, not 999: the cap to compare with is another", len(mosq))
	}
	if midge != mosq {
		t.Errorf("midge's subscribe line (%d bytes, ending %q) is not Mosquitto's (%d bytes, ending %q)",
			len(midge), midge[max(0, len(midge)-6):], len(mosq), mosq[max(0, len(mosq)-6):])
	}
	for _, l := range strings.SplitAfter(out.String(), "\n") {
		if len(l) > 1000 {
			t.Errorf("a line of %d bytes on stdout: %.80q", len(l), l)
		}
	}
}

// subscribeLogLine has client "big" subscribe to filter on the broker at
// addr and returns the log line the broker publishes for it on
// $SYS/broker/log/M/subscribe.
func subscribeLogLine(t *testing.T, addr, filter string) string {
	t.Helper()
	w := connect2(t, addr, "watcher")
	// Mosquitto sends the watcher's own subscribe line before its SUBACK.
	// The SUBACK is awaited: a broker need not apply the watcher's
	// SUBSCRIBE before another client's.
	w.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "$SYS/broker/log/M/subscribe"}}})
	for subscribed := false; !subscribed; {
		switch p := w.Next().(type) {
		case *packet.Publish:
		case *packet.Suback:
			subscribed = true
		default:
			t.Fatalf("watcher got %v", p.Type())
		}
	}
	c := connect2(t, addr, "big")
	c.Subscribe(1, filter, 0)
	for {
		switch p := w.Next().(type) {
		case *packet.Publish:
			if line := string(p.Payload); strings.HasPrefix(line, "big ") {
				return line
			}
		default:
			t.Fatalf("watcher got %v", p.Type())
		}
	}
}
