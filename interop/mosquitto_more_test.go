package interop_test

import (
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestMosquittoTopicAlias publishes with mosquitto_pub -l and a topic alias:
// the first PUBLISH sets the alias, the next ones carry only the alias and
// an empty topic [MQTT-3.3.2-12]. Subscribers get every message under the
// topic name.
func TestMosquittoTopicAlias(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	sub5 := mosqSub(t, port, "-V", "mqttv5", "-q", "1", "-t", "alias/#", "-F", msgFormat)
	sub3 := mosqSub(t, port, "-V", "mqttv311", "-q", "1", "-t", "alias/#", "-F", msgFormat)
	out := startMosquittoInput(t, "one\ntwo\nthree\n", "mosquitto_pub", "-d", "-h", "127.0.0.1", "-p", port,
		"-V", "mqttv5", "-q", "1", "-l", "-t", "alias/t", "-D", "PUBLISH", "topic-alias", "1").wait()
	wantContains(t, "mosquitto_pub -l", out,
		"sending PUBLISH (d0, q1, r0, m1, 'alias/t'", "sending PUBLISH (d0, q1, r0, m2, '(null)'", "sending PUBLISH (d0, q1, r0, m3, '(null)'")
	want := []string{"1 0 alias/t one", "1 0 alias/t two", "1 0 alias/t three"}
	wantLines(t, "MQTT 5 subscriber", messages(sub5, 3), want)
	wantLines(t, "MQTT 3.1.1 subscriber", messages(sub3, 3), want)
}

// TestMosquittoSubscriptionIdentifier subscribes with mosquitto_sub -D
// SUBSCRIBE subscription-identifier and checks %S prints it on each
// message [MQTT-3.3.4-3].
func TestMosquittoSubscriptionIdentifier(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	sub := mosqSub(t, port, "-V", "mqttv5", "-t", "sid/#", "-D", "SUBSCRIBE", "subscription-identifier", "42", "-F", `MSG %S %t %p\n`)
	plain := mosqSub(t, port, "-V", "mqttv5", "-t", "sid/#", "-F", `MSG [%S] %t %p\n`)
	mosqPub(t, port, "-V", "mqttv5", "-t", "sid/a", "-m", "x")
	wantLines(t, "with an identifier", messages(sub, 1), []string{"42 sid/a x"})
	wantLines(t, "without one", messages(plain, 1), []string{"[] sid/a x"})
}

// TestMosquittoSys reads $SYS/broker/version as Mosquitto users do, and
// checks "#" does not match $SYS topics [MQTT-4.7.2-1].
func TestMosquittoSys(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	out := startSub(t, port, "-v", "-C", "1", "-t", "$SYS/broker/version").wait()
	if len(out) != 1 || !strings.HasPrefix(out[0], "$SYS/broker/version ") || strings.TrimPrefix(out[0], "$SYS/broker/version ") == "" {
		t.Errorf("mosquitto_sub -t '$SYS/broker/version': %q, want one line with the version", out)
	}
	all := mosqSub(t, port, "-v", "-t", "#", "-t", "+/broker/#")
	mosqPub(t, port, "-t", "marker", "-m", "m")
	all.waitLine("marker m")
	if got := payloadLines(all.lines()); len(got) != 1 {
		t.Errorf("'#' and '+/broker/#' subscriber got %q, want only the marker", got)
	}
}

// TestMosquittoLargePayload sends a 1 MB binary payload from a file (-f) and
// from stdin (-s) and checks it arrives byte for byte.
func TestMosquittoLargePayload(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	payload := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(payload)
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range mqttVersions {
		t.Run(v.name, func(t *testing.T) {
			sub := mosqSub(t, port, "-V", v.flag, "-q", "2", "-t", "big/"+v.name, "-F", `MSG %l %x\n`)
			mosqPub(t, port, "-V", v.flag, "-q", "1", "-t", "big/"+v.name, "-f", file)
			startMosquittoInput(t, string(payload), "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", v.flag, "-q", "2", "-t", "big/"+v.name, "-s").wait()
			want := "1048576 " + hex.EncodeToString(payload)
			for i, got := range messages(sub, 2) {
				if got != want {
					t.Errorf("message %d: got %d bytes of output starting %.40q, want %d bytes starting %.40q", i, len(got), got, len(want), want)
				}
			}
		})
	}
}

// TestMosquittoMaximumPacketSize connects mosquitto_sub with a Maximum
// Packet Size of 200 and checks the broker does not send it a larger
// PUBLISH [MQTT-3.1.2-25], but still the smaller ones.
func TestMosquittoMaximumPacketSize(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	sub := mosqSub(t, port, "-V", "mqttv5", "-q", "1", "-t", "mps/#", "-D", "CONNECT", "maximum-packet-size", "200", "-F", `MSG %t %l\n`)
	mosqPub(t, port, "-V", "mqttv5", "-q", "1", "-t", "mps/big", "-m", strings.Repeat("x", 500))
	mosqPub(t, port, "-V", "mqttv5", "-q", "1", "-t", "mps/small", "-m", strings.Repeat("x", 50))
	wantLines(t, "messages", messages(sub, 1), []string{"mps/small 50"})
	if got := msgs(sub.lines()); len(got) != 1 {
		t.Errorf("got %q, want only mps/small", got)
	}
}

// TestMosquittoWillDelay checks MQTT 5's Will Delay Interval with clients
// killed by SIGKILL: a session that ends when the connection does publishes
// its will at once, whatever the delay; a session that outlives it and is
// resumed before the delay has passed has its will cancelled
// [MQTT-3.1.3-9].
func TestMosquittoWillDelay(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	b, port := startBroker(t, broker.Config{AllowAnonymous: true})
	V5 := []string{"-V", "mqttv5"}
	watcher := mosqSub(t, port, cat(V5, "-q", "1", "-t", "will/#", "-F", msgFormat)...)

	// Session Expiry Interval 0: the session ends now, so does the delay.
	now := mosqSub(t, port, cat(V5, "-i", "wd-now", "-t", "x/y", "--will-topic", "will/now", "--will-payload", "now",
		"-D", "WILL", "will-delay-interval", "60")...)
	now.kill(syscall.SIGKILL)
	wantLines(t, "will of a session that ended", messages(watcher, 1), []string{"0 0 will/now now"})

	// A resumed session cancels its delayed will.
	resumed := cat(V5, "-c", "-x", "600", "-i", "wd-resumed", "-t", "x/y", "--will-topic", "will/resumed", "--will-payload", "resumed",
		"-D", "WILL", "will-delay-interval", "60")
	first := mosqSub(t, port, resumed...)
	first.kill(syscall.SIGKILL)
	waitSys(t, b, "clients/connected", "1") // the watcher only
	startSub(t, port, cat(resumed, "-E")...).wait()
	mosqPub(t, port, cat(V5, "-q", "1", "-t", "will/marker", "-m", "marker")...)
	wantLines(t, "after resuming the session", messages(watcher, 2)[1:], []string{"1 0 will/marker marker"})
}

// TestMosquittoSharedSubscription shares $share/g/... between two
// mosquitto_sub: each message goes to one of them, and both get some.
func TestMosquittoSharedSubscription(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	for _, v := range mqttVersions[:2] { // MQTT 3.1 clients share too in Mosquitto, but 3.1 is not worth the time
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			_, port := startBroker(t, broker.Config{AllowAnonymous: true})
			a := mosqSub(t, port, "-V", v.flag, "-q", "1", "-t", "$share/g/sh/#", "-F", msgFormat)
			b := mosqSub(t, port, "-V", v.flag, "-q", "1", "-t", "$share/g/sh/#", "-F", msgFormat)
			all := mosqSub(t, port, "-V", v.flag, "-q", "1", "-t", "sh/#", "-F", msgFormat)
			var input string
			var want []string
			for i := range 10 {
				input += "m" + itoa(i) + "\n"
				want = append(want, "1 0 sh/t m"+itoa(i))
			}
			startMosquittoInput(t, input, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", v.flag, "-q", "1", "-l", "-t", "sh/t").wait()
			wantLines(t, "non-shared subscriber", messages(all, 10), want)
			// Everything has been routed once the non-shared subscriber has
			// it all; the shared ones may still be reading.
			var got []string
			testutil.WaitFor(t, "10 messages between the shared subscribers", func() bool {
				got = append(msgs(a.lines()), msgs(b.lines())...)
				return len(got) >= 10
			})
			slices.Sort(got)
			sorted := slices.Clone(want)
			slices.Sort(sorted)
			wantLines(t, "shared subscribers together", got, sorted)
			if len(msgs(a.lines())) == 0 || len(msgs(b.lines())) == 0 {
				t.Errorf("one shared subscriber got everything: %q and %q", msgs(a.lines()), msgs(b.lines()))
			}
		})
	}
}

// TestMosquittoUTF8 sends Chinese topic names and payloads, as the
// tutorial's readers will.
func TestMosquittoUTF8(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	sub := mosqSub(t, port, "-v", "-t", "家/+/溫度")
	mosqPub(t, port, "-t", "家/客廳/溫度", "-m", "攝氏二十五度", "-r")
	sub.waitLine("家/客廳/溫度 攝氏二十五度")
	got := startSub(t, port, "-V", "mqttv5", "-v", "-C", "1", "-t", "家/#").wait()
	wantLines(t, "retained", got, []string{"家/客廳/溫度 攝氏二十五度"})
}

// TestMosquittoRemoveRetained clears retained messages with mosquitto_sub
// --remove-retained.
func TestMosquittoRemoveRetained(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	b, port := startBroker(t, broker.Config{AllowAnonymous: true})
	for _, topic := range []string{"rm/a", "rm/b", "keep/c"} {
		mosqPub(t, port, "-r", "-t", topic, "-m", topic)
	}
	waitSys(t, b, "clients/connected", "0") // the QoS 0 PUBLISHes are handled
	// mosquitto_sub 2.0.11 clears each retained message it gets with an
	// empty retained QoS 1 PUBLISH, but then hangs with -C or
	// --retained-only (against Mosquitto too): stop it once both clearing
	// PUBLISHes are acknowledged. (Its SIGTERM handler calls
	// mosquitto_disconnect, which may deadlock: SIGKILL it.)
	rm := mosqSub(t, port, "-t", "rm/#", "--remove-retained", "-v")
	rm.waitLine("received PUBACK (Mid: 3")
	rm.kill(syscall.SIGKILL)
	got := payloadLines(rm.lines())
	slices.Sort(got)
	// It also gets its own empty PUBLISHes back, which -v prints as "(null)".
	wantLines(t, "mosquitto_sub --remove-retained", got, []string{"rm/a (null)", "rm/a rm/a", "rm/b (null)", "rm/b rm/b"})

	left := mosqSub(t, port, "-t", "#", "--retained-only", "-v")
	mosqPub(t, port, "-t", "rm/live", "-m", "live")
	wantLines(t, "retained messages left", payloadLines(left.wait()), []string{"keep/c keep/c"})
}

// TestMosquittoOverlappingSubscriptionIdentifier subscribes mosquitto_sub
// (MQTT 5) to two overlapping filters with a Subscription Identifier, as
// "mosquitto_sub -t 'a/#' -t 'a/b' -D SUBSCRIBE subscription-identifier 42"
// does. libmosquitto refuses a PUBLISH that has the same property twice,
// User Property excepted (mosquitto_property_check_all:
// MOSQ_ERR_DUPLICATE_PROPERTY), Subscription Identifier included, so it
// closes the connection on a single copy that carries both subscriptions'
// identifiers, as [MQTT-3.3.4-4] allows. Mosquitto sends MQTT 5 clients one
// copy per matching subscription, each with its identifier
// [MQTT-3.3.4-5]; the message must reach the client.
func TestMosquittoOverlappingSubscriptionIdentifier(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	sub := mosqSub(t, port, "-V", "mqttv5", "-q", "1", "-t", "ov/#", "-t", "ov/b", "-D", "SUBSCRIBE", "subscription-identifier", "42", "-F", `MSG %S %q %t %p\n`)
	mosqPub(t, port, "-V", "mqttv5", "-q", "1", "-t", "ov/b", "-m", "x")
	connacks := func() int {
		n := 0
		for _, l := range sub.lines() {
			if strings.Contains(l, "received CONNACK") {
				n++
			}
		}
		return n
	}
	testutil.WaitFor(t, "the message or a reconnection", func() bool { return len(msgs(sub.lines())) > 0 || connacks() > 1 })
	if connacks() > 1 {
		t.Fatalf("mosquitto_sub lost its connection on the PUBLISH and reconnected; output:\n%s", sub.output())
	}
	for _, m := range msgs(sub.lines()) {
		if m != "42 1 ov/b x" {
			t.Errorf("got %q, want \"42 1 ov/b x\"", m)
		}
	}
}
