package broker_test

// Byte-for-byte comparisons with Debian's Mosquitto (issue 14): each case
// runs the same raw-packet script against /usr/sbin/mosquitto and against
// midge and compares every byte the brokers send. docs/mosquitto-compat.md
// lists where midge keeps a different choice, and why.

import (
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/testutil/mqdiff"
	"github.com/midge-mqtt/midge/packet"
)

// compatCase is one script, run for each protocol version in versions.
type compatCase struct {
	name     string
	versions []byte
	conf     []string
	script   func(t *testing.T, v byte) []testutil.Step
}

var both = []byte{packet.Version311, packet.Version5}

// runCompat runs every case against both brokers.
func runCompat(t *testing.T, cases []compatCase) {
	for _, c := range cases {
		for _, v := range c.versions {
			t.Run(c.name+"/v"+string('0'+rune(v)), func(t *testing.T) {
				t.Parallel()
				kept := keptDifferences[c.name]
				if why, ok := mosquittoMayDropLast[c.name]; ok {
					mosq, midge := mqdiff.Differential(t, c.conf, c.script(t, v))
					if m, g := mosq.String(), midge.String(); m != g && m != withoutLastBeforeClose(g) {
						t.Errorf("midge's bytes differ from Mosquitto's (%s)\nmosquitto:\n%s\nmidge:\n%s", why, m, g)
					}
					return
				}
				if kept == "" {
					mqdiff.SameAsMosquitto(t, c.conf, c.script(t, v))
					return
				}
				mosq, midge := mqdiff.Differential(t, c.conf, c.script(t, v))
				if mosq.String() == midge.String() {
					t.Errorf("midge now answers as Mosquitto; the kept difference (%s) is gone:\n%s", kept, midge)
				}
			})
		}
	}
}

// mosquittoMayDropLast names the cases where Mosquitto queues a packet
// (its DISCONNECT) and closes the connection in the same step, so that
// whether the packet leaves before the close depends on its timing: midge
// always sends it, and matches either of Mosquitto's transcripts.
var mosquittoMayDropLast = map[string]string{
	"disconnect-sets-expiry": "Mosquitto sends DISCONNECT 0x82 only when it flushes before closing",
}

// withoutLastBeforeClose returns a transcript without the last packet
// received before a connection's close.
func withoutLastBeforeClose(tr string) string {
	lines := strings.Split(tr, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.HasSuffix(lines[i], ": closed") && strings.Contains(lines[i-1], "< ") {
			return strings.Join(append(lines[:i-1:i-1], lines[i:]...), "\n")
		}
	}
	return tr
}

// conn is a CONNECT for id with clean start and keep alive 60.
func conn(t *testing.T, v byte, id string) []byte {
	return testutil.Pkt(t, v, &packet.Connect{ProtocolVersion: v, ClientID: id, CleanStart: true, KeepAlive: 60})
}

// connStep connects connection i as id and reads the CONNACK.
func connStep(t *testing.T, i int, v byte, id string) testutil.Step {
	return testutil.Step{Conn: i, Send: conn(t, v, id), Read: 1}
}

func pk(t *testing.T, v byte, p packet.Packet) []byte { return testutil.Pkt(t, v, p) }

// quiet is how long a step waits to see that nothing more arrives.
const quiet = 150 * time.Millisecond

func sub1(filter string, qos byte) []packet.Subscription {
	return []packet.Subscription{{Filter: filter, QoS: qos}}
}
