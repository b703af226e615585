package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// ClientSettings are the TLS options of an outgoing connection (a bridge's
// bridge_cafile, bridge_certfile...).
type ClientSettings struct {
	CAFile, CAPath string // CAs the server's certificate must chain to
	UseOSCerts     bool   // the system's CAs too (or alone)
	// CertFile and KeyFile are the client certificate and key, PEM; both or
	// neither.
	CertFile, KeyFile string
	// Version is the lowest TLS version: "tlsv1.2" (default) or "tlsv1.3".
	Version string
	// Ciphers is an OpenSSL cipher list for TLS 1.2, as for Settings.
	// CiphersTLS13 is checked (names of TLS 1.3 suites) but Go chooses the
	// TLS 1.3 suites itself.
	Ciphers, CiphersTLS13 string
	ServerName            string // the host name the certificate must name
	// SkipHostname verifies the chain but not the host name (bridge_insecure).
	SkipHostname bool
}

// tls13Suites are the TLS 1.3 suite names OpenSSL and Go share.
var tls13Suites = map[string]bool{
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true,
}

// NewClient returns the TLS configuration s describes, or an error naming
// the file or value that is wrong.
func NewClient(s ClientSettings) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	switch strings.ToLower(s.Version) {
	case "", "tlsv1.2":
	case "tlsv1.3":
		cfg.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("bridge_tls_version %q: use tlsv1.2 or tlsv1.3", s.Version)
	}
	var err error
	if cfg.CipherSuites, err = parseCiphers(s.Ciphers); err != nil {
		return nil, err
	}
	for _, c := range strings.FieldsFunc(s.CiphersTLS13, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if !tls13Suites[c] {
			return nil, fmt.Errorf("ciphers_tls1.3: %s is not a TLS 1.3 suite Go implements", c)
		}
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, errors.New("a client certificate needs both certfile and keyfile")
	}
	if s.CertFile != "" {
		cert, err := loadKeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	var pool *x509.CertPool
	if s.UseOSCerts {
		if pool, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("system certificates: %w", err)
		}
	}
	if s.CAFile != "" || s.CAPath != "" {
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if pool, err = loadCAsInto(pool, s.CAFile, s.CAPath); err != nil {
			return nil, err
		}
	}
	cfg.RootCAs = pool
	if s.SkipHostname {
		// Verify the chain, not the name.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no server certificate")
			}
			opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg, nil
}
