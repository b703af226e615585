package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a certificate authority made for a test, with files in Dir.
type PKI struct {
	Dir    string
	CAFile string // the CA certificate, PEM
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
	t      testing.TB
}

// NewPKI makes a CA named name whose files live in a temporary directory.
func NewPKI(t testing.TB, name string) *PKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"midge tests"}},
		NotBefore:             time.Now().Add(-72 * time.Hour), // before ExpiredClient's certificates
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &PKI{Dir: t.TempDir(), cert: cert, key: key, serial: 1, t: t}
	p.CAFile = p.write(name+"-ca.crt", "CERTIFICATE", der)
	return p
}

func (p *PKI) write(name, typ string, der []byte) string {
	path := filepath.Join(p.Dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// Cert is a certificate and key issued by a PKI.
type Cert struct {
	CertFile, KeyFile string
	Serial            *big.Int
}

// Server issues a server certificate for localhost, 127.0.0.1 and ::1.
func (p *PKI) Server(name string) Cert {
	return p.issue(name, true, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// Client issues a client certificate with Common Name cn.
func (p *PKI) Client(cn string) Cert {
	return p.issue(cn, false, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// ExpiredClient issues a client certificate that expired an hour ago.
func (p *PKI) ExpiredClient(cn string) Cert {
	return p.issue(cn, false, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
}

func (p *PKI) issue(cn string, server bool, from, to time.Time) Cert {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"midge tests"}},
		NotBefore:    from,
		NotAfter:     to,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	base := cn + "-" + big.NewInt(p.serial).String()
	return Cert{
		CertFile: p.write(base+".crt", "CERTIFICATE", der),
		KeyFile:  p.write(base+".key", "PRIVATE KEY", keyDER),
		Serial:   tmpl.SerialNumber,
	}
}

// CRL writes a certificate revocation list revoking certs and returns its
// file.
func (p *PKI) CRL(certs ...Cert) string {
	p.t.Helper()
	var revoked []x509.RevocationListEntry
	for _, c := range certs {
		revoked = append(revoked, x509.RevocationListEntry{SerialNumber: c.Serial, RevocationTime: time.Now().Add(-time.Minute)})
	}
	p.serial++
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(p.serial),
		ThisUpdate:                time.Now().Add(-time.Minute),
		NextUpdate:                time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: revoked,
	}, p.cert, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write("revoked-"+big.NewInt(p.serial).String()+".crl", "X509 CRL", der)
}
