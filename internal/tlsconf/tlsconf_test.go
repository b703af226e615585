package tlsconf_test

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/tlsconf"
)

// handshake runs a TLS handshake against a listener using cfg, with the
// client presenting cert (if not nil) and trusting ca's CA; it returns the
// client's error.
func handshake(t *testing.T, cfg *tls.Config, ca *testutil.PKI, cert *testutil.Cert) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.(*tls.Conn).Handshake()
		c.Write([]byte("x")) // fails if the server refused
	}()
	ccfg := ca.ClientTLS(cert)
	nc, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(nc, ccfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	// TLS 1.3 reports a refused client certificate on the first read.
	_, err = io.ReadFull(tc, make([]byte, 1))
	return err
}

func TestServerCertificateAndClientAuth(t *testing.T) {
	pki := testutil.NewPKI(t, "ca")
	other := testutil.NewPKI(t, "other")
	srvCert := pki.Server("broker")
	good := pki.Client("alice")
	expired := pki.ExpiredClient("old")
	stranger := other.Client("mallory")
	revoked := pki.Client("revoked")

	s, err := tlsconf.New(tlsconf.Settings{CertFile: srvCert.CertFile, KeyFile: srvCert.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, s.Config(), pki, nil); err != nil {
		t.Errorf("server-only TLS: %v", err)
	}

	s, err = tlsconf.New(tlsconf.Settings{CertFile: srvCert.CertFile, KeyFile: srvCert.KeyFile,
		CAFile: pki.CAFile, RequireCertificate: true, CRLFile: pki.CRL(revoked)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert *testutil.Cert
		ok   bool
	}{{"valid", &good, true}, {"none", nil, false}, {"expired", &expired, false},
		{"other CA", &stranger, false}, {"revoked", &revoked, false}} {
		err := handshake(t, s.Config(), pki, tc.cert)
		if (err == nil) != tc.ok {
			t.Errorf("%s client certificate: err %v, want ok %v", tc.name, err, tc.ok)
		}
	}

	s, err = tlsconf.New(tlsconf.Settings{CertFile: srvCert.CertFile, KeyFile: srvCert.KeyFile,
		CAFile: pki.CAFile, RequireCertificate: true, DisableClientCertDateChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, s.Config(), pki, &expired); err != nil {
		t.Errorf("disable_client_cert_date_checks: expired refused: %v", err)
	}
	if err := handshake(t, s.Config(), pki, &stranger); err == nil {
		t.Error("disable_client_cert_date_checks: other CA accepted")
	}
}

// Reload swaps the certificate for new handshakes; a broken file keeps the
// old one.
func TestReload(t *testing.T) {
	pki := testutil.NewPKI(t, "ca")
	a := pki.Server("a")
	dir := t.TempDir()
	certFile, keyFile := dir+"/s.crt", dir+"/s.key"
	copyFile(t, a.CertFile, certFile)
	copyFile(t, a.KeyFile, keyFile)
	s, err := tlsconf.New(tlsconf.Settings{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	newPKI := testutil.NewPKI(t, "new")
	b := newPKI.Server("b")
	copyFile(t, b.CertFile, certFile)
	copyFile(t, b.KeyFile, keyFile)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, s.Config(), newPKI, nil); err != nil {
		t.Errorf("after reload: %v", err)
	}
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	if err := s.Reload(); err == nil {
		t.Error("a broken key reloaded without error")
	}
	if err := handshake(t, s.Config(), newPKI, nil); err != nil {
		t.Errorf("a failed reload lost the working certificate: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSettingsErrors(t *testing.T) {
	pki := testutil.NewPKI(t, "ca")
	c := pki.Server("s")
	for _, tc := range []struct {
		s    tlsconf.Settings
		want string
	}{
		{tlsconf.Settings{CertFile: c.CertFile}, "needs both certfile and keyfile"},
		{tlsconf.Settings{CertFile: c.CertFile, KeyFile: "/nonexistent"}, "keyfile"},
		{tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile, RequireCertificate: true}, "needs cafile or capath"},
		{tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile, Version: "tlsv9"}, "tls_version"},
		{tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile, Ciphers: "RC4-MD5"}, "RC4-MD5 not available"},
		{tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile, CAPath: t.TempDir()}, "no PEM certificates"},
	} {
		_, err := tlsconf.New(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.s, err, tc.want)
		}
	}
	// OpenSSL keywords are accepted; named suites map onto Go's.
	if _, err := tlsconf.New(tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile,
		Ciphers: "ECDHE-RSA-AES128-GCM-SHA256:DEFAULT:!aNULL:@STRENGTH", Version: "tlsv1.3", CAPath: pki.Dir}); err != nil {
		t.Error(err)
	}
}

func TestOpenSSLNames(t *testing.T) {
	if got := tlsconf.CipherName(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); got != "ECDHE-RSA-AES128-GCM-SHA256" {
		t.Errorf("CipherName %q", got)
	}
	if got := tlsconf.CipherName(tls.TLS_AES_256_GCM_SHA384); got != "TLS_AES_256_GCM_SHA384" {
		t.Errorf("CipherName %q", got)
	}
	if tlsconf.VersionName(tls.VersionTLS13) != "TLSv1.3" || tlsconf.VersionName(tls.VersionTLS12) != "TLSv1.2" {
		t.Error("VersionName")
	}
}
