package clienttool

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mqCert writes a certificate for name signed by ca (itself if nil) and its
// key, PEM encoded, into dir, readable by all (Debian's broker drops root).
func mqCert(t *testing.T, dir, name string, isCA bool, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		tmpl.DNSNames = []string{name}
	}
	if ca == nil {
		ca, caKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o644)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTLS compares pub over TLS with Debian's: a trusted server, an
// untrusted one, a host name that does not match (refused, and accepted
// with --insecure), a client certificate, and a bad --tls-version.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := mqWorldDir(t)
	ca, caKey := mqCert(t, dir, "ca", true, nil, nil)
	mqCert(t, dir, "localhost", false, ca, caKey)
	mqCert(t, dir, "client", false, ca, caKey)
	mqCert(t, dir, "other-ca", true, nil, nil)
	capath := filepath.Join(dir, "capath")
	os.Mkdir(capath, 0o755)
	os.WriteFile(filepath.Join(capath, "ca.crt"), mustRead(t, filepath.Join(dir, "ca.crt")), 0o644)
	hashed := mqWorldDir(t)
	if out, err := exec.Command("openssl", "x509", "-hash", "-noout", "-in", filepath.Join(dir, "ca.crt")).Output(); err == nil {
		os.WriteFile(filepath.Join(hashed, strings.TrimSpace(string(out))+".0"), mustRead(t, filepath.Join(dir, "ca.crt")), 0o644)
	} else {
		t.Fatalf("openssl x509 -hash: %v (apt-get install openssl)", err)
	}
	// tlsListener starts Debian's broker with a TLS listener for localhost
	// and returns its port.
	tlsListener := func(requireCertificate string) string {
		port := mqFreePort(t)
		mqStartMosquitto(t, "listener "+port+" 127.0.0.1",
			"cafile "+filepath.Join(dir, "ca.crt"),
			"certfile "+filepath.Join(dir, "localhost.crt"),
			"keyfile "+filepath.Join(dir, "localhost.key"),
			"require_certificate "+requireCertificate)
		return port
	}
	port, certPort := tlsListener("false"), tlsListener("true")
	caArg := filepath.Join(dir, "ca.crt")
	for name, args := range map[string][]string{
		"trusted":         {"-h", "localhost", "-p", port, "--cafile", caArg, "-d"},
		"capath-unhashed": {"-h", "localhost", "-p", port, "--capath", capath},
		"capath":          {"-h", "localhost", "-p", port, "--capath", hashed, "-d"},
		"tls1.2":          {"-h", "localhost", "-p", port, "--cafile", caArg, "--tls-version", "tlsv1.2"},
		"untrusted":       {"-h", "localhost", "-p", port, "--cafile", filepath.Join(dir, "other-ca.crt")},
		"hostname":        {"-h", "127.0.0.1", "-p", port, "--cafile", caArg},
		"insecure":        {"-h", "127.0.0.1", "-p", port, "--cafile", caArg, "--insecure", "-d"},
		"client-cert":     {"-h", "localhost", "-p", certPort, "--cafile", caArg, "--cert", filepath.Join(dir, "client.crt"), "--key", filepath.Join(dir, "client.key"), "-d"},
		"bad-tls-version": {"-h", "localhost", "-p", port, "--cafile", caArg, "--tls-version", "tlsv1.0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			home := mqHome(t)
			args = append(args, "-t", "tls/t", "-m", "secret")
			want := mqStartDebian(t, "mosquitto_pub", home, "", nil, args...)
			got := mqStartMidge(t, toolPub, home, "", nil, args...)
			if name == "untrusted" || name == "hostname" || name == "capath-unhashed" {
				// Mosquitto says "Unable to connect (A TLS error
				// occurred.)." and exits 1, or "Error: A TLS error
				// occurred." and exits 8, as the handshake's timing goes.
				want.wait(t)
				if want.code == exitTLS {
					want.code = 1
					want.err.buf.Reset()
					want.err.buf.WriteString("Unable to connect (A TLS error occurred.).\n")
				}
			}
			mqCompare(t, want, got, nil)
		})
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
