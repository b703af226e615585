package broker

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	mbroker "github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// The bridges' $SYS topics: state, address and counters, retained, as they
// change; a reload removes a bridge and starts a new one.
func TestBridgeSysAndReload(t *testing.T) {
	remote := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true})
	mk := func(name string) config.Bridge {
		c := bridge.Defaults(name)
		c.Addresses = []string{remote.Addr}
		top, err := bridge.NewTopic("s/#", bridge.Out, 1, "", "")
		if err != nil {
			t.Fatal(err)
		}
		c.Topics = []bridge.Topic{top}
		c.ResolveIDs("h")
		return config.Bridge{Config: c}
	}
	var r bridgeRun
	r.start(local.Server, []config.Bridge{mk("one")}, slog.New(slog.DiscardHandler))
	defer r.stop()
	testutil.WaitFor(t, "bridge one connected", func() bool {
		bs := r.list()
		return len(bs) == 1 && bs[0].Status().State == bridge.Connected
	})
	r.publishSys()
	sub, _ := testutil.Connect(t, local.Addr, packet.Version311, "sys")
	sub.Subscribe(1, "$SYS/broker/bridges/#", 0)
	got := map[string]string{}
	for len(got) < 6 { // last_error is empty: no retained message
		p := testutil.Expect[*packet.Publish](sub)
		got[p.Topic] = string(p.Payload)
	}
	if got["$SYS/broker/bridges/one/state"] != "connected" || got["$SYS/broker/bridges/one/address"] != remote.Addr ||
		got["$SYS/broker/bridges/one/messages/sent"] != "0" {
		t.Fatalf("$SYS: %v", got)
	}
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	publish := &packet.Publish{Topic: "s/1", QoS: 1, PacketID: 1, Payload: []byte("x")}
	pub.Send(publish)
	testutil.Expect[*packet.Ack](pub)
	testutil.WaitFor(t, "sent counted", func() bool { return r.list()[0].Status().Sent == 1 })
	r.publishSys()
	for {
		p := testutil.Expect[*packet.Publish](sub)
		if p.Topic == "$SYS/broker/bridges/one/messages/sent" {
			if string(p.Payload) != "1" {
				t.Fatalf("sent %q", p.Payload)
			}
			break
		}
	}

	r.reload([]config.Bridge{mk("two")})
	bs := r.list()
	if len(bs) != 1 || bs[0].Status().Name != "two" {
		t.Fatalf("after reload: %d bridges", len(bs))
	}
}

// A real SIGHUP to the midge process adds, removes and changes bridges:
// the remote (an in-process broker) sees the removed bridge's state go to
// 0, the new one's go to 1 and relay, and the changed one (its remote
// prefix, bridge_reload_type immediate) relay to its new topic; the bridge
// left alone keeps its connection.
func TestBridgeReloadBySIGHUP(t *testing.T) {
	t.Parallel()
	remote := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version5, "rsub")
	rsub.Subscribe(1, "#", 1)
	rsub.Subscribe(2, "$SYS/broker/connection/#", 1)
	// await reads the remote's messages until one on topic with payload
	// has come (now or before: the bridges' messages interleave).
	seen := map[[2]string]bool{}
	await := func(what, topic, payload string) {
		t.Helper()
		deadline := time.Now().Add(testutil.Timeout)
		for !seen[[2]string{topic, payload}] {
			p, err := rsub.Read(time.Until(deadline))
			if err != nil {
				t.Fatalf("waiting for %s (%s %q) at the remote: %v", what, topic, payload, err)
			}
			if pub, ok := p.(*packet.Publish); ok {
				if pub.QoS == 1 {
					rsub.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: pub.PacketID})
				}
				seen[[2]string{pub.Topic, string(pub.Payload)}] = true
			}
		}
	}

	dir, port := worldDir(t), freePort(t)
	logf := filepath.Join(dir, "midge.log")
	conf := filepath.Join(dir, "midge.conf")
	write := func(bridges string) {
		t.Helper()
		text := fmt.Sprintf("log_dest file %s\nlog_type all\nlistener %s 127.0.0.1\nallow_anonymous true\n%s", logf, port, bridges)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	block := func(name, topicLine string, extra string) string {
		return fmt.Sprintf("\nconnection %[1]s\nremote_clientid %[1]s\naddress %[2]s\nrestart_timeout 1\n%[3]s\n%[4]s", name, remote.Addr, topicLine, extra)
	}
	write(block("kept", "topic kept/# out 1", "") + block("removed", "topic removed/# out 1", "") +
		block("changed", "topic changed/# out 1", "bridge_reload_type immediate\n"))
	cmd := startBinary(t, "-c", conf)
	waitLog(t, logf, "running")
	for _, name := range []string{"kept", "removed", "changed"} {
		await(name+" connected", "$SYS/broker/connection/"+name+"/state", "1")
	}
	pub, _ := testutil.Connect(t, "127.0.0.1:"+port, packet.Version311, "pub")
	id := uint16(0)
	send := func(topic string) {
		t.Helper()
		id++
		pub.Send(&packet.Publish{Topic: topic, Payload: []byte("m"), QoS: 1, PacketID: id})
		testutil.Expect[*packet.Ack](pub)
	}
	send("changed/x")
	await("changed's message before the reload", "changed/x", "m")

	write(block("kept", "topic kept/# out 1", "") + block("changed", `topic changed/# out 1 "" moved/`, "bridge_reload_type immediate\n") +
		block("added", "topic added/# out 1", ""))
	reloadAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	await("removed disconnected", "$SYS/broker/connection/removed/state", "0")
	await("added connected", "$SYS/broker/connection/added/state", "1")
	send("added/x")
	await("added's message", "added/x", "m")
	// changed reconnects with its new remote prefix; until it has, its
	// message waits in its local session.
	send("changed/y")
	await("changed's message after the reload", "moved/changed/y", "m")
	send("kept/x")
	await("kept's message", "kept/x", "m")
	if si, ok := remote.Server.Session("kept"); !ok || !si.Connected || !si.ConnectedAt.Before(reloadAt) {
		t.Fatalf("kept's connection: %+v", si)
	}
}
