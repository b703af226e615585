package interop_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// pahoVersions are the protocol versions of testdata/pahoclient.py
// (--protocol).
var pahoVersions = []protoVersion{
	{"v5", "5"},
	{"v311", "311"},
	{"v31", "31"},
}

// eachPahoVersion runs body, as eachVersion does, for each version of
// pahoclient.py (--protocol). It fails the test if paho is not installed.
func eachPahoVersion(t *testing.T, body versionBody) {
	t.Helper()
	needPaho(t)
	eachVersion(t, pahoVersions, "--protocol", body)
}

// pahoMsg is a message as pahoclient.py prints it.
type pahoMsg struct {
	Topic   string    `json:"topic"`
	Payload string    `json:"payload"`
	QoS     int       `json:"qos"`
	Retain  bool      `json:"retain"`
	Props   pahoProps `json:"props"`
}

// pahoProps are the MQTT 5 properties of a received message.
type pahoProps struct {
	ContentType            string      `json:",omitempty"`
	MessageExpiryInterval  *int        `json:",omitempty"`
	ResponseTopic          string      `json:",omitempty"`
	CorrelationData        string      `json:",omitempty"`
	PayloadFormatIndicator *int        `json:",omitempty"`
	SubscriptionIdentifier []int       `json:",omitempty"`
	TopicAlias             *int        `json:",omitempty"`
	UserProperty           [][2]string `json:",omitempty"`
}

func intp(n int) *int { return &n }

// startPaho starts pahoclient.py in mode ("sub" or "pub") against
// 127.0.0.1:port.
func startPaho(t *testing.T, port, mode string, args ...string) *proc {
	t.Helper()
	return startPython(t, "pahoclient.py", cat([]string{mode, "--port", port}, args...)...)
}

// pahoSub starts a pahoclient.py subscriber and waits until its
// subscriptions are acknowledged.
func pahoSub(t *testing.T, port string, args ...string) *proc {
	t.Helper()
	p := startPaho(t, port, "sub", args...)
	p.waitLine("SUBSCRIBED ")
	return p
}

// pahoPub publishes one message with pahoclient.py and waits until it has
// been acknowledged (QoS 1 and 2) and the client has disconnected.
func pahoPub(t *testing.T, port string, args ...string) {
	t.Helper()
	out := startPaho(t, port, "pub", args...).wait()
	wantContains(t, "pahoclient.py pub", out, "CONNECTED 0 ", "PUBLISHED ", "DONE")
}

// pahoMessages waits for n messages from a pahoclient.py subscriber.
func pahoMessages(p *proc, n int) []pahoMsg {
	p.t.Helper()
	lines := p.waitLines(n, func(l string) bool { return strings.HasPrefix(l, "MSG ") })
	msgs := make([]pahoMsg, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "MSG ")), &msgs[i]); err != nil {
			p.t.Fatalf("%s: %v", l, err)
		}
	}
	return msgs
}

// wantMsgs fails the test unless got equals want.
func wantMsgs(t *testing.T, what string, got, want []pahoMsg) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}

// TestPahoQoS publishes with paho at QoS 0, 1 and 2 to paho subscribers at
// QoS 0, 1 and 2 and checks each message arrives once at the lower QoS.
func TestPahoQoS(t *testing.T) {
	t.Parallel()
	eachPahoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, P []string) {
		var subs [3]*proc
		for q := range subs {
			subs[q] = startPaho(t, port, "sub", cat(P, "--id", "psub"+itoa(q)+"-"+v.name, "--sub", "qos/#:"+itoa(q))...)
		}
		for q, sub := range subs {
			if got := sub.waitLine("SUBSCRIBED "); got != "SUBSCRIBED 1 "+itoa(q) {
				t.Errorf("subscriber at QoS %d: %q, want granted QoS %d", q, got, q)
			}
		}
		for q := range 3 {
			pahoPub(t, port, cat(P, "--topic", "qos/"+itoa(q), "--payload", "m"+itoa(q), "--qos", itoa(q))...)
		}
		for sq, sub := range subs {
			var want []pahoMsg
			for pq := range 3 {
				want = append(want, pahoMsg{Topic: "qos/" + itoa(pq), Payload: "m" + itoa(pq), QoS: min(pq, sq)})
			}
			wantMsgs(t, "subscriber at QoS "+itoa(sq), pahoMessages(sub, 3), want)
		}
	})
}

// TestPahoRetained sets a retained message with paho, receives it on
// subscribe with the retain flag, and clears it with an empty payload.
func TestPahoRetained(t *testing.T) {
	t.Parallel()
	eachPahoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, P []string) {
		pahoPub(t, port, cat(P, "--topic", "ret/a", "--payload", "A", "--qos", "1", "--retain")...)
		sub := pahoSub(t, port, cat(P, "--sub", "ret/#:2")...)
		wantMsgs(t, "retained on subscribe", pahoMessages(sub, 1), []pahoMsg{{Topic: "ret/a", Payload: "A", QoS: 1, Retain: true}})

		// An empty retained message clears it, and reaches the
		// subscriber that is already there without the retain flag.
		pahoPub(t, port, cat(P, "--topic", "ret/a", "--qos", "1", "--retain")...)
		wantMsgs(t, "the clearing message", pahoMessages(sub, 2)[1:], []pahoMsg{{Topic: "ret/a", QoS: 1}})

		late := pahoSub(t, port, cat(P, "--sub", "ret/#:2", "--count", "1")...)
		pahoPub(t, port, cat(P, "--topic", "ret/live", "--payload", "live")...)
		wantMsgs(t, "after clearing", pahoMessages(late, 1), []pahoMsg{{Topic: "ret/live", Payload: "live"}})
		late.wait()
	})
}

// TestPahoWill kills a paho client that has a will with SIGKILL and checks
// the will is published; a client that disconnects has it discarded.
func TestPahoWill(t *testing.T) {
	t.Parallel()
	eachPahoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, P []string) {
		watcher := pahoSub(t, port, cat(P, "--sub", "will/#:2")...)
		victim := pahoSub(t, port, cat(P, "--id", "victim-"+v.name, "--sub", "x/y:0",
			"--will-topic", "will/"+v.name, "--will-payload", "gone", "--will-qos", "1",
			"--user-prop", "why=killed", "--content-type", "text/plain")...)
		victim.kill(syscall.SIGKILL)
		want := pahoMsg{Topic: "will/" + v.name, Payload: "gone", QoS: 1}
		if v.flag == "5" {
			want.Props = pahoProps{UserProperty: [][2]string{{"why", "killed"}}, ContentType: "text/plain"}
		}
		wantMsgs(t, "will of a killed client", pahoMessages(watcher, 1), []pahoMsg{want})

		startPaho(t, port, "sub", cat(P, "--id", "polite-"+v.name, "--sub", "x/y:0", "--exit-after-subscribe",
			"--will-topic", "will/polite", "--will-payload", "polite")...).wait()
		waitSys(t, b, "clients/connected", "1") // the watcher only
		pahoPub(t, port, cat(P, "--topic", "will/marker", "--payload", "marker", "--qos", "1")...)
		wantMsgs(t, "after a normal disconnect", pahoMessages(watcher, 2)[1:], []pahoMsg{{Topic: "will/marker", Payload: "marker", QoS: 1}})
	})
}

// TestPahoPersistentSession subscribes with clean_session=False (MQTT 5:
// clean_start=False and a Session Expiry Interval), disconnects, and checks
// the messages published meanwhile arrive, in order, when it reconnects
// with the session present flag set (3.1.1 and 5) [MQTT-3.2.2-2].
func TestPahoPersistentSession(t *testing.T) {
	t.Parallel()
	eachPahoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, P []string) {
		session := cat(P, "--id", "pers-"+v.name, "--no-clean")
		if v.flag == "5" {
			session = cat(session, "--session-expiry", "300")
		}
		first := startPaho(t, port, "sub", cat(session, "--sub", "p/#:2", "--exit-after-subscribe")...).wait()
		wantContains(t, "first connection", first, "CONNECTED 0 0", "SUBSCRIBED 1 2", "DONE")
		waitSys(t, b, "clients/connected", "0")

		pahoPub(t, port, cat(P, "--topic", "p/1", "--payload", "m1", "--qos", "1")...)
		pahoPub(t, port, cat(P, "--topic", "p/2", "--payload", "m2", "--qos", "2")...)
		pahoPub(t, port, cat(P, "--topic", "p/3", "--payload", "m3", "--qos", "1")...)

		// Reconnect without subscribing: the session has the subscription.
		// (paho hands a QoS 2 message over at PUBREL, so m3 may come
		// before m2.)
		back := startPaho(t, port, "sub", cat(session, "--count", "3")...)
		got := pahoMessages(back, 3)
		slices.SortFunc(got, func(a, b pahoMsg) int { return strings.Compare(a.Topic, b.Topic) })
		wantMsgs(t, "messages queued while offline", got, []pahoMsg{
			{Topic: "p/1", Payload: "m1", QoS: 1},
			{Topic: "p/2", Payload: "m2", QoS: 2},
			{Topic: "p/3", Payload: "m3", QoS: 1},
		})
		present := "1"
		if v.flag == "31" {
			present = "0" // MQTT 3.1's CONNACK has no session present flag
		}
		wantContains(t, "second connection", back.wait(), "CONNECTED 0 "+present, "DONE")
	})
}

// TestPahoV5Properties publishes with paho's MQTT 5 properties and checks a
// paho MQTT 5 subscriber gets them unchanged [MQTT-3.3.2-15]
// [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20], the
// expiry counted down [MQTT-3.3.2-6], user properties in order.
func TestPahoV5Properties(t *testing.T) {
	t.Parallel()
	needPaho(t)
	clock := testutil.NewClock(clockStart)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true, Now: clock.Now})
	sub := pahoSub(t, port, "--protocol", "5", "--sub", "props/#:2")
	if got := sub.lines(); !slices.Contains(got, "SUBSCRIBED 1 2") {
		t.Errorf("SUBACK: %q, want granted QoS 2", got)
	}
	pahoPub(t, port, "--protocol", "5", "--topic", "props/a", "--payload", "hello", "--qos", "2",
		"--user-prop", "k=v", "--user-prop", "k=v2", "--user-prop", "key 2=value 2",
		"--content-type", "application/json", "--message-expiry", "60",
		"--response-topic", "reply/here", "--correlation-data", "corr-1", "--payload-format", "1")
	wantMsgs(t, "MQTT 5 message", pahoMessages(sub, 1), []pahoMsg{{Topic: "props/a", Payload: "hello", QoS: 2, Props: pahoProps{
		ContentType:            "application/json",
		MessageExpiryInterval:  intp(60),
		ResponseTopic:          "reply/here",
		CorrelationData:        "corr-1",
		PayloadFormatIndicator: intp(1),
		UserProperty:           [][2]string{{"k", "v"}, {"k", "v2"}, {"key 2", "value 2"}},
	}}})
}

// TestCrossClients sends between mosquitto's tools and paho through the
// broker, MQTT 5 properties included, and across protocol versions.
func TestCrossClients(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	needPaho(t)
	clock := testutil.NewClock(clockStart)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true, Now: clock.Now})

	paho5 := pahoSub(t, port, "--protocol", "5", "--sub", "cross/#:1")
	paho31 := pahoSub(t, port, "--protocol", "31", "--sub", "cross/#:2")
	mosq5 := mosqSub(t, port, "-V", "mqttv5", "-q", "2", "-t", "cross/#", "-F", `MSG %q %t %p %P|%C|%E\n`)

	mosqPub(t, port, "-V", "mqttv5", "-q", "2", "-t", "cross/mosquitto", "-m", "from mosquitto",
		"-D", "PUBLISH", "user-property", "src", "mosquitto_pub",
		"-D", "PUBLISH", "content-type", "text/plain",
		"-D", "PUBLISH", "message-expiry-interval", "100")
	pahoPub(t, port, "--protocol", "5", "--qos", "1", "--topic", "cross/paho", "--payload", "from paho",
		"--user-prop", "src=paho", "--content-type", "text/csv", "--message-expiry", "200")
	pahoPub(t, port, "--protocol", "31", "--qos", "2", "--topic", "cross/paho31", "--payload", "from paho 3.1")

	wantMsgs(t, "paho MQTT 5", pahoMessages(paho5, 3), []pahoMsg{
		{Topic: "cross/mosquitto", Payload: "from mosquitto", QoS: 1, Props: pahoProps{
			UserProperty: [][2]string{{"src", "mosquitto_pub"}}, ContentType: "text/plain", MessageExpiryInterval: intp(100)}},
		{Topic: "cross/paho", Payload: "from paho", QoS: 1, Props: pahoProps{
			UserProperty: [][2]string{{"src", "paho"}}, ContentType: "text/csv", MessageExpiryInterval: intp(200)}},
		{Topic: "cross/paho31", Payload: "from paho 3.1", QoS: 1},
	})
	wantMsgs(t, "paho MQTT 3.1", pahoMessages(paho31, 3), []pahoMsg{
		{Topic: "cross/mosquitto", Payload: "from mosquitto", QoS: 2},
		{Topic: "cross/paho", Payload: "from paho", QoS: 1},
		{Topic: "cross/paho31", Payload: "from paho 3.1", QoS: 2},
	})
	wantLines(t, "mosquitto_sub MQTT 5", messages(mosq5, 3), []string{
		"2 cross/mosquitto from mosquitto src:mosquitto_pub|text/plain|100",
		"1 cross/paho from paho src:paho|text/csv|200",
		"2 cross/paho31 from paho 3.1 ||",
	})
}

// TestPahoSubscriptionOptions checks MQTT 5's subscription options as
// paho sets them: No Local [MQTT-3.8.3-3], Retain As Published
// [MQTT-3.3.1-12] [MQTT-3.3.1-13] and Retain Handling [MQTT-3.3.1-9]
// [MQTT-3.3.1-10] [MQTT-3.3.1-11].
func TestPahoSubscriptionOptions(t *testing.T) {
	t.Parallel()
	needPaho(t)
	P5 := []string{"--protocol", "5"}

	t.Run("no-local", func(t *testing.T) {
		t.Parallel()
		_, port := startBroker(t, broker.Config{AllowAnonymous: true})
		other := pahoSub(t, port, cat(P5, "--sub", "nl/#:1")...)
		self := pahoSub(t, port, cat(P5, "--sub", "nl/#:1:nl", "--then-pub", "nl/own=mine")...)
		wantMsgs(t, "another subscriber", pahoMessages(other, 1), []pahoMsg{{Topic: "nl/own", Payload: "mine", QoS: 1}})
		pahoPub(t, port, cat(P5, "--topic", "nl/other", "--payload", "theirs", "--qos", "1")...)
		wantMsgs(t, "the No Local subscriber", pahoMessages(self, 1), []pahoMsg{{Topic: "nl/other", Payload: "theirs", QoS: 1}})
	})

	t.Run("retain-as-published", func(t *testing.T) {
		t.Parallel()
		_, port := startBroker(t, broker.Config{AllowAnonymous: true})
		rap := pahoSub(t, port, cat(P5, "--sub", "rap/#:1:rap")...)
		plain := pahoSub(t, port, cat(P5, "--sub", "rap/#:1")...)
		pahoPub(t, port, cat(P5, "--topic", "rap/x", "--payload", "r", "--qos", "1", "--retain")...)
		pahoPub(t, port, cat(P5, "--topic", "rap/x", "--payload", "n", "--qos", "1")...)
		wantMsgs(t, "Retain As Published", pahoMessages(rap, 2), []pahoMsg{{Topic: "rap/x", Payload: "r", QoS: 1, Retain: true}, {Topic: "rap/x", Payload: "n", QoS: 1}})
		wantMsgs(t, "without it", pahoMessages(plain, 2), []pahoMsg{{Topic: "rap/x", Payload: "r", QoS: 1}, {Topic: "rap/x", Payload: "n", QoS: 1}})
	})

	t.Run("retain-handling", func(t *testing.T) {
		t.Parallel()
		_, port := startBroker(t, broker.Config{AllowAnonymous: true})
		pahoPub(t, port, cat(P5, "--topic", "rh/x", "--payload", "kept", "--qos", "1", "--retain")...)
		retained := pahoMsg{Topic: "rh/x", Payload: "kept", QoS: 1, Retain: true}
		marker := pahoMsg{Topic: "rh/marker", Payload: "m", QoS: 1}

		send := pahoSub(t, port, cat(P5, "--sub", "rh/#:1:rh=0", "--count", "1")...)
		wantMsgs(t, "Retain Handling 0", pahoMessages(send, 1), []pahoMsg{retained})
		send.wait()

		// 1: only for a new subscription. The session keeps it between
		// the two connections.
		session := cat(P5, "--id", "rh1", "--no-clean", "--session-expiry", "300", "--sub", "rh/#:1:rh=1")
		first := pahoSub(t, port, cat(session, "--count", "1")...)
		wantMsgs(t, "Retain Handling 1, new subscription", pahoMessages(first, 1), []pahoMsg{retained})
		first.wait()
		again := pahoSub(t, port, cat(session, "--count", "1")...)

		never := pahoSub(t, port, cat(P5, "--sub", "rh/#:1:rh=2", "--count", "1")...)
		pahoPub(t, port, cat(P5, "--topic", "rh/marker", "--payload", "m", "--qos", "1")...)
		wantMsgs(t, "Retain Handling 1, existing subscription", pahoMessages(again, 1), []pahoMsg{marker})
		wantMsgs(t, "Retain Handling 2", pahoMessages(never, 1), []pahoMsg{marker})
	})
}

// TestPahoConnack checks the CONNACK properties paho sees: the ones
// Mosquitto 2.0 sends (Receive Maximum 20, Topic Alias Maximum 10), an
// Assigned Client Identifier for an empty one [MQTT-3.2.2-16] and none
// otherwise, and Server Keep Alive when max_keepalive is lower than asked
// [MQTT-3.2.2-21].
func TestPahoConnack(t *testing.T) {
	t.Parallel()
	needPaho(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true, MaxKeepalive: 30})
	connack := func(args ...string) map[string]any {
		t.Helper()
		line := strings.TrimPrefix(startPaho(t, port, "sub", cat([]string{"--protocol", "5", "--exit-after-connect"}, args...)...).waitLine("CONNACK "), "CONNACK ")
		var props map[string]any
		if err := json.Unmarshal([]byte(line), &props); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return props
	}
	check := func(what string, props map[string]any, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if props[k] != v {
				t.Errorf("%s: CONNACK %s = %v, want %v (all: %v)", what, k, props[k], v, props)
			}
		}
	}
	anon := connack("--keepalive", "20")
	check("empty client id", anon, map[string]any{"ReceiveMaximum": 20.0, "TopicAliasMaximum": 10.0, "ServerKeepAlive": nil})
	if id, _ := anon["AssignedClientIdentifier"].(string); !strings.HasPrefix(id, "auto-") {
		t.Errorf("empty client id: Assigned Client Identifier %q, want auto-...", id)
	}
	named := connack("--id", "named", "--keepalive", "60")
	check("client id and keep alive 60", named, map[string]any{"AssignedClientIdentifier": nil, "ServerKeepAlive": 30.0})
}

// TestPahoUnsubscribe unsubscribes one of two filters with paho and checks
// only the other still delivers.
func TestPahoUnsubscribe(t *testing.T) {
	t.Parallel()
	eachPahoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, P []string) {
		sub := pahoSub(t, port, cat(P, "--sub", "un/#:1", "--sub", "marker:1", "--unsub", "un/#")...)
		sub.waitLine("UNSUBSCRIBED ")
		pahoPub(t, port, cat(P, "--topic", "un/a", "--payload", "gone", "--qos", "1")...)
		pahoPub(t, port, cat(P, "--topic", "marker", "--payload", "m", "--qos", "1")...)
		wantMsgs(t, "after UNSUBSCRIBE", pahoMessages(sub, 1), []pahoMsg{{Topic: "marker", Payload: "m", QoS: 1}})
	})
}

// TestPahoKeepAlive has paho ping the broker with a keep alive of 1 second.
func TestPahoKeepAlive(t *testing.T) {
	t.Parallel()
	needPaho(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	out := startPaho(t, port, "sub", "--keepalive", "1", "--sub", "k:0", "--pings", "1").wait()
	wantContains(t, "paho with keep alive 1", out, "SUBSCRIBED ", "PINGRESP", "DONE")
}

// TestPahoKeepAliveTimeout stops (SIGSTOP) a paho client with a keep alive
// of 1 second: the broker must close its connection within one and a half
// times that [MQTT-3.1.2-24] and publish its will [MQTT-3.1.2-8].
func TestPahoKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	needPaho(t)
	b, port := startBroker(t, broker.Config{AllowAnonymous: true})
	watcher := pahoSub(t, port, "--sub", "will/#:1")
	silent := pahoSub(t, port, "--keepalive", "1", "--sub", "x:0", "--will-topic", "will/silent", "--will-payload", "timed out")
	silent.signal(syscall.SIGSTOP)
	wantMsgs(t, "will of a client that stopped", pahoMessages(watcher, 1), []pahoMsg{{Topic: "will/silent", Payload: "timed out"}})
	waitSys(t, b, "clients/connected", "1")
}

// TestMosquittoRequestResponse sends a request with mosquitto_rr (MQTT 5
// Response Topic) to a paho responder that answers on the response topic
// with the request's Correlation Data.
func TestMosquittoRequestResponse(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	needPaho(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	responder := pahoSub(t, port, "--protocol", "5", "--sub", "req/#:1", "--reply")
	out := startMosquitto(t, "mosquitto_rr", "-h", "127.0.0.1", "-p", port, "-t", "req/time", "-e", "resp/time", "-m", "what time is it",
		"-D", "PUBLISH", "correlation-data", "c-42").wait()
	wantLines(t, "mosquitto_rr", out, []string{"re: what time is it"})
	wantMsgs(t, "the request", pahoMessages(responder, 1), []pahoMsg{{Topic: "req/time", Payload: "what time is it", Props: pahoProps{ResponseTopic: "resp/time", CorrelationData: "c-42"}}})
}

// TestPahoSessionTakeover connects a second client with a connected one's
// client identifier: the first is disconnected [MQTT-3.1.4-2] (MQTT 5:
// with DISCONNECT 0x8E Session taken over [MQTT-3.1.4-3]) and its will is
// published, as Mosquitto does.
func TestPahoSessionTakeover(t *testing.T) {
	t.Parallel()
	eachPahoVersion(t, func(t *testing.T, v protoVersion, b *testutil.Broker, port string, P []string) {
		watcher := pahoSub(t, port, cat(P, "--sub", "will/#:1")...)
		first := pahoSub(t, port, cat(P, "--id", "same", "--sub", "x:1", "--will-topic", "will/first", "--will-payload", "taken over")...)
		second := startPaho(t, port, "sub", cat(P, "--id", "same", "--sub", "x:1", "--exit-after-subscribe")...).wait()
		wantContains(t, "second client", second, "CONNECTED 0 0", "SUBSCRIBED 1 1", "DONE")
		first.waitLine("DISCONNECTED ")
		wantMsgs(t, "will of the first client", pahoMessages(watcher, 1), []pahoMsg{{Topic: "will/first", Payload: "taken over"}})
	})
	t.Run("v5-reason-code", func(t *testing.T) {
		t.Parallel()
		b, port := startBroker(t, broker.Config{AllowAnonymous: true})
		first, _ := testutil.Connect(t, b.Addr, packet.Version5, "same")
		startPaho(t, port, "sub", "--protocol", "5", "--id", "same", "--exit-after-connect").wait()
		d := testutil.Expect[*packet.Disconnect](first)
		if d.ReasonCode != packet.SessionTakenOver {
			t.Errorf("DISCONNECT to the first client: reason %v, want %v", d.ReasonCode, packet.SessionTakenOver)
		}
		first.ExpectClosed()
	})
}

// TestClientTopicAliasMaximum connects mosquitto_sub and paho announcing a
// Topic Alias Maximum of 10 in CONNECT and checks each message arrives
// under its topic name. Neither libmosquitto 2.0 (handle__publish refuses
// an empty topic: "A network protocol error", the client exits) nor paho
// 1.6 (on_message gets topic "") resolves topic aliases the server sends,
// although both let the application announce a maximum, and so break
// [MQTT-3.3.2-10]. Mosquitto never sends aliases to clients, so these
// clients work with it. The protocol lets a server use aliases up to the
// client's maximum [MQTT-3.3.2-11]; a drop-in for Mosquitto must not, at
// least by default.
func TestClientTopicAliasMaximum(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	needPaho(t)
	_, port := startBroker(t, broker.Config{AllowAnonymous: true})
	mosq := mosqSub(t, port, "-V", "mqttv5", "-q", "1", "-t", "ta/#", "-D", "CONNECT", "topic-alias-maximum", "10", "-F", msgFormat)
	paho := pahoSub(t, port, "--protocol", "5", "--topic-alias-maximum", "10", "--sub", "ta/#:1")
	startMosquittoInput(t, "a\nb\nc\n", "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-q", "1", "-l", "-t", "ta/x").wait()

	got := pahoMessages(paho, 3)
	for i, m := range got {
		if m.Topic != "ta/x" {
			t.Errorf("paho message %d (%q): topic %q, want \"ta/x\" (properties %+v)", i, m.Payload, m.Topic, m.Props)
		}
	}
	testutil.WaitFor(t, "3 messages or mosquitto_sub's exit", func() bool {
		select {
		case <-mosq.done:
			return true
		default:
			return len(msgs(mosq.lines())) >= 3
		}
	})
	wantLines(t, "mosquitto_sub", msgs(mosq.lines()), []string{"1 0 ta/x a", "1 0 ta/x b", "1 0 ta/x c"})
}

// TestManyRetained publishes 1,500 retained QoS 0 messages with paho and
// subscribes to them all with mosquitto_sub, as a dashboard subscribing to
// "#" does. Every retained message must be sent on subscribe
// [MQTT-3.3.1-6] (MQTT 5 [MQTT-3.3.1-9]); Mosquitto 2.0 sends all of them,
// since its max_queued_messages (1,000) bounds QoS 1 and 2 messages waiting
// beyond those in flight, and QoS 0 ones only by the packets not yet written
// to the socket.
func TestManyRetained(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	needPaho(t)
	b, port := startBroker(t, broker.Config{AllowAnonymous: true})
	const n = 1500
	pahoPub(t, port, "--topic", "many", "--payload", "v", "--retain", "--repeat", itoa(n))
	waitSys(t, b, "clients/connected", "0") // its QoS 0 PUBLISHes are handled
	sub := mosqSub(t, port, "--retained-only", "-t", "many/#", "-F", `MSG %t\n`)
	mosqPub(t, port, "-t", "many/live", "-m", "live")
	got := msgs(sub.wait())
	if len(got) != n {
		t.Errorf("mosquitto_sub --retained-only got %d retained messages, want %d", len(got), n)
	}
	slices.Sort(got)
	if got = slices.Compact(got); len(got) != n {
		t.Errorf("%d distinct topics, want %d", len(got), n)
	}
}
