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
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// mqttVersions are the protocol versions of mosquitto_pub and mosquitto_sub
// (-V).
var mqttVersions = []protoVersion{
	{"v5", "mqttv5"},
	{"v311", "mqttv311"},
	{"v31", "mqttv31"},
}

// protoVersion is a protocol version as a client program selects it: the
// subtest's name and the value of the program's option.
type protoVersion struct{ name, flag string }

// versionBody is a test run by eachVersion: b, listening on port, is the
// broker; args are the client program's arguments that select v.
type versionBody func(t *testing.T, v protoVersion, b *testutil.Broker, port string, args []string)

// eachVersion runs body as a parallel subtest for each of versions, each
// against a new midge broker that admits anonymous clients; option is the
// client program's option that selects the version.
func eachVersion(t *testing.T, versions []protoVersion, option string, body versionBody) {
	t.Helper()
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			b, port := startBroker(t, broker.Config{AllowAnonymous: true})
			body(t, v, b, port, []string{option, v.flag})
		})
	}
}

// eachMosquittoVersion runs body, as eachVersion does, for each version
// of mosquitto_pub and mosquitto_sub (-V). It fails the test if
// Mosquitto's clients are not installed.
func eachMosquittoVersion(t *testing.T, body versionBody) {
	t.Helper()
	needMosquittoClients(t)
	eachVersion(t, mqttVersions, "-V", body)
}

// msgFormat is the -F format the tests give mosquitto_sub: the QoS, the
// retain flag, the topic and the payload after a "MSG " prefix that sets
// messages apart from the -d debug lines.
const msgFormat = `MSG %q %r %t %p\n`

// cat returns a new slice of a's elements followed by b.
func cat(a []string, b ...string) []string { return slices.Concat(a, b) }

// startSub starts mosquitto_sub on 127.0.0.1:port with args.
func startSub(t *testing.T, port string, args ...string) *proc {
	t.Helper()
	return startMosquitto(t, "mosquitto_sub", cat([]string{"-h", "127.0.0.1", "-p", port}, args...)...)
}

// mosqSub starts mosquitto_sub -d on 127.0.0.1:port with args and waits
// until the broker has acknowledged its subscriptions.
func mosqSub(t *testing.T, port string, args ...string) *proc {
	t.Helper()
	p := startSub(t, port, cat([]string{"-d"}, args...)...)
	p.waitLine("Subscribed (mid:")
	return p
}

// mosqPub runs mosquitto_pub -d on 127.0.0.1:port with args to completion
// and returns its output lines.
func mosqPub(t *testing.T, port string, args ...string) []string {
	t.Helper()
	return startMosquitto(t, "mosquitto_pub", cat([]string{"-d", "-h", "127.0.0.1", "-p", port}, args...)...).wait()
}

// messages waits for n lines printed with msgFormat and returns them
// without the prefix.
func messages(p *proc, n int) []string {
	p.t.Helper()
	return msgs(p.waitLines(n, func(l string) bool { return strings.HasPrefix(l, "MSG ") }))
}

// msgs returns the lines printed with msgFormat, without the prefix.
func msgs(lines []string) []string {
	var out []string
	for _, l := range lines {
		if m, ok := strings.CutPrefix(l, "MSG "); ok {
			out = append(out, m)
		}
	}
	return out
}

// payloadLines returns the lines that are not mosquitto's -d debug output.
func payloadLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "Client ") || strings.HasPrefix(l, "Subscribed (mid:") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// wantLines fails the test unless got has the lines of want, in order.
func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// wantContains fails the test unless some line of lines contains each of
// subs, in that order.
func wantContains(t *testing.T, what string, lines []string, subs ...string) {
	t.Helper()
	i := 0
	for _, l := range lines {
		if i < len(subs) && strings.Contains(l, subs[i]) {
			i++
		}
	}
	if i < len(subs) {
		t.Errorf("%s: no line with %q (in order) in\n  %s", what, subs[i], strings.Join(lines, "\n  "))
	}
}

// TestMosquittoQoS publishes with mosquitto_pub at QoS 0, 1 and 2 to
// mosquitto_sub subscribers at QoS 0, 1 and 2, and checks each message
// arrives once at the lower of the two QoS with the full handshake on both
// sides.
func TestMosquittoQoS(t *testing.T) {
	t.Parallel()
	eachMosquittoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, V []string) {
		var subs [3]*proc
		for q := range subs {
			subs[q] = mosqSub(t, port, "-V", v.flag, "-i", "sub"+itoa(q)+"-"+v.name, "-q", itoa(q), "-t", "qos/#", "-F", msgFormat)
		}
		flows := [3][]string{
			{"sending PUBLISH (d0, q0, r0, m1, 'qos/0', ... (2 bytes))", "sending DISCONNECT"},
			{"sending PUBLISH (d0, q1, r0, m1, 'qos/1', ... (2 bytes))", "received PUBACK (Mid: 1", "sending DISCONNECT"},
			{"sending PUBLISH (d0, q2, r0, m1, 'qos/2', ... (2 bytes))", "received PUBREC (Mid: 1", "sending PUBREL (m1)", "received PUBCOMP (Mid: 1", "sending DISCONNECT"},
		}
		for q := range 3 {
			out := mosqPub(t, port, "-V", v.flag, "-q", itoa(q), "-t", "qos/"+itoa(q), "-m", "m"+itoa(q))
			wantContains(t, "mosquitto_pub -q "+itoa(q), out, flows[q]...)
		}
		for sq, sub := range subs {
			var want []string
			for pq := range 3 {
				want = append(want, itoa(min(pq, sq))+" 0 qos/"+itoa(pq)+" m"+itoa(pq))
			}
			wantLines(t, "mosquitto_sub -q "+itoa(sq), messages(sub, 3), want)
		}
		// The subscriber's side of the QoS 1 and 2 handshakes.
		subs[1].waitLine("sending PUBACK")
		subs[2].waitLine("sending PUBCOMP")
		wantContains(t, "mosquitto_sub -q 2", subs[2].lines(),
			"received PUBLISH (d0, q1, r0, m", "sending PUBACK",
			"received PUBLISH (d0, q2, r0, m", "sending PUBREC", "received PUBREL", "sending PUBCOMP")
	})
}

// TestMosquittoRetained sets, receives, replaces and clears retained
// messages with mosquitto_pub -r and mosquitto_sub -v, -C and
// --retained-only.
func TestMosquittoRetained(t *testing.T) {
	t.Parallel()
	eachMosquittoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, V []string) {
		mosqPub(t, port, cat(V, "-r", "-q", "1", "-t", "ret/a", "-m", "A")...)
		mosqPub(t, port, cat(V, "-r", "-t", "ret/b", "-m", "B")...)
		// A QoS 0 PUBLISH has no acknowledgement: it has been handled
		// once the publisher's connection has.
		waitSys(t, b, "clients/connected", "0")

		// A new subscriber gets both at once (-v prints "topic payload"),
		// and -C 2 makes it exit after them.
		first := startSub(t, port, cat(V, "-v", "-C", "2", "-t", "ret/#")...).wait()
		slices.Sort(first)
		wantLines(t, "mosquitto_sub -v -C 2", first, []string{"ret/a A", "ret/b B"})

		// With the retain flag set, at the QoS they were published with.
		sub := mosqSub(t, port, cat(V, "-q", "2", "-t", "ret/#", "-F", msgFormat)...)
		got := messages(sub, 2)
		slices.Sort(got)
		wantLines(t, "retained messages on subscribe", got, []string{"0 1 ret/b B", "1 1 ret/a A"})

		// A subscriber that is already there gets a new retained message
		// with the retain flag clear [MQTT-3.3.1-9] (MQTT 5: Retain As
		// Published is 0 [MQTT-3.3.1-12]), and so the empty message that
		// clears it [MQTT-3.3.1-10] (3.1.1: "processed as normal").
		mosqPub(t, port, cat(V, "-r", "-q", "1", "-t", "ret/a", "-m", "A2")...)
		mosqPub(t, port, cat(V, "-r", "-n", "-t", "ret/b")...)
		wantLines(t, "live messages to a subscriber", messages(sub, 4)[2:], []string{"1 0 ret/a A2", "0 0 ret/b "})

		// --retained-only prints the retained messages and exits at the
		// first message that is not: ret/b is gone, ret/a replaced.
		only := mosqSub(t, port, cat(V, "--retained-only", "-v", "-t", "ret/#")...)
		mosqPub(t, port, cat(V, "-t", "ret/live", "-m", "live")...)
		wantLines(t, "mosquitto_sub --retained-only", payloadLines(only.wait()), []string{"ret/a A2"})

		// Clearing the last one leaves nothing: a new subscriber's first
		// message is a live one.
		mosqPub(t, port, cat(V, "-r", "-n", "-t", "ret/a")...)
		waitSys(t, b, "clients/connected", "1") // sub
		empty := mosqSub(t, port, cat(V, "-C", "1", "-v", "-t", "ret/#")...)
		mosqPub(t, port, cat(V, "-t", "ret/live", "-m", "live")...)
		wantLines(t, "mosquitto_sub after clearing", payloadLines(empty.wait()), []string{"ret/live live"})
	})
}

// TestMosquittoCount checks that mosquitto_sub -C n exits with status 0
// after n messages.
func TestMosquittoCount(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	sub := mosqSub(t, port, "-C", "3", "-v", "-q", "1", "-t", "count/#")
	for i := range 3 {
		mosqPub(t, port, "-q", "1", "-t", "count/"+itoa(i), "-m", "n"+itoa(i))
	}
	wantLines(t, "mosquitto_sub -C 3", payloadLines(sub.wait()), []string{"count/0 n0", "count/1 n1", "count/2 n2"})
}

// TestMosquittoWill kills a mosquitto_sub that has a will with SIGKILL and
// checks another subscriber gets the will, retained; and that a client that
// disconnects normally has its will discarded [MQTT-3.1.2-10] (MQTT 5
// [MQTT-3.1.2-8]).
func TestMosquittoWill(t *testing.T) {
	t.Parallel()
	eachMosquittoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, V []string) {
		format := msgFormat
		if v.flag == "mqttv5" {
			format = `MSG %q %r %t %p %P\n`
		}
		watcher := mosqSub(t, port, cat(V, "-q", "1", "-t", "will/#", "-F", format)...)

		victimArgs := cat(V, "-i", "victim-"+v.name, "-t", "x/y",
			"--will-topic", "will/"+v.name, "--will-payload", "gone", "--will-qos", "1", "--will-retain")
		if v.flag == "mqttv5" {
			victimArgs = append(victimArgs, "-D", "will", "user-property", "why", "killed")
		}
		victim := mosqSub(t, port, victimArgs...)
		victim.kill(syscall.SIGKILL)
		want := "1 0 will/" + v.name + " gone"
		if v.flag == "mqttv5" {
			want += " why:killed"
		}
		wantLines(t, "will of a killed client", messages(watcher, 1), []string{want})

		// It was retained (--will-retain).
		late := startSub(t, port, cat(V, "-C", "1", "-F", msgFormat, "-t", "will/"+v.name)...).wait()
		wantLines(t, "retained will", msgs(late), []string{"0 1 will/" + v.name + " gone"})

		// A client that sends DISCONNECT loses its will.
		startSub(t, port, cat(V, "-i", "polite-"+v.name, "-E", "-t", "x/y",
			"--will-topic", "will/polite", "--will-payload", "polite")...).wait()
		waitSys(t, b, "clients/connected", "1") // the watcher only
		mosqPub(t, port, cat(V, "-q", "1", "-t", "will/marker", "-m", "marker")...)
		got := messages(watcher, 2)[1]
		if !strings.HasPrefix(got, "1 0 will/marker marker") {
			t.Errorf("after a normal disconnect the watcher got %q, want the marker", got)
		}
	})
}

// TestMosquittoPersistentSession disconnects a persistent subscriber
// (mosquitto_sub -c -i id -q 1), publishes, and checks the messages arrive
// in order when it reconnects; and that a clean session discards them.
func TestMosquittoPersistentSession(t *testing.T) {
	t.Parallel()
	eachMosquittoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, V []string) {
		id := "persist-" + v.name
		sub := cat(V, "-i", id, "-q", "1", "-t", "p/#")
		startSub(t, port, cat(sub, "-c", "-E")...).wait()
		waitSys(t, b, "clients/connected", "0")
		mosqPub(t, port, cat(V, "-q", "1", "-t", "p/1", "-m", "m1")...)
		mosqPub(t, port, cat(V, "-q", "2", "-t", "p/2", "-m", "m2")...)
		mosqPub(t, port, cat(V, "-q", "1", "-t", "p/3", "-m", "m3")...)
		back := startSub(t, port, cat(sub, "-c", "-C", "3", "-F", msgFormat)...)
		wantLines(t, "messages queued while offline", messages(back, 3), []string{"1 0 p/1 m1", "1 0 p/2 m2", "1 0 p/3 m3"})
		back.wait()

		// A clean session ends the stored one: what is published while
		// it is away is not kept for it.
		startSub(t, port, cat(sub, "-E")...).wait()
		waitSys(t, b, "clients/connected", "0")
		mosqPub(t, port, cat(V, "-q", "1", "-t", "p/lost", "-m", "lost")...)
		again := mosqSub(t, port, cat(sub, "-c", "-C", "1", "-F", msgFormat)...)
		mosqPub(t, port, cat(V, "-q", "1", "-t", "p/marker", "-m", "marker")...)
		wantLines(t, "after a clean session", messages(again, 1), []string{"1 0 p/marker marker"})
	})
}

// clockStart is where the broker clocks of the message expiry tests
// start.
var clockStart = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// TestMosquittoV5Properties sends PUBLISH properties with mosquitto_pub -D
// and checks mosquitto_sub -F prints them as sent [MQTT-3.3.2-15]
// [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20], with the
// message expiry counted down [MQTT-3.3.2-6], and that expired messages are
// not delivered, retained or queued [MQTT-3.3.2-5].
func TestMosquittoV5Properties(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	V5 := []string{"-V", "mqttv5"}
	props := []string{
		"-D", "PUBLISH", "user-property", "k", "v",
		"-D", "PUBLISH", "user-property", "k", "v2",
		"-D", "PUBLISH", "user-property", "key 2", "value 2",
		"-D", "PUBLISH", "content-type", "text/plain; charset=utf-8",
		"-D", "PUBLISH", "message-expiry-interval", "60",
		"-D", "PUBLISH", "response-topic", "reply/here",
		"-D", "PUBLISH", "correlation-data", "corr-1",
		"-D", "PUBLISH", "payload-format-indicator", "1",
	}

	t.Run("delivered", func(t *testing.T) {
		t.Parallel()
		clock := testutil.NewClock(clockStart)
		_, port := startBroker(t, broker.Config{AllowAnonymous: true, Now: clock.Now})
		format := `MSG %t|%P|%C|%E|%R|%D|%F|%q|%p\n`
		sub5 := mosqSub(t, port, cat(V5, "-q", "1", "-t", "props/#", "-F", format)...)
		sub3 := mosqSub(t, port, "-V", "mqttv311", "-q", "1", "-t", "props/#", "-F", format)
		for q := range 3 {
			mosqPub(t, port, append(cat(V5, "-q", itoa(q), "-t", "props/"+itoa(q), "-m", "hello"), props...)...)
		}
		var want5, want3 []string
		for q := range 3 {
			want5 = append(want5, "props/"+itoa(q)+"|k:v k:v2 key 2:value 2|text/plain; charset=utf-8|60|reply/here|corr-1|1|"+itoa(min(q, 1))+"|hello")
			want3 = append(want3, "props/"+itoa(q)+"|||||||"+itoa(min(q, 1))+"|hello")
		}
		wantLines(t, "MQTT 5 subscriber", messages(sub5, 3), want5)
		wantLines(t, "MQTT 3.1.1 subscriber (no properties)", messages(sub3, 3), want3)
	})

	t.Run("retained-expiry", func(t *testing.T) {
		t.Parallel()
		clock := testutil.NewClock(clockStart)
		b, port := startBroker(t, broker.Config{AllowAnonymous: true, Now: clock.Now})
		mosqPub(t, port, cat(V5, "-r", "-t", "exp/short", "-m", "s", "-D", "PUBLISH", "message-expiry-interval", "10")...)
		mosqPub(t, port, cat(V5, "-r", "-t", "exp/long", "-m", "l", "-D", "PUBLISH", "message-expiry-interval", "30")...)
		mosqPub(t, port, cat(V5, "-r", "-t", "exp/never", "-m", "n")...)
		waitSys(t, b, "clients/connected", "0") // the QoS 0 PUBLISHes are handled
		clock.Advance(11 * time.Second)
		sub := mosqSub(t, port, cat(V5, "--retained-only", "-t", "exp/#", "-F", `MSG %t %E %p\n`)...)
		mosqPub(t, port, cat(V5, "-t", "exp/live", "-m", "live")...)
		got := messages(sub, 2)
		slices.Sort(got)
		wantLines(t, "retained messages 11s later", got, []string{"exp/long 19 l", "exp/never  n"})
		sub.wait()
	})

	t.Run("queued-expiry", func(t *testing.T) {
		t.Parallel()
		clock := testutil.NewClock(clockStart)
		b, port := startBroker(t, broker.Config{AllowAnonymous: true, Now: clock.Now})
		sub := cat(V5, "-c", "-i", "expiring", "-q", "1", "-t", "q/#")
		startSub(t, port, cat(sub, "-E")...).wait()
		waitSys(t, b, "clients/connected", "0")
		mosqPub(t, port, cat(V5, "-q", "1", "-t", "q/old", "-m", "old", "-D", "PUBLISH", "message-expiry-interval", "5")...)
		mosqPub(t, port, cat(V5, "-q", "1", "-t", "q/soon", "-m", "soon", "-D", "PUBLISH", "message-expiry-interval", "50")...)
		mosqPub(t, port, cat(V5, "-q", "1", "-t", "q/keep", "-m", "keep")...)
		clock.Advance(6 * time.Second)
		back := startSub(t, port, cat(sub, "-C", "2", "-F", `MSG %t %E %p\n`)...)
		wantLines(t, "queued messages 6s later", messages(back, 2), []string{"q/soon 44 soon", "q/keep  keep"})
		back.wait()
	})
}

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
