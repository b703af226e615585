package bridge_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
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
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version5, "rsub")
	rsub.Subscribe(1, "#", 1)
	rsys, _ := testutil.Connect(t, remote.Addr, packet.Version5, "rsys")
	rsys.Subscribe(1, "$SYS/broker/connection/#", 1)
	cfg := config(remote.Addr, packet.Version5, mustTopic(t, "r/#", bridge.Out, "", ""))
	cfg.NotificationTopic = "bridges/test/state"
	cfg.NotificationsLocalOnly = true
	cfg.OutgoingRetain = false
	b := startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Connected)

	lsub, _ := testutil.Connect(t, local.Addr, packet.Version5, "lsub")
	lsub.Subscribe(1, "bridges/#", 1)
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
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version5, "rsub")
	rsub.Subscribe(1, "m/#", 1)
	cfg := config(remote.Addr, packet.Version311, mustTopic(t, "m/#", bridge.Out, "", ""))
	cfg.MaxPacketSize = 200
	b := startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Connected)
	pub, _ := testutil.Connect(t, local.Addr, packet.Version5, "pub")
	publish(t, pub, 1, "m/big", strings.Repeat("x", 300), 1)
	publish(t, pub, 2, "m/small", "x", 1)
	if p := expectPublish(t, rsub); p.Topic != "m/small" {
		t.Fatalf("got %q", p.Topic)
	}
	waitFor(t, "the large message dropped and counted", func() bool {
		st := b.Status()
		return st.Dropped == 1 && st.Queued == 0
	})
}

// start_type once: a failed connection is not retried.
func TestStartOnce(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	cfg := config(addr, packet.Version311, mustTopic(t, "x", bridge.Out, "", ""))
	cfg.StartType = bridge.Once
	b := startBridge(t, cfg, local.Server)
	waitFor(t, "stopped", func() bool { st := b.Status(); return st.State == bridge.Stopped && st.LastError != "" })
}

// start_type lazy: the bridge connects once threshold messages wait, and
// leaves after idle_timeout without traffic.
func TestLazyThresholdIdle(t *testing.T) {
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version311, "rsub")
	rsub.Subscribe(1, "l/#", 1)
	cfg := config(remote.Addr, packet.Version311, mustTopic(t, "l/#", bridge.Out, "", ""))
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
	waitFor(t, "idle disconnection", func() bool { return b.Status().State == bridge.Waiting })
}

// TLS with a CA file, a client certificate, bind address, TCP keep alive,
// TCP_USER_TIMEOUT and ALPN; bridge_insecure checks the chain but not the
// host name.
func TestTLSAndSocketOptions(t *testing.T) {
	pki := testutil.NewPKI(t, "bridge")
	srvCert := pki.Server("remote")
	cert, err := tls.LoadX509KeyPair(srvCert.CertFile, srvCert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var gotALPN string
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"mqtt"},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			if len(h.SupportedProtos) > 0 {
				gotALPN = h.SupportedProtos[0]
			}
			return nil, nil
		}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remote := broker.New(broker.Config{AllowAnonymous: true})
	go remote.Serve(context.Background(), ln, broker.Listener{TLS: tc})
	defer remote.Close()
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})

	client := pki.Client("edge")
	for _, insecure := range []bool{false, true} {
		addr := ln.Addr().String()
		if insecure {
		}
		cfg := config(addr, packet.Version311, mustTopic(t, "t/#", bridge.Out, "", ""))
		cfg.Name = map[bool]string{false: "tls", true: "insecure"}[insecure]
		cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, CertFile: client.CertFile, KeyFile: client.KeyFile, ALPN: "mqtt", Insecure: insecure}
		cfg.BindAddress = "127.0.0.1"
		cfg.TCPKeepAlive = [3]int{30, 5, 3}
		cfg.TCPUserTimeout = 5 * time.Second
		b := startBridge(t, cfg, local.Server)
		waitState(t, b, bridge.Connected)
	}
	if gotALPN != "mqtt" {
		t.Errorf("ALPN %q", gotALPN)
	}

	// A CA that did not sign the server's certificate: refused.
	other := testutil.NewPKI(t, "other")
	cfg := config(ln.Addr().String(), packet.Version311, mustTopic(t, "t/#", bridge.Out, "", ""))
	cfg.Name = "untrusted"
	cfg.TLS = &bridge.TLS{CAFile: other.CAFile}
	b := startBridge(t, cfg, local.Server)
	waitFor(t, "a TLS error", func() bool { return strings.Contains(b.Status().LastError, "certificate") })
	if b.Status().State == bridge.Connected {
		t.Fatal("connected to a server the CA did not sign")
	}
}

// MQTT 5 remote with topic aliases: the bridge uses them (up to
// bridge_max_topic_alias), and the topics arrive whole.
func TestTopicAliasOut(t *testing.T) {
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version311, "rsub")
	rsub.Subscribe(1, "a/#", 1)
	cfg := config(remote.Addr, packet.Version5, mustTopic(t, "a/#", bridge.Out, "", ""))
	cfg.MaxTopicAlias = 1
	b := startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Connected)
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	for i, topic := range []string{"a/1", "a/1", "a/2", "a/1"} {
		publish(t, pub, uint16(i+1), topic, "x", 1)
		if p := expectPublish(t, rsub); p.Topic != topic {
			t.Fatalf("message %d: got %q, want %q", i, p.Topic, topic)
		}
	}
}
