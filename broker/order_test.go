package broker_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestSubscribeRacesPublishRate is issue 14 item 17: client B sends
// SUBSCRIBE and, without waiting for SUBACK, client A publishes on the
// topic; B should get the message, as it always does from Mosquitto (one
// thread, events in kernel order). MQTT orders nothing across connections
// and midge runs connections in parallel, so a few misses remain
// (docs/mosquitto-compat.md); the test fails if B misses more than a
// quarter of the tries (before the fix: nearly nine in ten), or a third
// when B was idle long enough to park, and if Mosquitto misses at all,
// which would mean the method measures something else. Set
// MIDGE_RACE_TRIES (default 200; 50 with B parked) for more tries.
func TestSubscribeRacesPublishRate(t *testing.T) {
	tries, parkedTries := 200, 50
	if n := envInt("MIDGE_RACE_TRIES"); n > 0 {
		tries, parkedTries = n, n
	}
	b := start(t, open())
	maddr := testutil.StartMosquitto(t)
	for _, tc := range []struct {
		name  string
		tries int
		idle  time.Duration // B's idleness before SUBSCRIBE
		most  int           // the misses allowed
	}{
		{"B active", tries, 0, tries / 4},
		// Longer than a new connection waits before parking.
		{"B parked", parkedTries, 40 * time.Millisecond, parkedTries / 3},
	} {
		midge := raceMisses(t, b.Addr, tc.tries, tc.idle)
		mosq := raceMisses(t, maddr, tc.tries, tc.idle)
		t.Logf("%s: B missed the message: midge %d of %d, mosquitto %d of %d", tc.name, midge, tc.tries, mosq, tc.tries)
		if midge > tc.most {
			t.Errorf("%s: midge missed %d of %d, more than %d", tc.name, midge, tc.tries, tc.most)
		}
		if mosq != 0 {
			t.Errorf("%s: Mosquitto missed %d of %d: the measurement is wrong", tc.name, mosq, tc.tries)
		}
	}
}

// raceMisses runs the pattern tries times against addr, with a fresh B each
// time that stays idle for idle before subscribing, and returns how often
// B missed the message.
func raceMisses(t *testing.T, addr string, tries int, idle time.Duration) int {
	a := connect2(t, addr, "A")
	misses := 0
	for i := range tries {
		topic := fmt.Sprintf("race/%d", i)
		bc := connect2(t, addr, fmt.Sprintf("B%d", i))
		if idle > 0 {
			time.Sleep(idle) // the idleness under test, not a wait for a condition
		}
		bc.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: topic}}})
		a.Send(&packet.Publish{Topic: topic, Payload: []byte("x")})
		got := false
		for acked := false; !acked; {
			switch p := bc.Next().(type) {
			case *packet.Publish:
				got = true // before SUBACK: Mosquitto never does that
			case *packet.Suback:
				acked = true
			default:
				t.Fatalf("B got %v", p.Type())
			}
		}
		// A's PINGRESP comes after its PUBLISH is routed; B's PUBLISH, if
		// any, was queued before that.
		a.Send(&packet.Pingreq{})
		testutil.Expect[*packet.Pingresp](a)
		bc.Send(&packet.Pingreq{})
		for done := false; !done; {
			switch p := bc.Next().(type) {
			case *packet.Publish:
				got = true
			case *packet.Pingresp:
				done = true
			default:
				t.Fatalf("B got %v", p.Type())
			}
		}
		if !got {
			// The PINGRESP may have overtaken a queued PUBLISH: give it a
			// moment (a measurement, not a synchronization).
			if p, err := bc.Read(50 * time.Millisecond); err == nil {
				if _, ok := p.(*packet.Publish); !ok {
					t.Fatalf("B got %v", p.Type())
				}
				got = true
			}
		}
		if !got {
			misses++
		}
		bc.Close()
	}
	return misses
}

// connect2 connects a 3.1.1 client to addr.
func connect2(t *testing.T, addr, id string) *testutil.Client {
	t.Helper()
	c, _ := testutil.Connect(t, addr, packet.Version311, id)
	return c
}

// envInt returns the environment variable name as a number, 0 if unset.
func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
