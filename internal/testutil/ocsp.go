package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPStaple returns an OCSP response signed by the CA for the leaf of
// cert, with status (ocsp.Good, ocsp.Revoked...), valid from an hour ago
// until nextUpdate from now, for a server to staple.
func (p *PKI) OCSPStaple(cert tls.Certificate, status int, nextUpdate time.Duration) []byte {
	p.t.Helper()
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		p.t.Fatal(err)
	}
	now := time.Now()
	tmpl := ocsp.Response{Status: status, SerialNumber: leaf.SerialNumber,
		ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(nextUpdate)}
	if status == ocsp.Revoked {
		tmpl.RevokedAt = now.Add(-time.Hour)
	}
	der, err := ocsp.CreateResponse(p.cert, p.cert, tmpl, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	return der
}
