package bridge_test

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"golang.org/x/crypto/ocsp"
)

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
		cfg := outConfig(t, r.addr, packet.Version311, "t/#")
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
	cfg := outConfig(t, r.addr, packet.Version311, "t/#")
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
	cfg := outConfig(t, plain.addr, packet.Version311, "t/#")
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
	cfg := outConfig(t, r.addr, packet.Version311, "t/#")
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
	cfg := outConfig(t, remote.addr, packet.Version311, "t/#")
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
		cfg := outConfig(t, f.addr(), packet.Version311, "t/#")
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
