package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/midge-mqtt/midge/internal/tlsconf"
	"golang.org/x/crypto/ocsp"
)

// dialTimeout bounds dialling and the TLS handshake.
const dialTimeout = 30 * time.Second

// dial opens the network connection to addr with the bridge's socket and
// TLS options.
func (b *Bridge) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	if b.cfg.BindAddress != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(b.cfg.BindAddress)}
	}
	if ka := b.cfg.TCPKeepAlive; ka[0] > 0 && ka[1] > 0 && ka[2] > 0 {
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: time.Duration(ka[0]) * time.Second,
			Interval: time.Duration(ka[1]) * time.Second, Count: ka[2]}
	}
	if b.cfg.MPTCP {
		d.SetMultipathTCP(true)
	}
	if b.cfg.TCPUserTimeout > 0 {
		d.Control = userTimeout(b.cfg.TCPUserTimeout)
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !b.cfg.TLS.Enabled() {
		return nc, nil
	}
	tc, err := b.tlsConfig(addr)
	if err != nil {
		nc.Close()
		return nil, err
	}
	conn := tls.Client(nc, tc)
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if b.cfg.TLS.RequireOCSP {
		if err := checkOCSP(conn.ConnectionState(), time.Now()); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS: bridge_require_ocsp: %w", err)
		}
	}
	return conn, nil
}

// checkOCSP verifies the OCSP response the remote stapled, as Mosquitto's
// bridge_require_ocsp does: it must be there, be signed by the issuer of
// the remote's certificate (or a responder the issuer delegated to), be
// about that certificate, say it is good, and be current.
func checkOCSP(cs tls.ConnectionState, now time.Time) error {
	if len(cs.OCSPResponse) == 0 {
		return errors.New("the remote stapled no OCSP response")
	}
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) < 2 {
		return errors.New("no verified issuer to check the OCSP response against")
	}
	leaf, issuer := cs.VerifiedChains[0][0], cs.VerifiedChains[0][1]
	r, err := ocsp.ParseResponseForCert(cs.OCSPResponse, leaf, issuer)
	if err != nil {
		return fmt.Errorf("the stapled OCSP response is invalid: %w", err)
	}
	switch {
	case r.Status == ocsp.Revoked:
		return fmt.Errorf("the OCSP response says the remote's certificate was revoked at %s", r.RevokedAt.UTC().Format(time.RFC3339))
	case r.Status != ocsp.Good:
		return errors.New("the OCSP response does not say the remote's certificate is good")
	case r.ThisUpdate.After(now.Add(5 * time.Minute)):
		return errors.New("the OCSP response is not valid yet")
	case !r.NextUpdate.IsZero() && r.NextUpdate.Before(now):
		return errors.New("the OCSP response has expired")
	}
	return nil
}

// tlsConfig builds the TLS client configuration for addr.
func (b *Bridge) tlsConfig(addr string) (*tls.Config, error) {
	t := b.cfg.TLS
	host, _, _ := net.SplitHostPort(addr)
	cfg, err := tlsconf.NewClient(tlsconf.ClientSettings{
		CAFile: t.CAFile, CAPath: t.CAPath, UseOSCerts: t.UseOSCerts,
		CertFile: t.CertFile, KeyFile: t.KeyFile, Version: t.Version,
		Ciphers: t.Ciphers, CiphersTLS13: t.CiphersTLS13, ServerName: host,
		SkipHostname: t.Insecure,
	})
	if err != nil {
		return nil, err
	}
	if t.ALPN != "" {
		cfg.NextProtos = []string{t.ALPN}
	}
	return cfg, nil
}
