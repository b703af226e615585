package bridge_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// notification_topic and notifications_local_only: the state goes to the
// chosen topic, locally only; bridge_outgoing_retain false clears the
// retain flag of what goes out.
func TestNotificationTopicLocalOnlyAndOutgoingRetain(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version5, "#")
	rsys := subscriber(t, remote.Addr, packet.Version5, "rsys", "$SYS/broker/connection/#", 1)
	cfg := outConfig(t, remote.Addr, packet.Version5, "r/#")
	cfg.NotificationTopic = "bridges/test/state"
	cfg.NotificationsLocalOnly = true
	cfg.OutgoingRetain = false
	startConnected(t, cfg, local.Server)

	lsub := subscriber(t, local.Addr, packet.Version5, "lsub", "bridges/#", 1)
	if p := expectPublish(t, lsub); p.Topic != "bridges/test/state" || string(p.Payload) != "1" || !p.Retain {
		t.Fatalf("local notification %q %q", p.Topic, p.Payload)
	}
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	pub.Send(&packet.Publish{Topic: "r/1", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("x")})
	testutil.Expect[*packet.Ack](pub)
	p := expectPublish(t, rsub)
	if p.Topic != "r/1" || p.Retain {
		t.Fatalf("remote got %q retain %v", p.Topic, p.Retain)
	}
	expectQuiet(t, rsub, 100*time.Millisecond) // no notification on the remote
	expectQuiet(t, rsys, 10*time.Millisecond)
}

// bridge_max_packet_size: a message too large for the remote is dropped,
// acknowledged locally and counted; smaller ones go on.
func TestMaxPacketSize(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version5, "m/#")
	cfg := outConfig(t, remote.Addr, packet.Version311, "m/#")
	cfg.MaxPacketSize = 200
	b := startConnected(t, cfg, local.Server)
	pub, _ := testutil.Connect(t, local.Addr, packet.Version5, "pub")
	publish(t, pub, 1, "m/big", strings.Repeat("x", 300), 1)
	publish(t, pub, 2, "m/small", "x", 1)
	if p := expectPublish(t, rsub); p.Topic != "m/small" {
		t.Fatalf("got %q", p.Topic)
	}
	testutil.WaitFor(t, "the large message dropped and counted", func() bool {
		st := b.Status()
		return st.Dropped == 1 && st.Queued == 0
	})
}

// start_type once: a failed connection is not retried.
func TestStartOnce(t *testing.T) {
	local := anonBroker(t)
	cfg := outConfig(t, deadAddr(t), packet.Version311, "x")
	cfg.StartType = bridge.Once
	b := startBridge(t, cfg, local.Server)
	testutil.WaitFor(t, "stopped", func() bool { st := b.Status(); return st.State == bridge.Stopped && st.LastError != "" })
}

// start_type lazy: the bridge connects once threshold messages wait, and
// leaves after idle_timeout without traffic.
func TestLazyThresholdIdle(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version311, "l/#")
	cfg := outConfig(t, remote.Addr, packet.Version311, "l/#")
	cfg.StartType, cfg.Threshold, cfg.IdleTimeout = bridge.Lazy, 2, time.Second
	b := startBridge(t, cfg, local.Server)
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	publish(t, pub, 1, "l/1", "a", 1)
	expectQuiet(t, rsub, 1500*time.Millisecond) // one message: below the threshold
	if st := b.Status(); st.State == bridge.Connected {
		t.Fatal("connected below the threshold")
	}
	publish(t, pub, 2, "l/2", "b", 1)
	for _, want := range []string{"l/1", "l/2"} {
		if p := expectPublish(t, rsub); p.Topic != want {
			t.Fatalf("got %q, want %q", p.Topic, want)
		}
	}
	testutil.WaitFor(t, "idle disconnection", func() bool { return b.Status().State == bridge.Waiting })
}

// A lazy bridge queues QoS 0 messages while it is disconnected, as
// Mosquitto does (without queue_qos0_messages): they count towards the
// threshold and go to the remote once it connects. An automatic bridge's
// offline session does not queue them.
func TestLazyQueuesQoS0(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version311, "l/#")
	cfg := outConfig(t, remote.Addr, packet.Version311, "l/#")
	cfg.Topics[0].QoS = 1
	cfg.StartType, cfg.Threshold, cfg.IdleTimeout = bridge.Lazy, 3, time.Minute
	b := startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Waiting)
	offline(t, local.Server, "local.testhost.test")
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	for _, m := range []string{"a", "b", "c"} {
		publish(t, pub, 0, "l/"+m, m, 0)
	}
	for _, want := range []string{"l/a", "l/b", "l/c"} {
		if p := expectPublish(t, rsub); p.Topic != want || p.QoS != 0 {
			t.Fatalf("got %q QoS %d, want %q QoS 0", p.Topic, p.QoS, want)
		}
	}

	// An automatic bridge whose remote is away: its session is offline
	// and QoS 0 messages are not kept for it.
	auto := outConfig(t, deadAddr(t), packet.Version311, "q/#")
	auto.Name = "auto"
	startBridge(t, auto, local.Server)
	offline(t, local.Server, "local.testhost.auto")
	publish(t, pub, 0, "q/x", "x", 0)
	publish(t, pub, 1, "q/y", "y", 1)
	testutil.WaitFor(t, "the QoS 1 message queued", func() bool {
		si, ok := local.Server.Session("local.testhost.auto")
		return ok && si.Queued == 1
	})
}

// MQTT 5 remote with topic aliases: the bridge uses them (up to
// bridge_max_topic_alias), and the topics arrive whole.
func TestTopicAliasOut(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version311, "a/#")
	cfg := outConfig(t, remote.Addr, packet.Version5, "a/#")
	cfg.MaxTopicAlias = 1
	startConnected(t, cfg, local.Server)
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	for i, topic := range []string{"a/1", "a/1", "a/2", "a/1"} {
		publish(t, pub, uint16(i+1), topic, "x", 1)
		if p := expectPublish(t, rsub); p.Topic != topic {
			t.Fatalf("message %d: got %q, want %q", i, p.Topic, topic)
		}
	}
}

// passwords is an Authenticator with fixed users, recording who connected.
type passwords struct {
	users map[string]string
	mu    sync.Mutex
	seen  []string // guarded by mu: "user:password" of every attempt
}

func (p *passwords) Authenticate(_ context.Context, c *broker.Client, pw []byte, has bool) (broker.Verdict, error) {
	p.mu.Lock()
	p.seen = append(p.seen, c.Username+":"+string(pw))
	p.mu.Unlock()
	if want, ok := p.users[c.Username]; ok && c.HasUsername && has && want == string(pw) {
		return broker.Allow, nil
	}
	return broker.Deny, nil
}

// local_username and local_password: the bridge's local side carries them
// as its credentials (the session shows the user name) on a local broker
// that refuses anonymous clients, and, as in Mosquitto, it is trusted: the
// password check is not asked about it. Relaying works.
func TestLocalUsernamePassword(t *testing.T) {
	remote := anonBroker(t)
	rsub := subscriber(t, remote.Addr, packet.Version5, "rsub", "l/#", 1)
	auth := &passwords{users: map[string]string{"pub": "pub-secret"}}
	local := testutil.StartBroker(t, broker.Config{Authenticators: []broker.Authenticator{auth}})

	cfg := outConfig(t, remote.Addr, packet.Version311, "l/#")
	cfg.LocalUsername, cfg.LocalPassword = "bridge-user", []byte("local-secret")
	startConnected(t, cfg, local.Server)
	if si, ok := local.Server.Session("local.testhost.test"); !ok || !si.HasUsername || si.Username != "bridge-user" {
		t.Fatalf("local session %+v", si)
	}
	pub := testutil.Dial(t, local.Addr, packet.Version5)
	if ack := pub.Connect(&packet.Connect{ClientID: "pub", CleanStart: true,
		HasUsername: true, Username: "pub", HasPassword: true, Password: []byte("pub-secret")}); ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v", ack.ReasonCode)
	}
	publish(t, pub, 1, "l/1", "x", 1)
	if p := expectPublish(t, rsub); p.Topic != "l/1" {
		t.Fatalf("remote got %q", p.Topic)
	}
	auth.mu.Lock()
	defer auth.mu.Unlock()
	for _, s := range auth.seen {
		if strings.HasPrefix(s, "bridge-user:") {
			t.Fatalf("the trusted local side was checked against the passwords: %q", auth.seen)
		}
	}

	// Without local_username the local side has no user name.
	cfg = outConfig(t, remote.Addr, packet.Version311, "m/#")
	cfg.Name = "anon"
	startConnected(t, cfg, local.Server)
	if si, _ := local.Server.Session("local.testhost.anon"); si.HasUsername {
		t.Fatalf("local session without local_username: %+v", si)
	}
}

// max_queued_messages bounds the bridge's queue while the remote is away:
// what overflows is dropped and counted in the bridge's status, and the
// broker says so once, not once a message; when the remote is back the
// queued messages go.
func TestQueueOverflowCountedAndLoggedOnce(t *testing.T) {
	logs := &testutil.LockedBuffer{}
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, MaxQueuedMessages: 3,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	f := newFakeRemote(t)
	cfg := outConfig(t, f.addr(), packet.Version311, "q/#")
	cfg.Topics[0].QoS = 1
	cfg.Notifications = false
	cfg.AttemptUnsubscribe = false
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	c.decode(packet.Version311) // and no CONNACK: the remote hangs

	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	for i := range 10 {
		publish(t, pub, uint16(i+1), "q/x", "m", 1)
	}
	testutil.WaitFor(t, "7 dropped, 3 queued", func() bool {
		st := b.Status()
		return st.Dropped == 7 && st.Queued == 3
	})
	if n := strings.Count(logs.String(), "Outgoing messages are being dropped for client local.testhost.test"); n != 1 {
		t.Fatalf("the overflow logged %d times, want once:\n%s", n, logs.String())
	}

	c.send(0x20, 2, 0, 0)
	for range 3 {
		p := c.decode(packet.Version311).(*packet.Publish)
		c.send(0x40, 2, byte(p.PacketID>>8), byte(p.PacketID))
	}
	testutil.WaitFor(t, "the queue drained", func() bool { return b.Status().Queued == 0 })
	if st := b.Status(); st.Sent != 3 || st.Dropped != 7 {
		t.Fatalf("status %+v", st)
	}
}

// Several addresses: a failed one moves the bridge to the next. With
// round_robin true it stays there; with false it probes the primary and
// goes back to it when it answers.
func TestAddresses(t *testing.T) {
	second := anonBroker(t)
	local := anonBroker(t)

	rr := outConfig(t, deadAddr(t), packet.Version311, "x")
	rr.Name, rr.RoundRobin = "rr", true
	rr.Addresses = append(rr.Addresses, second.Addr)
	b := startBridge(t, rr, local.Server)
	waitAddress(t, b, second.Addr)

	primary := deadAddr(t)
	cfg := outConfig(t, primary, packet.Version311, "x")
	cfg.Name = "probe"
	cfg.Addresses = append(cfg.Addresses, second.Addr)
	b = startBridge(t, cfg, local.Server)
	waitAddress(t, b, second.Addr)
	ln, err := net.Listen("tcp", primary)
	if err != nil {
		t.Fatal(err)
	}
	p := broker.New(broker.Config{AllowAnonymous: true})
	go p.Serve(t.Context(), ln, broker.Listener{})
	defer p.Close()
	waitAddress(t, b, primary) // the primary is probed every 5 seconds
}

// local_cleansession true: nothing is queued for the remote while it is
// away; false (with a store): everything acknowledged is kept.
func TestLocalCleanSession(t *testing.T) {
	for _, clean := range []bool{true, false} {
		st := openBolt(t)
		raddr := deadAddr(t)
		local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, Store: st})
		cfg := outConfig(t, raddr, packet.Version311, "q/#")
		cfg.LocalCleanSession = clean
		cfg.Restart = bridge.Backoff{Constant: time.Second} // time for the subscriber to subscribe first
		b := startBridge(t, cfg, local.Server)
		pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
		publish(t, pub, 1, "q/1", "while away", 1)
		stop := remoteAt(t, raddr, nil)
		rsub := subscriber(t, raddr, packet.Version311, "rsub", "q/#", 1)
		waitState(t, b, bridge.Connected)
		if clean {
			expectQuiet(t, rsub, 300*time.Millisecond)
		} else if p := expectPublish(t, rsub); string(p.Payload) != "while away" {
			t.Fatalf("got %q", p.Payload)
		}
		stop()
	}
}
