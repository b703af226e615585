package interop_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// The tests in this file follow the beginner's tutorial described in
// docs/tutorial.md, which users follow line by line, with "-p PORT" added
// because the tests cannot use 1883.

// TestTutorialCommandLine runs the tutorial's two commands ("使用command
// line操作測試(無密碼)") as written: the subscriber prints the message.
// localhost may resolve to ::1 or to 127.0.0.1, so the broker listens on
// both, and each address is also tried explicitly.
func TestTutorialCommandLine(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, port := startLocalhostBroker(t, broker.Config{AllowAnonymous: true})
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			// mosquitto_sub -d -h localhost -t test/topic
			sub := startMosquitto(t, "mosquitto_sub", "-d", "-h", host, "-p", port, "-t", "test/topic")
			sub.waitLine("Subscribed (mid: 1): 0")
			// mosquitto_pub -d -h localhost -t test/topic -m "Hello, Mosquitto!"
			pub := startMosquitto(t, "mosquitto_pub", "-d", "-h", host, "-p", port, "-t", "test/topic", "-m", "Hello, Mosquitto!").wait()
			wantContains(t, "mosquitto_pub -d", pub,
				"sending CONNECT", "received CONNACK (0)",
				"sending PUBLISH (d0, q0, r0, m1, 'test/topic', ... (17 bytes))", "sending DISCONNECT")
			sub.waitLines(1, func(l string) bool { return l == "Hello, Mosquitto!" })
			wantContains(t, "mosquitto_sub -d", sub.lines(),
				"sending CONNECT", "received CONNACK (0)",
				"sending SUBSCRIBE (Mid: 1, Topic: test/topic, QoS: 0, Options: 0x00)", "received SUBACK",
				"Subscribed (mid: 1): 0",
				"received PUBLISH (d0, q0, r0, m0, 'test/topic', ... (17 bytes))", "Hello, Mosquitto!")
		})
	}
}

// TestTutorialCommandLinePassword follows "使用command line操作測試(有密碼)":
// a password file made with mosquitto_passwd, allow_anonymous false, and
// mosquitto_pub with -u and -P. The tutorial's subscriber command there has
// no -u/-P, so Mosquitto refuses it ("not authorised"): midge must too.
func TestTutorialCommandLinePassword(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	pwfile := filepath.Join(t.TempDir(), "pwfile")
	// sudo mosquitto_passwd -c /etc/mosquitto/pwfile TYPE_YOUR_USERNAME
	// (-b gives the password on the command line instead of a prompt.)
	testutil.MosquittoPasswd(t, "", "-c", "-b", pwfile, "student", "s3cret pass")
	pf, err := auth.LoadPasswordFile(pwfile)
	if err != nil {
		t.Fatal(err)
	}
	_, port := startLocalhostBroker(t, broker.Config{AllowAnonymous: false, Authenticators: []broker.Authenticator{pf}})

	// The tutorial's subscriber, without credentials, is refused, and so
	// are wrong credentials, as Mosquitto 2.0 refuses them: CONNACK 5 (3.1,
	// 3.1.1) or 0x87 Not authorized (5) whatever is wrong; mosquitto_sub
	// and mosquitto_pub exit with that code.
	anon := startMosquitto(t, "mosquitto_sub", "-d", "-h", "localhost", "-p", port, "-t", "test/topic")
	anon.waitExit(5)
	if out := anon.output(); !strings.Contains(out, "Connection error: Connection Refused: not authorised.") {
		t.Errorf("anonymous mosquitto_sub: want \"Connection Refused: not authorised.\", got\n%s", out)
	}
	for _, v := range mqttVersions {
		for _, cred := range [][]string{nil, {"-u", "student", "-P", "wrong"}, {"-u", "nobody", "-P", "s3cret pass"}, {"-u", "student"}} {
			t.Run(v.name+strings.Join(cred, "_"), func(t *testing.T) {
				p := startMosquitto(t, "mosquitto_pub", cat([]string{"-h", "localhost", "-p", port, "-V", v.flag, "-t", "test/topic", "-m", "x"}, cred...)...)
				code, msg := 5, "Connection error: Connection Refused: not authorised."
				if v.flag == "mqttv5" {
					code, msg = 0x87, "Connection error: Not authorized"
				}
				p.waitExit(code)
				if out := p.output(); !strings.Contains(out, msg) {
					t.Errorf("want %q, got\n%s", msg, out)
				}
			})
		}
	}

	sub := startMosquitto(t, "mosquitto_sub", "-d", "-h", "localhost", "-p", port, "-t", "test/topic", "-u", "student", "-P", "s3cret pass")
	sub.waitLine("Subscribed (mid: 1): 0")
	// mosquitto_pub -d -h localhost -t test/topic -u USERNAME -P PASSWORD -m "Hello, Mosquitto!"
	startMosquitto(t, "mosquitto_pub", "-d", "-h", "localhost", "-p", port, "-t", "test/topic", "-u", "student", "-P", "s3cret pass", "-m", "Hello, Mosquitto!").wait()
	sub.waitLines(1, func(l string) bool { return l == "Hello, Mosquitto!" })
}

// TestTutorialPython runs the tutorial's Python programs ("使用python操作"),
// ported to Python 3: the subscriber subscribes to kids/yolo and adult/#,
// prints each message and answers it with 'ack' on pong; the publisher
// sends one message with publish.single and four with publish.multiple.
func TestTutorialPython(t *testing.T) {
	t.Parallel()
	needPaho(t)
	b, port := startLocalhostBroker(t, broker.Config{AllowAnonymous: true})

	pong, _ := testutil.Connect(t, b.Addr, packet.Version311, "pong-watcher")
	pong.Subscribe(1, "pong", 0)

	sub := startPython(t, "tutorial_subscribe.py", port)
	// The program has no on_subscribe: wait until the broker holds its two
	// subscriptions besides the watcher's.
	waitSys(t, b, "subscriptions/count", "3")

	startPython(t, "tutorial_publish.py", port).wait()

	want := []string{
		"kids/yolo-20s 0 just do it",
		"kids/yolo-20s 0 jump",
		"adult/pics-20s 0 some photo",
		"adult/news-20s 0 extra extra",
		"adult/news-20s 0 super extra",
	}
	got := sub.waitLines(len(want), func(string) bool { return true })
	// publish.single and publish.multiple use a connection each, and MQTT
	// orders messages per connection only: under load the first one's
	// message may be routed after the second's. Within publish.multiple
	// the order holds.
	single := slices.Index(got, want[0])
	if single < 0 {
		wantLines(t, "subscriber output", got, want)
	} else {
		wantLines(t, "subscriber output for publish.multiple", slices.Delete(slices.Clone(got), single, single+1), want[1:])
	}

	for i := range want {
		p := testutil.Expect[*packet.Publish](pong)
		if p.Topic != "pong" || string(p.Payload) != "ack" || p.QoS != 0 {
			t.Errorf("pong %d: got %q %q QoS %d, want \"pong\" \"ack\" QoS 0", i, p.Topic, p.Payload, p.QoS)
		}
	}
	// The subscriber is still looping.
	select {
	case <-sub.done:
		t.Errorf("the subscriber exited (%v)\n%s", sub.err, sub.output())
	default:
	}
}
