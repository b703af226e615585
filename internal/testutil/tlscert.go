package testutil

import (
	"crypto/tls"
	"crypto/x509"
)

// TLSServer issues a server certificate for localhost, 127.0.0.1 and ::1,
// as Server does, and returns it loaded for a tls.Config's Certificates.
func (p *PKI) TLSServer(name string) tls.Certificate {
	p.t.Helper()
	c := p.Server(name)
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}

// Pool returns a certificate pool that trusts the PKI's CA, for a
// tls.Config's RootCAs.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}

// ClientTLS returns a client's tls.Config that trusts the PKI's CA for the
// server name localhost and, if cert is not nil, presents cert.
func (p *PKI) ClientTLS(cert *Cert) *tls.Config {
	p.t.Helper()
	cfg := &tls.Config{RootCAs: p.Pool(), ServerName: "localhost"}
	if cert != nil {
		kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			p.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg
}
