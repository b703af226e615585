// Package tlsconf turns a listener's TLS options, as mosquitto.conf names
// them, into a tls.Config, and reloads its certificates and certificate
// revocation list without touching established connections (SIGHUP).
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Settings are a listener's TLS options.
type Settings struct {
	CAFile   string // cafile: PEM certificates of the CAs client certificates must chain to
	CAPath   string // capath: a directory of such PEM files
	CertFile string // certfile: the server's certificate chain, PEM
	KeyFile  string // keyfile: its private key, PEM, unencrypted
	CRLFile  string // crlfile: a certificate revocation list, PEM or DER
	// Version is tls_version: the lowest TLS version accepted, "tlsv1.1",
	// "tlsv1.2" (the default) or "tlsv1.3".
	Version string
	// Ciphers is the ciphers option, an OpenSSL cipher list for TLS 1.2 and
	// below. Cipher names Go implements are used in their order; OpenSSL's
	// keywords and exclusions (DEFAULT, HIGH, !aNULL, @STRENGTH...) select
	// Go's own secure defaults; a name Go does not implement is an error.
	Ciphers string
	// RequireCertificate asks clients for a certificate that chains to the
	// CAs (require_certificate).
	RequireCertificate bool
	// DisableClientCertDateChecks accepts expired and not yet valid client
	// certificates (disable_client_cert_date_checks).
	DisableClientCertDateChecks bool
}

// Server is a listener's TLS configuration. Its Config reads the current
// certificates at every handshake, so Reload changes them for new
// connections only. It is safe for concurrent use.
type Server struct {
	settings Settings
	cur      atomic.Pointer[tls.Config]
	base     *tls.Config
}

// New loads the files of s and returns the Server, or an error that names
// the file and what is wrong with it.
func New(s Settings) (*Server, error) {
	cfg, err := build(s)
	if err != nil {
		return nil, err
	}
	srv := &Server{settings: s}
	srv.cur.Store(cfg)
	srv.base = &tls.Config{
		MinVersion: cfg.MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return srv.cur.Load(), nil
		},
	}
	return srv, nil
}

// Config returns the tls.Config for the listener.
func (s *Server) Config() *tls.Config { return s.base }

// Reload reads the files again. On an error the configuration in use is
// kept and the error returned.
func (s *Server) Reload() error {
	cfg, err := build(s.settings)
	if err != nil {
		return err
	}
	s.cur.Store(cfg)
	return nil
}

func build(s Settings) (*tls.Config, error) {
	if s.CertFile == "" || s.KeyFile == "" {
		return nil, errors.New("a TLS listener needs both certfile and keyfile")
	}
	cert, err := loadKeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch strings.ToLower(s.Version) {
	case "", "tlsv1.2":
	case "tlsv1.3":
		cfg.MinVersion = tls.VersionTLS13
	case "tlsv1.1":
		cfg.MinVersion = tls.VersionTLS11
	default:
		return nil, fmt.Errorf("tls_version %q: use tlsv1.1, tlsv1.2 or tlsv1.3", s.Version)
	}
	if cfg.CipherSuites, err = parseCiphers(s.Ciphers); err != nil {
		return nil, err
	}
	var pool *x509.CertPool
	if s.CAFile != "" || s.CAPath != "" {
		if pool, err = loadCAs(s.CAFile, s.CAPath); err != nil {
			return nil, err
		}
	}
	if s.RequireCertificate {
		if pool == nil {
			return nil, errors.New("require_certificate true needs cafile or capath")
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	var crl *x509.RevocationList
	if s.CRLFile != "" {
		if crl, err = loadCRL(s.CRLFile); err != nil {
			return nil, err
		}
	}
	if s.RequireCertificate && (s.DisableClientCertDateChecks || crl != nil) {
		verify := verifier{pool: pool, crl: crl, anyDate: s.DisableClientCertDateChecks}
		if s.DisableClientCertDateChecks {
			// The standard check would refuse an expired certificate
			// before ours runs.
			cfg.ClientAuth = tls.RequireAnyClientCert
		}
		cfg.VerifyPeerCertificate = verify.verify
	}
	return cfg, nil
}

func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certfile: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("keyfile: %w", err)
	}
	if b, _ := pem.Decode(keyPEM); b != nil && (b.Headers["Proc-Type"] != "" || b.Type == "ENCRYPTED PRIVATE KEY") {
		return tls.Certificate{}, fmt.Errorf("keyfile %s is encrypted; midge cannot ask for its password: decrypt it (openssl pkey -in %s -out plain.key)", keyFile, keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certfile %s / keyfile %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// loadCAs reads the PEM certificates of file and of every file in dir.
func loadCAs(file, dir string) (*x509.CertPool, error) {
	return loadCAsInto(x509.NewCertPool(), file, dir)
}

// loadCAsInto adds the PEM certificates of file and of every file in dir
// to pool and returns it.
func loadCAsInto(pool *x509.CertPool, file, dir string) (*x509.CertPool, error) {
	add := func(path, what string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("%s %s: no PEM certificate in it", what, path)
		}
		return nil
	}
	if file != "" {
		if err := add(file, "cafile"); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("capath: %w", err)
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil && pool.AppendCertsFromPEM(b) {
				n++ // OpenSSL's hash links and other files are skipped
			}
		}
		if n == 0 && file == "" {
			return nil, fmt.Errorf("capath %s: no PEM certificates in it", dir)
		}
	}
	return pool, nil
}

func loadCRL(path string) (*x509.RevocationList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crlfile: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("crlfile %s: %w", path, err)
	}
	return crl, nil
}

// verifier checks client certificates beyond what crypto/tls does: against
// the revocation list, and, with anyDate, without their validity dates.
type verifier struct {
	pool    *x509.CertPool
	crl     *x509.RevocationList
	anyDate bool
}

func (v verifier) verify(raw [][]byte, chains [][]*x509.Certificate) error {
	if v.anyDate {
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		if len(certs) == 0 {
			return errors.New("no client certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		leaf := certs[0]
		// Verify the chain as of a moment the leaf was valid: its last
		// second, or its first, or now (OpenSSL's NO_CHECK_TIME has no
		// counterpart in crypto/x509).
		var err error
		for _, at := range []time.Time{time.Now(), leaf.NotAfter.Add(-time.Second), leaf.NotBefore.Add(time.Second)} {
			opts := x509.VerifyOptions{Roots: v.pool, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: at}
			if chains, err = leaf.Verify(opts); err == nil {
				break
			}
		}
		if err != nil {
			return err
		}
	}
	if v.crl == nil {
		return nil
	}
	for _, chain := range chains {
		for _, c := range chain {
			if slices.Equal(c.RawIssuer, v.crl.RawIssuer) {
				for _, r := range v.crl.RevokedCertificateEntries {
					if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
						return fmt.Errorf("certificate %q is revoked", c.Subject.CommonName)
					}
				}
			}
		}
	}
	return nil
}

// parseCiphers maps an OpenSSL cipher list onto Go's cipher suites for TLS
// 1.2 and below: nil (Go's defaults) when it names no cipher.
func parseCiphers(list string) ([]uint16, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var ids []uint16
	var unknown []string
	for _, tok := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if id, ok := openSSLCiphers[tok]; ok {
			ids = append(ids, id)
			continue
		}
		if isCipherKeyword(tok) {
			continue
		}
		if id, ok := goCipher(tok); ok { // Go's (IANA) names are accepted too
			ids = append(ids, id)
			continue
		}
		unknown = append(unknown, tok)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("ciphers: %s not available in Go's TLS", strings.Join(unknown, ", "))
	}
	return ids, nil
}

func goCipher(name string) (uint16, bool) {
	for _, s := range tls.CipherSuites() {
		if s.Name == name {
			return s.ID, true
		}
	}
	return 0, false
}

// isCipherKeyword reports whether tok is an OpenSSL cipher-list keyword or
// exclusion rather than a cipher name.
func isCipherKeyword(tok string) bool {
	if strings.ContainsAny(tok[:1], "!-+@") {
		return true
	}
	switch strings.ToUpper(tok) {
	case "DEFAULT", "ALL", "HIGH", "MEDIUM", "LOW", "COMPLEMENTOFDEFAULT", "COMPLEMENTOFALL",
		"AES", "AESGCM", "AES128", "AES256", "CHACHA20", "ECDHE", "EECDH", "EDH", "DHE",
		"KECDHE", "ECDSA", "AECDSA", "RSA", "ARSA", "SHA256", "SHA384", "TLSV1.2", "TLSV1", "SSLV3":
		return true
	}
	return false
}

// openSSLCiphers maps OpenSSL's names of the TLS 1.2 suites Go implements.
var openSSLCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
}
