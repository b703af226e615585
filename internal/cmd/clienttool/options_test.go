package clienttool

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// noEnv finds no options file.
func noEnv(string) (string, bool) { return "", false }

func TestParsePubArgs(t *testing.T) {
	t.Parallel()
	cfg, err := parseToolArgs(toolPub, []string{"-h", "broker", "-p", "1884", "-t", "a/b", "-m", "hi", "-q", "2", "-r",
		"-i", "me", "-k", "30", "-u", "user", "-P", "pw", "-d", "--repeat", "3", "--repeat-delay", "1.5",
		"-D", "publish", "user-property", "k", "v", "-D", "publish", "message-expiry-interval", "60",
		"--will-topic", "w", "--will-payload", "bye", "--will-qos", "1", "--will-retain", "-x", "10"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.host != "broker" || cfg.port != 1884 || *cfg.topic != "a/b" || string(cfg.message) != "hi" || cfg.qos != 2 ||
		!cfg.retain || *cfg.id != "me" || cfg.keepalive != 30 || *cfg.username != "user" || *cfg.password != "pw" ||
		!cfg.debug || cfg.repeatCount != 3 || cfg.repeatDelay != 1500*time.Millisecond || cfg.protocol != 5 ||
		*cfg.willTopic != "w" || *cfg.willPayload != "bye" || cfg.willQoS != 1 || !cfg.willRetain || cfg.pubMode != msgCmd {
		t.Errorf("parsed %+v", cfg)
	}
	ps := cfg.props[propPublish].properties()
	if len(ps.User) != 1 || ps.User[0] != (packet.UserProperty{Key: "k", Value: "v"}) || ps.MessageExpiry != 60 || !ps.Has(packet.PropMessageExpiry) {
		t.Errorf("publish properties %+v", ps)
	}
	cp := cfg.props[propConnect].properties()
	if !cp.Has(packet.PropSessionExpiry) || cp.SessionExpiry != 10 {
		t.Errorf("-x 10 gives CONNECT properties %+v", cp)
	}
}

func TestParseSubArgs(t *testing.T) {
	t.Parallel()
	cfg, err := parseToolArgs(toolSub, []string{"-t", "a/#", "-t", "b", "-T", "a/x", "-U", "c", "-v", "-N", "-C", "5",
		"-W", "9", "-F", "%t %p", "--pretty", "-R", "--retain-as-published", "-E", "-V", "mqttv5", "-c", "-i", "id"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.topics, []string{"a/#", "b"}) || !reflect.DeepEqual(cfg.filterOuts, []string{"a/x"}) ||
		!reflect.DeepEqual(cfg.unsubTopics, []string{"c"}) || !cfg.verbose || cfg.eol || cfg.msgCount != 5 || cfg.timeout != 9 ||
		*cfg.format != "%t %p" || !cfg.pretty || !cfg.noRetain || cfg.subOpts != subOptRetainNever|subOptRetainAsPublished ||
		!cfg.exitAfterSub || cfg.protocol != 5 || cfg.cleanSession || cfg.sessionExpiry != math.MaxUint32 {
		t.Errorf("parsed %+v", cfg)
	}
	if _, err := parseToolArgs(toolSub, []string{"-t", "a", "-R", "--retained-only"}, noEnv); err == nil {
		t.Error("-R with --retained-only accepted")
	}
}

func TestParseRRArgs(t *testing.T) {
	t.Parallel()
	cfg, err := parseToolArgs(toolRR, []string{"-t", "req", "-e", "resp", "-n"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.protocol != 5 || cfg.msgCount != 1 || *cfg.responseTopic != "resp" || cfg.pubMode != msgNull {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		t    tool
		args []string
		want error
		text string
	}{
		{toolPub, []string{"--help"}, errHelp, ""},
		{toolSub, []string{"-t", "a", "--version"}, errShowVersion, ""},
		{toolPub, []string{"-q", "3"}, nil, "Error: Invalid QoS given: 3\n"},
		{toolPub, []string{"-v"}, nil, "Error: Unknown option '-v'.\n"},
		{toolSub, []string{}, nil, "Error: You must specify a topic to subscribe to.\n"},
		{toolRR, []string{"-D", "publish", "bogus", "x"}, nil, "Error: Invalid property name given in --property argument.\n\n"},
	} {
		_, err := parseToolArgs(c.t, c.args, noEnv)
		if c.want != nil {
			if !errors.Is(err, c.want) {
				t.Errorf("%q: %v, want %v", c.args, err, c.want)
			}
			continue
		}
		var ce *cmdError
		if !errors.As(err, &ce) || ce.text != c.text || !ce.hint {
			t.Errorf("%q: %#v, want %q with the hint", c.args, err, c.text)
		}
	}
}

func TestOptionsFileParsing(t *testing.T) {
	t.Parallel()
	for line, want := range map[string][]string{
		"-d":               {"-d"},
		"-d ":              {"-d"},
		"-d  ":             {"-d", " "},
		"   -m  a b":       {"-m", " a b"},
		"":                 nil,
		"    ":             nil,
		"-t topic":         {"-t", "topic"},
		"--will-payload x": {"--will-payload", "x"},
	} {
		if got := strtokLine(line); !reflect.DeepEqual(got, want) {
			t.Errorf("strtokLine(%q) = %q, want %q", line, got, want)
		}
	}
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "mosquitto_sub"), []byte("#-t ignored\n-t from/file\r\n-q 1\n"), 0o644)
	cfg, err := parseToolArgs(toolSub, []string{"-t", "cmd", "-q", "2"}, mqEnv(home, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.topics, []string{"from/file", "cmd"}) || cfg.qos != 2 {
		t.Errorf("topics %q qos %d", cfg.topics, cfg.qos)
	}
}

func TestCNumbers(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"42": 42, " 42x": 42, "-7": -7, "+3": 3, "x": 0, "": 0,
		"4294967296": 0, "4294967297": 1, "99999999999999999999": -1, "\t\n 8": 8} {
		if got := cAtoi(s); got != want {
			t.Errorf("cAtoi(%q) = %d, want %d", s, got, want)
		}
	}
	for s, want := range map[string]float64{"1.5": 1.5, "1.5x": 1.5, ".5": 0.5, "1e3": 1000, "x": 0, "-2": -2, "0x10": 16, "5.": 5, "1e": 1,
		"+-5": 0, ".": 0, "1e+": 1, "-1.5e-1x": -0.15, "0x1p3": 8, "0x1p": 1, "0x1P-1": 0.5} {
		if got := cAtof(s); got != want {
			t.Errorf("cAtof(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]int64{"10": 10, "0x10": 16, "010": 8, "-1": -1, "0": 0} {
		if got, ok := cStrtol0(s); !ok || got != want {
			t.Errorf("cStrtol0(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "x", "1 ", "0x", "08"} {
		if _, ok := cStrtol0(s); ok {
			t.Errorf("cStrtol0(%q) accepted", s)
		}
	}
}

func TestTopicChecks(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"a/b": true, "": true, "a/+": false, "#": false, "a\tb": true} {
		if pubTopicOK(s) != want {
			t.Errorf("pubTopicOK(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"a/+/b": true, "#": true, "+": true, "a/#": true, "a#": false, "a/#/b": false, "+a": false, "a+/b": false} {
		if subTopicOK(s) != want {
			t.Errorf("subTopicOK(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"ok": true, "中文": true, "a\x00b": false, "\x7f": false, "\u0085": false,
		"\xed\xa0\x80": false, "\xef\xbf\xbf": false, "\xef\xb7\x90": false, "\xc0\x80": false, "\xe0\x80\x80": false,
		"\xf4\x90\x80\x80": false, "\xf0\x9f\x98\x80": true, "\xe2\x82": false, strings.Repeat("a", 65537): false} {
		if validUTF8(s) != want {
			t.Errorf("validUTF8(%q) = %v", s, !want)
		}
	}
}

// FuzzParseArgs checks that no command line makes the parser panic.
func FuzzParseArgs(f *testing.F) {
	f.Add("-t\x00a/b\x00-m\x00x\x00-q\x001")
	f.Add("-D\x00publish\x00user-property\x00a")
	f.Add("-L\x00mqtt://u:p@h:1/t\x00-F\x00%-05.3t@N\\e")
	f.Add("-x\x00∞\x00-V\x005\x00-c")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		for _, tl := range []tool{toolPub, toolSub, toolRR} {
			parseToolArgs(tl, args, noEnv)
		}
	})
}

func TestDebugLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	s := &session{cfg: &clientConfig{debug: true, protocol: 5}, st: base.Streams{Out: &out}, displayID: "(null)"}
	ack := &packet.Connack{}
	ack.Properties.SetString(packet.PropAssignedClientID, "auto-1")
	sub := &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
		{Filter: "a", QoS: 1}, {Filter: "b/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}}}
	for _, step := range []struct {
		dir client.Direction
		p   packet.Packet
	}{
		{client.Sent, &packet.Connect{}},
		{client.Received, ack},
		{client.Sent, sub},
		{client.Received, &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{1, 0x80}}},
		{client.Sent, &packet.Publish{Topic: "t", Payload: []byte("abc")}},
		{client.Sent, &packet.Publish{Topic: "", QoS: 0, Payload: nil}},
		{client.Sent, &packet.Publish{Topic: "t", QoS: 2, PacketID: 9, Retain: true, Dup: true}},
		{client.Received, &packet.Ack{Kind: packet.TypePubrec, PacketID: 9}},
		{client.Sent, &packet.Ack{Kind: packet.TypePubrel, PacketID: 9}},
		{client.Received, &packet.Ack{Kind: packet.TypePubcomp, PacketID: 9, ReasonCode: 0x92}},
		{client.Received, &packet.Publish{Topic: "in", QoS: 1, PacketID: 4, Payload: []byte("x")}},
		{client.Sent, &packet.Ack{Kind: packet.TypePuback, PacketID: 4}},
		{client.Sent, &packet.Unsubscribe{PacketID: 10, Filters: []string{"x", "y"}}},
		{client.Received, &packet.Unsuback{PacketID: 10}},
		{client.Sent, &packet.Pingreq{}},
		{client.Received, &packet.Pingresp{}},
		{client.Received, &packet.Disconnect{ReasonCode: 0x8e}},
		{client.Sent, &packet.Disconnect{}},
	} {
		s.hook(step.dir, step.p)
	}
	want := `Client (null) sending CONNECT
Client auto-1 received CONNACK (0)
Client auto-1 sending SUBSCRIBE (Mid: 1, Topic: a, QoS: 1, Options: 0x00)
Client auto-1 sending SUBSCRIBE (Mid: 1, Topic: b/#, QoS: 2, Options: 0x2c)
Client auto-1 received SUBACK
Client auto-1 sending PUBLISH (d0, q0, r0, m2, 't', ... (3 bytes))
Client auto-1 sending PUBLISH (d0, q0, r0, m3, '(null)', ... (0 bytes))
Client auto-1 sending PUBLISH (d1, q2, r1, m9, 't', ... (0 bytes))
Client auto-1 received PUBREC (Mid: 9)
Client auto-1 sending PUBREL (m9)
Client auto-1 received PUBCOMP (Mid: 9, RC:146)
Client auto-1 received PUBLISH (d0, q1, r0, m4, 'in', ... (1 bytes))
Client auto-1 sending PUBACK (m4, rc0)
Client auto-1 sending UNSUBSCRIBE (Mid: 10, Topic: x)
Client auto-1 sending UNSUBSCRIBE (Mid: 10, Topic: y)
Client auto-1 received UNSUBACK
Client auto-1 sending PINGREQ
Client auto-1 received PINGRESP
Received DISCONNECT (142)
Client auto-1 sending DISCONNECT
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
