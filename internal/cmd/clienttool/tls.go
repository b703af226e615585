package clienttool

// TLS for the client tools: --cafile, --capath, --cert, --key, --insecure,
// --tls-version, --tls-alpn and --tls-use-os-certs, as libmosquitto applies
// them, on Go's crypto/tls.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// hashedName is the name of a certificate in an OpenSSL CA directory.
var hashedName = regexp.MustCompile(`^[0-9a-f]{8}\.[0-9]+$`)

// tlsSetupError is a TLS configuration that fails when connecting, as
// libmosquitto fails in net__init_ssl_ctx: debug is its log line (shown
// with -d), and the connection fails with "A TLS error occurred".
type tlsSetupError struct{ debug string }

func (e *tlsSetupError) Error() string { return strings.TrimSpace(e.debug) }

// tlsEnabled reports whether the connection uses TLS: with a CA file or
// directory, with --tls-use-os-certs or mqtts://, or on port 8883.
func (c *clientConfig) tlsEnabled() bool {
	return c.cafile != nil || c.capath != nil || c.psk != nil || c.tlsUseOSCerts || c.port == 8883
}

// tlsConfig returns the TLS configuration, nil for none, or the message
// client_opts_set prints for options it refuses.
func (c *clientConfig) tlsConfig() (*tls.Config, string) {
	if c.tlsVersion != nil {
		switch *c.tlsVersion {
		case "tlsv1.3", "tlsv1.2", "tlsv1.1":
		default:
			return nil, "Error: Problem setting TLS options, check the options are valid.\n"
		}
	}
	if !c.tlsEnabled() {
		return nil, ""
	}
	if c.cafile != nil || c.capath != nil {
		for _, f := range []*string{c.cafile, c.certfile, c.keyfile} {
			if f == nil {
				continue
			}
			fh, err := os.Open(*f)
			if err != nil {
				return nil, "Error: Problem setting TLS options: File not found.\n"
			}
			fh.Close()
		}
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS11}
	if c.tlsVersion != nil {
		switch *c.tlsVersion {
		case "tlsv1.3":
			conf.MinVersion = tls.VersionTLS13
		case "tlsv1.2":
			conf.MinVersion = tls.VersionTLS12
		}
	}
	if c.tlsALPN != nil {
		conf.NextProtos = []string{*c.tlsALPN}
	}
	if c.insecure {
		// Check the chain, not the host name.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no server certificate")
			}
			opts := x509.VerifyOptions{Roots: conf.RootCAs, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return conf, ""
}

// loadTLS loads the CA certificates and the client certificate into conf,
// when connecting, as net__init_ssl_ctx does.
func (c *clientConfig) loadTLS(conf *tls.Config) error {
	if conf == nil {
		return nil
	}
	if c.cafile != nil || c.capath != nil {
		var pool *x509.CertPool
		if c.tlsUseOSCerts {
			sys, err := x509.SystemCertPool()
			if err == nil {
				pool = sys
			}
		}
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if c.cafile != nil {
			pem, err := os.ReadFile(*c.cafile)
			if err != nil || !pool.AppendCertsFromPEM(pem) {
				return &tlsSetupError{debug: "Error: Unable to load CA certificates, check cafile \"" + *c.cafile + "\".\n"}
			}
		}
		if c.capath != nil {
			// OpenSSL looks certificates up by subject hash: only files
			// named as c_rehash names them ("1a2b3c4d.0") are seen.
			entries, err := os.ReadDir(*c.capath)
			if err == nil {
				for _, e := range entries {
					if !hashedName.MatchString(e.Name()) {
						continue
					}
					if pem, err := os.ReadFile(filepath.Join(*c.capath, e.Name())); err == nil {
						pool.AppendCertsFromPEM(pem)
					}
				}
			}
		}
		conf.RootCAs = pool
	}
	if c.certfile != nil && c.keyfile != nil {
		cert, err := tls.LoadX509KeyPair(*c.certfile, *c.keyfile)
		if err != nil {
			return &tlsSetupError{debug: "Error: Unable to load client certificate \"" + *c.certfile + "\".\n"}
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// isVerifyError reports whether err is a server certificate that could not
// be verified.
func isVerifyError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// isTLSError reports whether err comes from the TLS layer.
func isTLSError(err error) bool {
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var se *tlsSetupError
	return errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &se) || strings.Contains(err.Error(), "tls: ")
}
