package bridge_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"golang.org/x/crypto/ocsp"
)

// notification_topic and notifications_local_only: the state goes to the
// chosen topic, locally only; bridge_outgoing_retain false clears the
// retain flag of what goes out.
func TestNotificationTopicLocalOnlyAndOutgoingRetain(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version5, "#")
	rsys := subscriber(t, remote.Addr, packet.Version5, "rsys", "$SYS/broker/connection/#", 1)
	cfg := configOne(t, remote.Addr, packet.Version5, bridge.Out, "r/#")
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
	cfg := configOne(t, remote.Addr, packet.Version311, bridge.Out, "m/#")
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
	cfg := configOne(t, deadAddr(t), packet.Version311, bridge.Out, "x")
	cfg.StartType = bridge.Once
	b := startBridge(t, cfg, local.Server)
	testutil.WaitFor(t, "stopped", func() bool { st := b.Status(); return st.State == bridge.Stopped && st.LastError != "" })
}

// start_type lazy: the bridge connects once threshold messages wait, and
// leaves after idle_timeout without traffic.
func TestLazyThresholdIdle(t *testing.T) {
	remote, local, rsub := startPair(t, packet.Version311, "l/#")
	cfg := configOne(t, remote.Addr, packet.Version311, bridge.Out, "l/#")
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
	cfg := configOne(t, remote.Addr, packet.Version311, bridge.Out, "l/#")
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
	auto := configOne(t, deadAddr(t), packet.Version311, bridge.Out, "q/#")
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
	cfg := configOne(t, remote.Addr, packet.Version5, bridge.Out, "a/#")
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

	cfg := configOne(t, remote.Addr, packet.Version311, bridge.Out, "l/#")
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
	cfg = configOne(t, remote.Addr, packet.Version311, bridge.Out, "m/#")
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
	cfg := configOne(t, f.addr(), packet.Version311, bridge.Out, "q/#")
	cfg.Topics[0].QoS = 1
	cfg.Notifications = false
	cfg.AttemptUnsubscribe = false
	b := startBridge(t, cfg, local.Server)
	c := f.accept()
	c.decode(packet.Version311) // and no CONNACK: the remote hangs
	// Prime's DISCONNECT may not have been handled yet: a message sent to
	// the session while it is still connected would be in flight, outside
	// the queue whose bound this test counts.
	offline(t, local.Server, "local.testhost.test")

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
		c.send(ackPkt(0x40, p.PacketID)...)
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

	rr := configOne(t, deadAddr(t), packet.Version311, bridge.Out, "x")
	rr.Name, rr.RoundRobin = "rr", true
	rr.Addresses = append(rr.Addresses, second.Addr)
	b := startBridge(t, rr, local.Server)
	waitAddress(t, b, second.Addr)

	primary := deadAddr(t)
	cfg := configOne(t, primary, packet.Version311, bridge.Out, "x")
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
		cfg := configOne(t, raddr, packet.Version311, bridge.Out, "q/#")
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

// tlsRemote is a midge remote behind TLS whose server configuration the
// test sets, recording the cipher suites and ALPN protocols each
// ClientHello offered.
type tlsRemote struct {
	addr string
	mu   sync.Mutex
	// offered holds each ClientHello's cipher suites; guarded by mu.
	offered [][]uint16
	// alpn holds each ClientHello's ALPN protocols; guarded by mu.
	alpn [][]string
}

// startTLSRemote starts a tlsRemote with a server certificate of pki and
// the TLS configuration edit makes (if not nil); it stops when the test
// ends.
func startTLSRemote(t *testing.T, pki *testutil.PKI, edit func(*tls.Config)) *tlsRemote {
	t.Helper()
	srvCert := pki.Server("remote")
	cert, err := tls.LoadX509KeyPair(srvCert.CertFile, srvCert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	r := &tlsRemote{}
	tc := &tls.Config{Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			r.mu.Lock()
			r.offered = append(r.offered, slices.Clone(h.CipherSuites))
			r.alpn = append(r.alpn, slices.Clone(h.SupportedProtos))
			r.mu.Unlock()
			return nil, nil
		}}
	if edit != nil {
		edit(tc)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remote := broker.New(broker.Config{AllowAnonymous: true})
	go remote.Serve(context.Background(), ln, broker.Listener{TLS: tc})
	t.Cleanup(func() { remote.Close() })
	r.addr = ln.Addr().String()
	return r
}

// TLS with a CA file, a client certificate, bind address, TCP keep alive,
// TCP_USER_TIMEOUT and ALPN; bridge_insecure checks the chain but not the
// host name.
func TestTLSAndSocketOptions(t *testing.T) {
	pki := testutil.NewPKI(t, "bridge")
	r := startTLSRemote(t, pki, func(c *tls.Config) { c.NextProtos = []string{"mqtt"} })
	local := anonBroker(t)

	client := pki.Client("edge")
	for _, insecure := range []bool{false, true} {
		cfg := configOne(t, r.addr, packet.Version311, bridge.Out, "t/#")
		cfg.Name = map[bool]string{false: "tls", true: "insecure"}[insecure]
		cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, CertFile: client.CertFile, KeyFile: client.KeyFile, ALPN: "mqtt", Insecure: insecure}
		cfg.BindAddress = "127.0.0.1"
		cfg.TCPKeepAlive = [3]int{30, 5, 3}
		cfg.TCPUserTimeout = 5 * time.Second
		startConnected(t, cfg, local.Server)
	}
	r.mu.Lock()
	for _, protos := range r.alpn {
		if len(protos) == 0 || protos[0] != "mqtt" {
			t.Errorf("ALPN %q", protos)
		}
	}
	r.mu.Unlock()

	// A CA that did not sign the server's certificate: refused.
	other := testutil.NewPKI(t, "other")
	cfg := configOne(t, r.addr, packet.Version311, bridge.Out, "t/#")
	cfg.Name = "untrusted"
	cfg.TLS = &bridge.TLS{CAFile: other.CAFile}
	b := startBridge(t, cfg, local.Server)
	waitRefused(t, b, "a TLS error", "certificate", "connected to a server the CA did not sign")
}

// bridge_require_ocsp: a remote that staples no OCSP response is refused
// with a clear error; one that staples a response is accepted.
func TestRequireOCSP(t *testing.T) {
	pki := testutil.NewPKI(t, "ocsp")
	local := anonBroker(t)
	plain := startTLSRemote(t, pki, nil)
	cfg := configOne(t, plain.addr, packet.Version311, bridge.Out, "t/#")
	cfg.Name = "no-staple"
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, RequireOCSP: true}
	b := startBridge(t, cfg, local.Server)
	waitRefused(t, b, "the OCSP error", "OCSP", "connected without an OCSP response")

	// A staple that is not a response signed by the CA, one that says the
	// certificate is revoked, and an expired one are refused; a good one
	// is accepted.
	refused := map[string]func(c *tls.Config){
		"garbage": func(c *tls.Config) { c.Certificates[0].OCSPStaple = []byte("stapled response") },
		"revoked": func(c *tls.Config) {
			c.Certificates[0].OCSPStaple = pki.OCSPStaple(c.Certificates[0], ocsp.Revoked, time.Hour)
		},
		"expired": func(c *tls.Config) {
			c.Certificates[0].OCSPStaple = pki.OCSPStaple(c.Certificates[0], ocsp.Good, -time.Minute)
		},
	}
	for name, edit := range refused {
		r := startTLSRemote(t, pki, edit)
		cfg.Addresses, cfg.Name = []string{r.addr}, name
		b := startBridge(t, cfg, local.Server)
		waitRefused(t, b, "the OCSP error of "+name, "OCSP", name+": connected with a bad OCSP response")
	}
	stapled := startTLSRemote(t, pki, func(c *tls.Config) {
		c.Certificates[0].OCSPStaple = pki.OCSPStaple(c.Certificates[0], ocsp.Good, time.Hour)
	})
	cfg.Addresses, cfg.Name = []string{stapled.addr}, "staple"
	startConnected(t, cfg, local.Server)
}

// bridge_ciphers: the ClientHello offers only the listed TLS 1.2 suites
// (TLS 1.3's, which Go always offers, aside), and a remote that accepts
// none of them is not reached.
func TestCiphersApplied(t *testing.T) {
	pki := testutil.NewPKI(t, "ciphers")
	local := anonBroker(t)
	r := startTLSRemote(t, pki, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	cfg := configOne(t, r.addr, packet.Version311, bridge.Out, "t/#")
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"}
	startConnected(t, cfg, local.Server)
	r.mu.Lock()
	var tls12 []uint16
	for _, s := range r.offered[0] {
		if s != tls.TLS_AES_128_GCM_SHA256 && s != tls.TLS_AES_256_GCM_SHA384 && s != tls.TLS_CHACHA20_POLY1305_SHA256 {
			tls12 = append(tls12, s)
		}
	}
	r.mu.Unlock()
	if !slices.Equal(tls12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}) {
		t.Fatalf("TLS 1.2 suites offered: %x", tls12)
	}

	// A remote that takes only a suite the bridge does not list.
	only := startTLSRemote(t, pki, func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	})
	cfg.Addresses, cfg.Name = []string{only.addr}, "mismatch"
	b := startBridge(t, cfg, local.Server)
	waitRefused(t, b, "a handshake error", "TLS handshake", "connected with a cipher suite bridge_ciphers does not list")
}

// bridge_tls_version: the bridge offers no TLS version below the one
// configured, so a remote that speaks at most TLS 1.2 is reached with
// tlsv1.2 (the default) and refused with tlsv1.3.
func TestTLSVersionApplied(t *testing.T) {
	pki := testutil.NewPKI(t, "tlsversion")
	local := anonBroker(t)
	remote := startTLSRemote(t, pki, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	cfg := configOne(t, remote.addr, packet.Version311, bridge.Out, "t/#")
	cfg.Name = "tls13"
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, Version: "tlsv1.3"}
	b := startBridge(t, cfg, local.Server)
	waitRefused(t, b, "the TLS version error", "TLS", "connected with TLS 1.2 although bridge_tls_version is tlsv1.3")
	cfg.Name = "tls12"
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, Version: "tlsv1.2"}
	startConnected(t, cfg, local.Server)
}

// bridge_mptcp: the bridge's connection is Multipath TCP when the kernel
// has it (the remote's listener asks for it too, and sees it), plain TCP
// without the option.
func TestMPTCP(t *testing.T) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	local := anonBroker(t)
	f := &fakeRemote{t: t, ln: ln}
	t.Logf("the kernel has Multipath TCP: %v", kernelHasMPTCP())
	for _, mptcp := range []bool{true, false} {
		cfg := configOne(t, f.addr(), packet.Version311, bridge.Out, "t/#")
		cfg.Name = map[bool]string{true: "mptcp", false: "tcp"}[mptcp]
		cfg.MPTCP = mptcp
		startBridge(t, cfg, local.Server)
		c := f.accept()
		c.decode(packet.Version311) // the CONNECT came over it
		got, err := c.nc.(*net.TCPConn).MultipathTCP()
		if err != nil {
			t.Fatal(err)
		}
		if mptcp && !got && kernelHasMPTCP() {
			t.Error("bridge_mptcp true: the connection is plain TCP on a kernel with Multipath TCP")
		}
		if !mptcp && got {
			t.Error("bridge_mptcp false: the connection is Multipath TCP")
		}
	}
}

// kernelHasMPTCP reports whether a Multipath TCP socket can be opened
// (Linux 5.6 and later with net.mptcp.enabled).
func kernelHasMPTCP() bool {
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return false
	}
	defer ln.Close()
	var d net.Dialer
	d.SetMultipathTCP(true)
	nc, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		return false
	}
	defer nc.Close()
	ok, _ := nc.(*net.TCPConn).MultipathTCP()
	return ok
}
