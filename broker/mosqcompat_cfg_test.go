package broker_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/testutil/mqdiff"
	"github.com/midge-mqtt/midge/packet"
)

// Item 13: clients may not publish to a topic starting with $SYS (the four
// bytes, as Mosquitto compares them), except $SYS/broker/connection/+/state,
// where bridges announce themselves; that one reaches subscribers and is
// retained. An ACL file must allow it like any topic: its '#' does not
// match it.
func TestCompatSysConnectionState(t *testing.T) {
	dir := testutil.WorldDir(t, "midge-sys-", 0o755)
	aclSys := testutil.WriteFile(t, dir, "acl-sys", "topic readwrite $SYS/#\ntopic readwrite $SYSX/#\ntopic readwrite $SYSX\n")
	aclHash := testutil.WriteFile(t, dir, "acl-hash", "topic readwrite #\n")
	names := []string{
		"$SYS/broker/connection/b1/state",
		"$SYS/broker/connection//state", // '+' matches the empty level
		"$SYS/broker/connection/b1/x/state",
		"$SYS/broker/connection/state",
		"$SYS/broker/uptime",
		"$SYSX/a", "$SYSX",
	}
	script := func(t *testing.T, v byte) []testutil.Step {
		s := []testutil.Step{
			connStep(t, 1, v, "sub"),
			{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
				{Filter: "$SYS/broker/connection/#", QoS: 1}, // not the $SYS tree Mosquitto publishes
				{Filter: "$SYSX/#", QoS: 1}}}), Read:         1},
			connStep(t, 2, v, "pub"),
		}
		for i, name := range names {
			s = append(s, testutil.Step{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: name, QoS: 1, PacketID: uint16(i + 1), Payload: []byte("1")}), Read: 1})
		}
		return append(s,
			testutil.Step{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: names[0], QoS: 1, PacketID: 99, Retain: true, Payload: []byte("kept")}), Read: 1},
			testutil.Step{Conn: 1, Quiet: quiet},
			connStep(t, 3, v, "late"),
			testutil.Step{Conn: 3, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("$SYS/broker/connection/#", 0)}), Read: 1, Quiet: quiet},
		)
	}
	runCompat(t, []compatCase{
		{"sys-state", both, nil, script},
		{"sys-state-acl", both, []string{"acl_file " + aclSys}, script},
		{"sys-state-acl-hash", both, []string{"acl_file " + aclHash}, script},
	})
}

// Item 10: a topic name or filter with more than 200 '/' (202 levels or
// more) is refused in the check that refuses a wildcard in a name (PUBLISH,
// will) or a misplaced one in a filter (SUBSCRIBE, UNSUBSCRIBE): 3.1.1 closes
// the connection (a will's CONNECT gets no CONNACK), 5.0 sends DISCONNECT
// 0x82 for a PUBLISH and 0x81 for a filter. A shared subscription's prefix
// counts. 200 '/' (201 levels) are accepted. Debian's Mosquitto 2.0.11 and
// Mosquitto 2.1 (TOPIC_HIERARCHY_LIMIT) count alike.
func TestCompatTopicDepth(t *testing.T) {
	deep := func(slashes int) string { return "a" + strings.Repeat("/a", slashes) }
	// withTopic encodes the packet make returns for a placeholder topic of
	// topic's length, then puts topic in its place: the encoder refuses
	// what the test sends.
	withTopic := func(t *testing.T, v byte, topic string, make func(string) packet.Packet) []byte {
		ph := strings.Repeat("z", len(topic))
		b := pk(t, v, make(ph))
		if bytes.Count(b, []byte(ph)) != 1 {
			t.Fatalf("the placeholder is not unique in %x", b)
		}
		return bytes.Replace(b, []byte(ph), []byte(topic), 1)
	}
	pub := func(t *testing.T, v byte, topic string) []testutil.Step {
		return []testutil.Step{connStep(t, 0, v, "p"), {Send: withTopic(t, v, topic, func(s string) packet.Packet {
			return &packet.Publish{Topic: s, QoS: 1, PacketID: 1, Payload: []byte("x")}
		}), Read: 1, Quiet: quiet}}
	}
	will := func(t *testing.T, v byte, topic string) []testutil.Step {
		return []testutil.Step{{Send: withTopic(t, v, topic, func(s string) packet.Packet {
			return &packet.Connect{ProtocolVersion: v, ClientID: "w", CleanStart: true, KeepAlive: 60,
				Will: &packet.Will{Topic: s, Payload: []byte("w")}}
		}), Read: 1, Quiet: quiet}}
	}
	sub := func(t *testing.T, v byte, topic string) []testutil.Step {
		return []testutil.Step{connStep(t, 0, v, "s"), {Send: withTopic(t, v, topic, func(s string) packet.Packet {
			return &packet.Subscribe{PacketID: 1, Subscriptions: sub1(s, 0)}
		}), Read: 1, Quiet: quiet}}
	}
	unsub := func(t *testing.T, v byte, topic string) []testutil.Step {
		return []testutil.Step{connStep(t, 0, v, "u"), {Send: withTopic(t, v, topic, func(s string) packet.Packet {
			return &packet.Unsubscribe{PacketID: 1, Filters: []string{s}}
		}), Read: 1, Quiet: quiet}}
	}
	var cases []compatCase
	for _, k := range []struct {
		name        string
		limit, deep string // 200 '/', 201 '/'
		script      func(t *testing.T, v byte, topic string) []testutil.Step
	}{
		{"publish", deep(200), deep(201), pub},
		{"will", deep(200), deep(201), will},
		{"subscribe", deep(199) + "/#", deep(200) + "/#", sub},
		{"subscribe-shared", "$share/g/" + deep(198), "$share/g/" + deep(199), sub},
		{"unsubscribe", "+/" + deep(199), "+/" + deep(200), unsub},
	} {
		for _, c := range []struct{ name, topic string }{{"-200", k.limit}, {"-201", k.deep}} {
			cases = append(cases, compatCase{k.name + c.name, both, nil, func(t *testing.T, v byte) []testutil.Step {
				return k.script(t, v, c.topic)
			}})
		}
	}
	runCompat(t, cases)
}

// Item 13: a user name of zero length counts as none, as Mosquitto reads it
// (its string reader gives NULL for an empty string): with allow_anonymous
// true the client is let in as anonymous even though a password file is
// set, and with allow_anonymous false it is refused as anonymous.
func TestCompatEmptyUserName(t *testing.T) {
	dir := testutil.WorldDir(t, "midge-emptyuser-", 0o755)
	pw := testutil.WriteFile(t, dir, "pw", "")
	testutil.MosquittoPasswd(t, "", "-b", pw, "u", "secret")
	for _, anon := range []string{"true", "false"} {
		conf := []string{"allow_anonymous " + anon, "password_file " + pw}
		for _, v := range both {
			t.Run("allow_anonymous_"+anon+"/v"+string('0'+rune(v)), func(t *testing.T) {
				t.Parallel()
				var steps []testutil.Step
				for i, hasPass := range []bool{false, true} {
					cp := &packet.Connect{ProtocolVersion: v, ClientID: "e" + string('0'+rune(i)), CleanStart: true, KeepAlive: 60,
						HasUsername: true, HasPassword: hasPass, Password: []byte("secret")}
					steps = append(steps, testutil.Step{Conn: i, Send: pk(t, v, cp), Read: 1})
				}
				mqdiff.SameAsMosquitto(t, conf, steps)
			})
		}
	}
}
