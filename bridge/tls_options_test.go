package bridge_test

import (
	"context"
	"crypto/tls"
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

// tlsRemote is a midge remote behind TLS whose server configuration the
// test sets, recording the cipher suites each ClientHello offered.
type tlsRemote struct {
	addr string
	mu   sync.Mutex
	// offered holds each ClientHello's cipher suites; guarded by mu.
	offered [][]uint16
}

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

// bridge_require_ocsp: a remote that staples no OCSP response is refused
// with a clear error; one that staples a response is accepted.
func TestRequireOCSP(t *testing.T) {
	pki := testutil.NewPKI(t, "ocsp")
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	plain := startTLSRemote(t, pki, nil)
	cfg := config(plain.addr, packet.Version311, mustTopic(t, "t/#", bridge.Out, "", ""))
	cfg.Name = "no-staple"
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, RequireOCSP: true}
	b := startBridge(t, cfg, local.Server)
	waitFor(t, "the OCSP error", func() bool { return strings.Contains(b.Status().LastError, "OCSP") })
	if b.Status().State == bridge.Connected {
		t.Fatal("connected without an OCSP response")
	}

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
		waitFor(t, "the OCSP error of "+name, func() bool { return strings.Contains(b.Status().LastError, "OCSP") })
		if b.Status().State == bridge.Connected {
			t.Fatalf("%s: connected with a bad OCSP response", name)
		}
	}
	stapled := startTLSRemote(t, pki, func(c *tls.Config) {
		c.Certificates[0].OCSPStaple = pki.OCSPStaple(c.Certificates[0], ocsp.Good, time.Hour)
	})
	cfg.Addresses, cfg.Name = []string{stapled.addr}, "staple"
	waitState(t, startBridge(t, cfg, local.Server), bridge.Connected)
}

// bridge_ciphers: the ClientHello offers only the listed TLS 1.2 suites
// (TLS 1.3's, which Go always offers, aside), and a remote that accepts
// none of them is not reached.
func TestCiphersApplied(t *testing.T) {
	pki := testutil.NewPKI(t, "ciphers")
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	r := startTLSRemote(t, pki, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	cfg := config(r.addr, packet.Version311, mustTopic(t, "t/#", bridge.Out, "", ""))
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"}
	waitState(t, startBridge(t, cfg, local.Server), bridge.Connected)
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
	waitFor(t, "a handshake error", func() bool { return strings.Contains(b.Status().LastError, "TLS handshake") })
	if b.Status().State == bridge.Connected {
		t.Fatal("connected with a cipher suite bridge_ciphers does not list")
	}
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
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	f := &fakeRemote{t: t, ln: ln}
	t.Logf("the kernel has Multipath TCP: %v", kernelHasMPTCP())
	for _, mptcp := range []bool{true, false} {
		cfg := config(f.addr(), packet.Version311, mustTopic(t, "t/#", bridge.Out, "", ""))
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

// bridge_tls_version: the bridge offers no TLS version below the one
// configured, so a remote that speaks at most TLS 1.2 is reached with
// tlsv1.2 (the default) and refused with tlsv1.3.
func TestTLSVersionApplied(t *testing.T) {
	pki := testutil.NewPKI(t, "tlsversion")
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	remote := startTLSRemote(t, pki, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	cfg := config(remote.addr, packet.Version311, mustTopic(t, "t/#", bridge.Out, "", ""))
	cfg.Name = "tls13"
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, Version: "tlsv1.3"}
	b := startBridge(t, cfg, local.Server)
	waitFor(t, "the TLS version error", func() bool { return strings.Contains(b.Status().LastError, "TLS") })
	if b.Status().State == bridge.Connected {
		t.Fatal("connected with TLS 1.2 although bridge_tls_version is tlsv1.3")
	}
	cfg.Name = "tls12"
	cfg.TLS = &bridge.TLS{CAFile: pki.CAFile, Version: "tlsv1.2"}
	waitState(t, startBridge(t, cfg, local.Server), bridge.Connected)
}
