package interop_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// mqttjsModules is where scripts/test installs mqtt.js (npm install
// --prefix interop/node mqtt@5), relative to this package's directory.
const mqttjsModules = "node/node_modules"

const mqttjsHint = "install Node.js and MQTT.js with: apt-get install nodejs npm && " +
	"npm install --no-audit --no-fund --prefix interop/node mqtt@5 (scripts/test runs the npm command when node and npm exist)"

// needMQTTjs fails the test unless node and MQTT.js are installed, and
// returns node's path.
func needMQTTjs(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v; %s", err, mqttjsHint)
	}
	if _, err := os.Stat(filepath.Join(mqttjsModules, "mqtt", "package.json")); err != nil {
		t.Fatalf("MQTT.js is not installed in interop/%s: %v; %s", mqttjsModules, err, mqttjsHint)
	}
	return node
}

// wsClient is a client library that speaks MQTT over WebSockets.
type wsClient struct {
	name string
	// need fails the test unless the client is installed.
	need func(t *testing.T)
	// sub starts a subscriber to filter on the WebSocket listener on port
	// (wss:// if ca, the CA file to verify the broker with, is set; MQTT 5
	// if v5) that exits after count messages, and waits until the broker
	// has acknowledged the subscription. It prints "MSG TOPIC PAYLOAD".
	sub func(t *testing.T, port, ca string, v5 bool, filter string, count int) *proc
	// pub publishes one message at QoS 1 and waits until it is
	// acknowledged and the client has disconnected.
	pub func(t *testing.T, port, ca string, v5 bool, topic, payload string)
}

// pahoWS is paho-mqtt 1.6 with transport="websockets" (testdata/pahows.py).
var pahoWS = wsClient{
	name: "paho",
	need: needPaho,
	sub: func(t *testing.T, port, ca string, v5 bool, filter string, count int) *proc {
		t.Helper()
		p := startPython(t, "pahows.py", pahoWSArgs("sub", port, ca, v5, "--topic", filter, "--qos", "1", "--count", itoa(count))...)
		p.waitLine("SUBSCRIBED ")
		return p
	},
	pub: func(t *testing.T, port, ca string, v5 bool, topic, payload string) {
		t.Helper()
		out := startPython(t, "pahows.py", pahoWSArgs("pub", port, ca, v5, "--topic", topic, "--payload", payload, "--qos", "1")...).wait()
		wantContains(t, "pahows.py pub", out, "CONNECTED 0", "PUBLISHED ", "DONE")
	},
}

// pahoWSArgs are the arguments of pahows.py for a WebSocket client.
func pahoWSArgs(mode, port, ca string, v5 bool, args ...string) []string {
	a := []string{mode, "--port", port}
	if ca != "" {
		a = append(a, "--cafile", ca)
	}
	if v5 {
		a = append(a, "--protocol", "5")
	}
	return append(a, args...)
}

// mqttjsWS is MQTT.js 5 under Node.js (testdata/mqttjs.js).
var mqttjsWS = wsClient{
	name: "mqttjs",
	need: func(t *testing.T) { needMQTTjs(t) },
	sub: func(t *testing.T, port, ca string, v5 bool, filter string, count int) *proc {
		t.Helper()
		p := startMQTTjs(t, "sub", port, ca, v5, "--topic", filter, "--qos", "1", "--count", itoa(count))
		p.waitLine("SUBSCRIBED ")
		return p
	},
	pub: func(t *testing.T, port, ca string, v5 bool, topic, payload string) {
		t.Helper()
		out := startMQTTjs(t, "pub", port, ca, v5, "--topic", topic, "--payload", payload, "--qos", "1").wait()
		wantContains(t, "mqttjs.js pub", out, "CONNECTED 0", "PUBLISHED", "DONE")
	},
}

// startMQTTjs runs testdata/mqttjs.js against ws://127.0.0.1:port, or
// wss:// verified with ca if ca is set.
func startMQTTjs(t *testing.T, mode, port, ca string, v5 bool, args ...string) *proc {
	t.Helper()
	node := needMQTTjs(t)
	url := "ws://127.0.0.1:" + port + "/mqtt"
	if ca != "" {
		url = "wss://127.0.0.1:" + port + "/mqtt"
		args = append(args, "--cafile", ca)
	}
	if v5 {
		args = append(args, "--v5")
	}
	return startProc(t, nil, node, cat([]string{"testdata/mqttjs.js", mqttjsModules, mode, url}, args...)...)
}

// wsMessages waits for n messages from a pahows.py or mqttjs.js subscriber
// and returns them as "TOPIC PAYLOAD".
func wsMessages(p *proc, n int) []string {
	p.t.Helper()
	var out []string
	for _, l := range p.waitLines(n, func(l string) bool { return strings.HasPrefix(l, "MSG ") }) {
		out = append(out, strings.TrimPrefix(l, "MSG "))
	}
	return out
}

// startWebSocketBroker starts midge with a WebSocket listener, a WebSocket
// over TLS listener and a TCP listener, anonymous access allowed, and
// returns the CA file that verifies its certificate and the three ports.
func startWebSocketBroker(t *testing.T, extra string) (b *proc, ca, ws, wss, tcp string) {
	t.Helper()
	dir := worldDir(t)
	f := newTLSFiles(t, dir, testutil.NewPKI(t, "midge test CA"), "server")
	b, ports := startMidge(t, dir, 3, func(p []string) string {
		return "allow_anonymous true\n" +
			"listener " + p[0] + " 127.0.0.1\nprotocol websockets\n" + extra +
			f.listener(p[1], "protocol websockets\n") +
			"listener " + p[2] + " 127.0.0.1\n"
	})
	return b, f.ca, ports[0], ports[1], ports[2]
}

// wsModes are the ways a test reaches the broker's WebSocket listeners.
var wsModes = []struct {
	name string
	tls  bool
	v5   bool
}{
	{"ws", false, false},
	{"wss", true, false},
	{"ws-v5", false, true},
	{"wss-v5", true, true},
}

// testWebSocketClient publishes with c and receives with c over ws:// and
// wss://, MQTT 3.1.1 and 5.
func testWebSocketClient(t *testing.T, c wsClient) {
	c.need(t)
	_, ca, ws, wss, _ := startWebSocketBroker(t, "")
	for _, m := range wsModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			port, cafile := ws, ""
			if m.tls {
				port, cafile = wss, ca
			}
			topic := c.name + "/" + m.name
			sub := c.sub(t, port, cafile, m.v5, topic, 1)
			c.pub(t, port, cafile, m.v5, topic, "over "+m.name)
			wantLines(t, c.name+" subscriber", wsMessages(sub, 1), []string{topic + " over " + m.name})
			sub.wait()
		})
	}
}

// TestWebSocketPaho runs paho-mqtt 1.6 with transport="websockets" against
// midge's WebSocket listeners, ws:// and wss:// (tls_set with the CA).
func TestWebSocketPaho(t *testing.T) {
	t.Parallel()
	testWebSocketClient(t, pahoWS)
}

// TestWebSocketMQTTjs runs MQTT.js 5 under Node.js against midge's
// WebSocket listeners, ws:// and wss:// (with the CA).
func TestWebSocketMQTTjs(t *testing.T) {
	t.Parallel()
	testWebSocketClient(t, mqttjsWS)
}

// TestWebSocketAndTCP sends messages between WebSocket and TCP clients: a
// subscriber on a WebSocket listener receives from mosquitto_pub over TCP,
// and mosquitto_sub over TCP receives from a publisher on a WebSocket
// listener (mosquitto_pub and mosquitto_sub 2.0 have no WebSocket
// transport), with each WebSocket client library, ws:// and wss://.
func TestWebSocketAndTCP(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	_, ca, ws, wss, tcp := startWebSocketBroker(t, "")
	for _, c := range []wsClient{pahoWS, mqttjsWS} {
		for _, m := range wsModes[:2] {
			port, cafile := ws, ""
			if m.tls {
				port, cafile = wss, ca
			}
			t.Run(c.name+"-"+m.name+"-sub", func(t *testing.T) {
				t.Parallel()
				c.need(t)
				topic := "totcp/" + c.name + "/" + m.name
				sub := c.sub(t, port, cafile, false, topic, 1)
				mosqPub(t, tcp, "-q", "1", "-t", topic, "-m", "from TCP")
				wantLines(t, c.name+" subscriber", wsMessages(sub, 1), []string{topic + " from TCP"})
			})
			t.Run(c.name+"-"+m.name+"-pub", func(t *testing.T) {
				t.Parallel()
				c.need(t)
				topic := "fromws/" + c.name + "/" + m.name
				sub := mosqSub(t, tcp, "-q", "1", "-t", topic, "-F", msgFormat)
				c.pub(t, port, cafile, false, topic, "from "+m.name)
				wantLines(t, "mosquitto_sub", messages(sub, 1), []string{"1 0 " + topic + " from " + m.name})
			})
		}
	}
}

// TestWebSocketBadUpgrades sends upgrade requests the broker must refuse:
// headers larger than websockets_headers_size (a large cookie, just over
// and far over the limit) and a subprotocol that is not MQTT's. paho
// reports the failed handshake; the broker closes that connection and logs
// it, and a paho subscriber on the same listener keeps receiving. Each case
// has its own broker, so that its log shows that case only.
func TestWebSocketBadUpgrades(t *testing.T) {
	t.Parallel()
	needPaho(t)
	needMosquittoClients(t)
	const headersSize = 1024
	// Each header below is added to the ~250 bytes of paho's own.
	cookie := func(n int) []string { return []string{"--cookie-bytes", itoa(n)} }
	t.Run("headers-under-limit", func(t *testing.T) {
		t.Parallel()
		_, _, ws, _, _ := startWebSocketBroker(t, "websockets_headers_size "+itoa(headersSize)+"\n")
		out := startPython(t, "pahows.py", cat([]string{"pub", "--port", ws, "--topic", "t", "--payload", "x"}, cookie(400)...)...).wait()
		wantContains(t, "pahows.py with a 400-byte cookie", out, "CONNECTED 0", "DONE")
	})
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"headers-over-limit", cookie(2 * headersSize)},
		{"headers-far-over-limit", cookie(8 * headersSize)},
		{"wrong-subprotocol", []string{"--header", "Sec-Websocket-Protocol=chat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, _, ws, _, tcp := startWebSocketBroker(t, "websockets_headers_size "+itoa(headersSize)+"\n")
			sub := pahoWS.sub(t, ws, "", false, "still/#", 1)
			subID := connectedID(t, b, 1)
			mark := b.mark()
			p := startPython(t, "pahows.py", cat([]string{"pub", "--port", ws, "--topic", "t", "--payload", "x"}, tc.header...)...)
			if code := p.exitCode(); code == 0 || !strings.Contains(strings.Join(p.lines(), "\n"), "ERROR WebsocketConnectionError WebSocket handshake error") {
				t.Errorf("%s: exit status %d, want 2 and paho's WebsocketConnectionError\n%s", p.name, code, p.output())
			}
			wantLogged(t, b, mark, tc.name, subID)
			mosqPub(t, tcp, "-q", "1", "-t", "still/here", "-m", "yes")
			wantLines(t, "the subscriber connected before", wsMessages(sub, 1), []string{"still/here yes"})
		})
	}
}

// TestWebSocketHeadersSizeGlobal writes websockets_headers_size where
// Mosquitto reads it: a global option, before any listener, for every
// WebSocket listener (mosquitto.conf(5): "This is a global option, it is
// not possible to set per listener"; 2.1 makes it the same option as
// packet_buffer_size).
func TestWebSocketHeadersSizeGlobal(t *testing.T) {
	t.Parallel()
	needPaho(t)
	dir := worldDir(t)
	_, ports := startMidge(t, dir, 1, func(p []string) string {
		return "websockets_headers_size 2048\nallow_anonymous true\nlistener " + p[0] + " 127.0.0.1\nprotocol websockets\n"
	})
	out := startPython(t, "pahows.py", "pub", "--port", ports[0], "--topic", "t", "--payload", "x").wait()
	wantContains(t, "pahows.py", out, "CONNECTED 0", "DONE")
}

// TestWebSocketOrigin checks websockets_origin (Mosquitto 2.1): an upgrade
// whose Origin header is one of the listed values is accepted, another is
// refused (and logged). Mosquitto compares the whole header value, as a
// browser sends it ("https://app.example.com"), with each listed value.
func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	needPaho(t)
	const allowed = "https://app.example.com"
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"allowed", allowed, true},
		{"other", "https://evil.example.net", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, _, ws, _, _ := startWebSocketBroker(t, "websockets_origin "+allowed+"\n")
			mark := b.mark()
			p := startPython(t, "pahows.py", "pub", "--port", ws, "--topic", "t", "--payload", "x", "--header", "Origin="+tc.origin)
			code := p.exitCode()
			switch {
			case tc.ok && code != 0:
				t.Errorf("%s: exit status %d, want the Origin %s accepted\n%s", p.name, code, tc.origin, p.output())
			case !tc.ok && code == 0:
				t.Errorf("%s: connected, want the Origin %s refused\n%s", p.name, tc.origin, p.output())
			case !tc.ok:
				wantLogged(t, b, mark, "Origin "+tc.origin)
			}
		})
	}
}

// httpGet is a Python program that prints the status and body of a GET of
// argv[1].
const httpGet = `import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10)
    print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code)
`

// TestWebSocketHTTPDir serves the files of http_dir to plain HTTP requests
// on a WebSocket listener, as Mosquitto does for a browser's page, and 404
// for a file that is not there; WebSocket clients on the same listener are
// unaffected.
func TestWebSocketHTTPDir(t *testing.T) {
	t.Parallel()
	needPaho(t)
	dir := worldDir(t)
	www := makeDir(t, dir, "www", 0o755)
	writeFile(t, www, "hello.txt", "hello from http_dir\n")
	_, ports := startMidge(t, dir, 1, func(p []string) string {
		return "allow_anonymous true\nlistener " + p[0] + " 127.0.0.1\nprotocol websockets\nhttp_dir " + www + "\n"
	})
	base := "http://127.0.0.1:" + ports[0]
	got := startProc(t, nil, python, "-c", httpGet, base+"/hello.txt").wait()
	wantLines(t, "GET /hello.txt", got, []string{"200 hello from http_dir"})
	got = startProc(t, nil, python, "-c", httpGet, base+"/missing.txt").wait()
	wantLines(t, "GET /missing.txt", got, []string{"404"})
	out := startPython(t, "pahows.py", "pub", "--port", ports[0], "--topic", "t", "--payload", "x").wait()
	wantContains(t, "pahows.py", out, "CONNECTED 0", "DONE")
}
