package bench

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

func TestBenchParseDefaults(t *testing.T) {
	for _, tc := range []struct {
		args                  []string
		clients               int
		topic                 string
		count                 int64
		inflight, maxLag      int
		url, engine, subTopic string
	}{
		{args: []string{"pub"}, clients: 1, topic: "bench/%i", count: 100000, inflight: 64, maxLag: 1000, url: "mqtt://localhost:1883", engine: "wire"},
		{args: []string{"sub"}, clients: 1, topic: "bench/#", count: 0, inflight: 64, maxLag: 1000, url: "mqtt://localhost:1883", engine: "wire"},
		{args: []string{"conn"}, clients: 100, topic: "", count: 0, inflight: 64, maxLag: 1000, url: "mqtt://localhost:1883", engine: "wire"},
		{args: []string{"pubsub", "-S", "100", "-t", "a/%i/b"}, clients: 1, topic: "a/%i/b", count: 100000, inflight: 64, maxLag: 50, url: "mqtt://localhost:1883", engine: "wire", subTopic: "a/+/b"},
		{args: []string{"pubsub", "-q", "2", "-t", "x"}, clients: 1, topic: "x", count: 100000, inflight: 20, maxLag: 1000, url: "mqtt://localhost:1883", engine: "wire", subTopic: "x"},
		{args: []string{"pubsub", "-q", "2", "-V", "5"}, clients: 1, topic: "bench/%i", count: 100000, inflight: 64, maxLag: 1000, url: "mqtt://localhost:1883", engine: "wire", subTopic: "bench/+"},
		{args: []string{"pub", "-h", "127.0.0.1", "-p", "18883", "--cafile", "ca.pem"}, clients: 1, topic: "bench/%i", count: 100000, inflight: 64, maxLag: 1000, url: "mqtts://127.0.0.1:18883", engine: "wire"},
		{args: []string{"pub", "-L", "ws://127.0.0.1:8080"}, clients: 1, topic: "bench/%i", count: 100000, inflight: 64, maxLag: 1000, url: "ws://127.0.0.1:8080", engine: "client"},
		{args: []string{"pub", "-L", "wss://[::1]/mqtt"}, clients: 1, topic: "bench/%i", count: 100000, inflight: 64, maxLag: 1000, url: "wss://[::1]:443/mqtt", engine: "client"},
		{args: []string{"pub", "-L", "mqtts://localhost", "--engine", "client"}, clients: 1, topic: "bench/%i", count: 100000, inflight: 64, maxLag: 1000, url: "mqtts://localhost:8883", engine: "client"},
		{args: []string{"sub", "-c", "7", "--count", "5"}, clients: 7, topic: "bench/#", count: 5, inflight: 64, maxLag: 1000, url: "mqtt://localhost:1883", engine: "wire"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			o, err := parseArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if o.clients != tc.clients || o.topic != tc.topic || o.count != tc.count || o.inflight != tc.inflight ||
				o.maxLag != tc.maxLag || o.target.url != tc.url || o.engine != tc.engine || o.subTmpl.src != tc.subTopic {
				t.Errorf("got clients %d topic %q count %d inflight %d maxlag %d url %q engine %q sub-topic %q",
					o.clients, o.topic, o.count, o.inflight, o.maxLag, o.target.url, o.engine, o.subTmpl.src)
			}
		})
	}
}

func TestBenchParseOptions(t *testing.T) {
	o, err := parseArgs([]string{"pubsub", "-c", "8", "-S", "2", "-n", "10", "-i", "x-%r-%i", "-V", "mqttv5",
		"-k", "30", "--clean=false", "-x", "60", "-q", "1", "-s", "128", "-C", "5000", "-R", "2000", "--inflight", "32",
		"--maxlag", "0", "--sub-reconnect", "100", "-d", "5s", "--drain", "1s", "--json", "--progress", "never",
		"-u", "user", "-P", "", "--ifaddr", "127.0.0.2-127.0.0.4,::1", "--concurrency", "4"})
	if err != nil {
		t.Fatal(err)
	}
	if o.version != packet.Version5 || o.clean || o.sessionExpiry != 60 || o.keepAlive != 30 || o.qos != 1 ||
		o.size != 128 || o.count != 5000 || o.rate != 2000 || o.inflight != 32 || o.maxLag != 0 ||
		o.subReconnect != 100 || o.duration != 5*time.Second || o.drain != time.Second || !o.json ||
		o.username != "user" || !o.hasPassword || o.password != "" || o.concurrency != 4 || o.start != 10 || o.subs != 2 {
		t.Errorf("options not as given: %+v", o)
	}
	var srcs []string
	for _, ip := range o.srcAddrs {
		srcs = append(srcs, ip.String())
	}
	if want := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "::1"}; !slices.Equal(srcs, want) {
		t.Errorf("--ifaddr: %v, want %v", srcs, want)
	}
	if id := o.idTmpl.expand(tmplVars{num: 3, role: "sub"}); id != "x-sub-3" {
		t.Errorf("client id %q", id)
	}

	// A persistent session keeps stable identifiers; a clean one gets a
	// random part, so that two runs do not take over each other's clients.
	o, err = parseArgs([]string{"sub", "--clean=false", "-V", "5"})
	if err != nil {
		t.Fatal(err)
	}
	if o.idTemplate != "midge-bench-%r%i" || o.sessionExpiry != 300 {
		t.Errorf("--clean=false: id template %q, session expiry %d", o.idTemplate, o.sessionExpiry)
	}
	o, err = parseArgs([]string{"sub"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(o.idTemplate, "midge-bench-") || !strings.HasSuffix(o.idTemplate, "-%r%i") || len(o.idTemplate) != len("midge-bench-123456-%r%i") {
		t.Errorf("clean id template %q", o.idTemplate)
	}

	for _, v := range []struct {
		s string
		v byte
	}{{"3.1", 3}, {"31", 3}, {"mqttv31", 3}, {"3.1.1", 4}, {"311", 4}, {"mqttv311", 4}, {"4", 4}, {"5", 5}, {"mqttv5", 5}} {
		if got, err := parseVersion(v.s); err != nil || got != v.v {
			t.Errorf("-V %s: %d, %v", v.s, got, err)
		}
	}
}

func TestBenchParseErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "a mode is required"},
		{[]string{"flood"}, "unknown mode"},
		{[]string{"pub", "-q", "3"}, "-q must be"},
		{[]string{"pub", "-s", "10"}, "-s must be"},
		{[]string{"pub", "-C", "0"}, "--count must be at least 1"},
		{[]string{"conn", "-C", "5"}, "--count is for"},
		{[]string{"pub", "-d", "0"}, "-d must be positive"},
		{[]string{"pub", "-R", "10", "--client-rate", "1"}, "either -R or --client-rate"},
		{[]string{"pub", "--inflight", "70000"}, "--inflight"},
		{[]string{"pub", "-L", "mqtt://a", "-p", "1"}, "either -L or -h/-p"},
		{[]string{"pub", "-L", "http://a"}, "scheme"},
		{[]string{"pub", "-L", "ws://a", "--engine", "wire"}, "WebSocket needs --engine client"},
		{[]string{"pub", "-L", "ws://a", "--ifaddr", "127.0.0.2"}, "--ifaddr is not supported with WebSocket"},
		{[]string{"pub", "-x", "10"}, "-x needs MQTT 5"},
		{[]string{"pub", "-t", "a/%q"}, "unknown variable %q"},
		{[]string{"pub", "-t", "a/%"}, "lone %"},
		{[]string{"pub", "-i", "id-%c"}, "unknown variable %c"},
		{[]string{"pub", "-S", "3"}, "-S is for pubsub"},
		{[]string{"pub", "--sub-reconnect", "5"}, "--sub-reconnect"},
		{[]string{"sub", "--sub-topic", "x"}, "--sub-topic is for pubsub"},
		{[]string{"pub", "--ifaddr", "127.0.0.9-127.0.0.2"}, "--ifaddr: range"},
		{[]string{"pub", "--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"pub", "-P", "x"}, "-P needs -u"},
		{[]string{"pub", "--progress", "maybe"}, "--progress"},
		{[]string{"pub", "--bogus"}, "flag provided but not defined"},
		{[]string{"pub", "extra"}, "unexpected argument"},
		{[]string{"pub", "-V", "6"}, "-V"},
	} {
		_, err := parseArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := parseArgs([]string{"pub", "--help"}); err != errHelp {
		t.Errorf("--help: %v", err)
	}
}

func TestBenchLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"pub", "-h", "127.0.0.1"}, true},
		{[]string{"pub", "-h", "127.3.4.5"}, true},
		{[]string{"pub", "-h", "::1"}, true},
		{[]string{"pub", "-L", "mqtt://[::1]:1884"}, true},
		{[]string{"pub", "-h", "192.0.2.1"}, false},
		{[]string{"pub", "-L", "ws://192.0.2.1:8080/mqtt"}, false},
		{[]string{"pub", "-h", "127.0.0.1", "--ifaddr", "192.0.2.7"}, false},
		{[]string{"pub", "-h", "192.0.2.1", "--allow-remote"}, true},
	} {
		o, err := parseArgs(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		err = o.checkNetwork(ctx)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.args, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("%q: error %q does not say how to allow it", tc.args, err)
		}
	}
}

// TestBenchPublishCodec checks the wire engine's PUBLISH template and
// parser against package packet.
func TestBenchPublishCodec(t *testing.T) {
	for _, v := range []byte{packet.Version311, packet.Version5} {
		for _, qos := range []byte{0, 1, 2} {
			for _, size := range []int{24, 200, 20000} {
				topic := "bench/" + strings.Repeat("t", size%7)
				hdr, idAt, err := publishTemplate(topic, qos, size, v)
				if err != nil {
					t.Fatal(err)
				}
				payload := make([]byte, size)
				putStamp(payload, stamp{pub: 1, seq: 2, sent: 3})
				b := append(slices.Clone(hdr), payload...)
				if qos > 0 {
					b[idAt], b[idAt+1] = 0x12, 0x34
				}
				r := packet.NewReader(strings.NewReader(string(b)), 0)
				r.Version = v
				p, err := r.ReadPacket()
				if err != nil {
					t.Fatalf("v%d qos%d size %d: %v", v, qos, size, err)
				}
				pub := p.(*packet.Publish)
				if pub.Topic != topic || pub.QoS != qos || !slices.Equal(pub.Payload, payload) || qos > 0 && pub.PacketID != 0x1234 {
					t.Errorf("v%d qos%d: decoded %+v", v, qos, pub)
				}
				// And back through the wire engine's parser.
				h := b[0]
				i := 1
				for b[i]&0x80 != 0 {
					i++
				}
				gq, id, pl, err := publishFields(h&0x0f, b[i+1:], v)
				if err != nil || gq != qos || !slices.Equal(pl, payload) || qos > 0 && id != 0x1234 {
					t.Errorf("v%d qos%d: publishFields %d %x %v", v, qos, gq, id, err)
				}
			}
		}
	}
	// MQTT 5 properties are skipped.
	p := &packet.Publish{Topic: "a", QoS: 1, PacketID: 9, Payload: []byte("hello")}
	p.Properties.SetUint(packet.PropMessageExpiry, 30)
	b, err := packet.Append(nil, p, packet.Version5)
	if err != nil {
		t.Fatal(err)
	}
	if _, id, pl, err := publishFields(b[0]&0x0f, b[2:], packet.Version5); err != nil || id != 9 || string(pl) != "hello" {
		t.Errorf("v5 properties: %d %q %v", id, pl, err)
	}
	for _, bad := range [][]byte{{}, {0}, {0, 5, 'a'}, {0, 1, 'a', 0}} {
		if _, _, _, err := publishFields(0x02, bad, packet.Version5); err == nil {
			t.Errorf("malformed %v accepted", bad)
		}
	}
}

func TestBenchCommas(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q", n, got)
		}
	}
}

// FuzzBenchPublishFields checks that the wire engine's PUBLISH parser never
// panics on what a broker might send, and that a payload it returns is the
// end of the body.
func FuzzBenchPublishFields(f *testing.F) {
	for _, v := range []byte{packet.Version311, packet.Version5} {
		for _, qos := range []byte{0, 1, 2} {
			hdr, _, err := publishTemplate("a/b", qos, 30, v)
			if err != nil {
				f.Fatal(err)
			}
			i := 1
			for hdr[i]&0x80 != 0 {
				i++
			}
			f.Add(qos<<1, v, append(slices.Clone(hdr[i+1:]), make([]byte, 30)...))
		}
	}
	f.Fuzz(func(t *testing.T, flags, v byte, body []byte) {
		_, _, payload, err := publishFields(flags, body, v)
		if err == nil && !bytes.HasSuffix(body, payload) {
			t.Errorf("payload %x is not the end of body %x", payload, body)
		}
	})
}
