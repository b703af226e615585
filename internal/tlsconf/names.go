package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// CipherName returns OpenSSL's name of a cipher suite, as Mosquitto logs
// it ("ECDHE-RSA-AES128-GCM-SHA256"; TLS 1.3 suites have the same name in
// both: "TLS_AES_256_GCM_SHA384"), or Go's name for a suite OpenSSL names
// otherwise.
func CipherName(id uint16) string {
	for name, v := range openSSLCiphers {
		if v == id {
			return name
		}
	}
	return tls.CipherSuiteName(id)
}

// VersionName returns OpenSSL's name of a TLS version: "TLSv1.3".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
