package broker_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// Item 13: after a SIGHUP that narrows the ACL, the messages queued for an
// offline session that its client may no longer read are dropped when it
// reconnects, as Mosquitto does: Debian's mosquitto gets a real SIGHUP,
// midge the reload its broker command makes of one (config.Reload). midge
// runs with its session queue in memory and in a Store (read back on
// reconnect).
//
// With inflight, the message the client may no longer read was sent to it
// before it went away, unacknowledged: Mosquitto drops it too.
func TestCompatQueuedAfterACLNarrowed(t *testing.T) {
	for _, v := range both {
		for _, withStore := range []bool{false, true} {
			for _, inflight := range []bool{false, true} {
				name := "v" + strconv.Itoa(int(v)) + map[bool]string{false: "/memory", true: "/store"}[withStore] +
					map[bool]string{false: "", true: "/inflight"}[inflight]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					testQueuedAfterACLNarrowed(t, v, withStore, inflight)
				})
			}
		}
	}
}

func testQueuedAfterACLNarrowed(t *testing.T, v byte, withStore, inflight bool) {
	dir := t.TempDir()
	// Mosquitto, as its own user, reads the ACL file and writes its pid.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	acl := filepath.Join(dir, "acl")
	writeACL := func(rules string) {
		if err := os.WriteFile(acl, []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeACL("topic readwrite a/#\n")
	pidFile := filepath.Join(dir, "mosquitto.pid")
	conf := []string{"acl_file " + acl}

	cp := &packet.Connect{ProtocolVersion: v, ClientID: "s", KeepAlive: 60}
	if v == packet.Version5 {
		cp.Properties.SetUint(packet.PropSessionExpiry, 300)
	} else {
		cp.CleanStart = false
	}
	before := []testutil.Step{
		{Conn: 1, Send: pk(t, v, cp), Read: 1},
		{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("a/#", 1)}), Read: 1},
		{Conn: 1, Send: pk(t, v, &packet.Disconnect{}), Close: true},
		connStep(t, 2, v, "p"),
		{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/x", QoS: 1, PacketID: 1, Payload: []byte("one")}), Read: 1},
		{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/y", QoS: 1, PacketID: 2, Payload: []byte("two")}), Read: 1},
		{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/x", QoS: 1, PacketID: 3, Payload: []byte("three")}), Read: 1},
	}
	if inflight {
		// The subscriber stays to receive a/y, does not acknowledge it, and
		// goes.
		before = []testutil.Step{
			{Conn: 1, Send: pk(t, v, cp), Read: 1},
			{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("a/#", 1)}), Read: 1},
			connStep(t, 2, v, "p"),
			{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/y", QoS: 1, PacketID: 1, Payload: []byte("two")}), Read: 1},
			{Conn: 1, Read: 1},
			{Conn: 1, Send: pk(t, v, &packet.Disconnect{}), Close: true},
			{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/x", QoS: 1, PacketID: 2, Payload: []byte("one")}), Read: 1},
		}
	}
	after := []testutil.Step{
		connStep(t, 3, v, "ping"),
		{Conn: 3, Send: pk(t, v, &packet.Pingreq{}), Read: 1}, // the reload has happened
		{Conn: 1, Send: pk(t, v, cp), Read: 1, Quiet: 300 * time.Millisecond},
	}
	narrow := "topic readwrite a/x\n"

	// Mosquitto, with a real SIGHUP.
	maddr := testutil.StartMosquitto(t, append(conf, "pid_file "+pidFile)...)
	var mosq testutil.Transcript
	mosq = append(mosq, testutil.Run(t, maddr, before)...)
	writeACL(narrow)
	pid, err := strconv.Atoi(strings.TrimSpace(testutil.ReadFile(t, pidFile)))
	if err != nil {
		t.Fatalf("mosquitto's pid_file: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	mosq = append(mosq, testutil.Run(t, maddr, after)...)

	// midge, reloaded as its broker command does on SIGHUP.
	writeACL("topic readwrite a/#\n")
	text := strings.Join(append([]string{"listener 1883 127.0.0.1", "sys_interval 0", "allow_anonymous true"}, conf...), "\n") + "\n"
	res, err := config.Parse(strings.NewReader(text), "mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	lc := cfg.Listeners[0]
	cfg.Listeners = nil
	if withStore {
		cfg.Store = store.NewMemory()
	} else {
		cfg.Store = nil
	}
	b := testutil.StartBrokerListener(t, cfg, lc)
	var midge testutil.Transcript
	midge = append(midge, testutil.Run(t, b.Addr, before)...)
	writeACL(narrow)
	next, err := config.Parse(strings.NewReader(text), "mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	config.Reload(res, next)
	b.Reload(res.Config)
	resumed := testutil.Run(t, b.Addr, after)
	midge = append(midge, resumed...)

	if mosq.String() != midge.String() {
		t.Errorf("midge's bytes differ from Mosquitto's\nmosquitto:\n%s\nmidge:\n%s", mosq, midge)
	}
	if strings.Contains(resumed.String(), "612f79") { // "a/y"
		t.Errorf("a/y delivered after the ACL no longer allows it:\n%s", resumed)
	}
}
