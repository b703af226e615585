package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/midge-mqtt/midge/internal/tlsconf"
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
	if b.cfg.TLS.RequireOCSP && len(conn.ConnectionState().OCSPResponse) == 0 {
		nc.Close()
		return nil, errors.New("TLS: bridge_require_ocsp and the remote stapled no OCSP response")
	}
	return conn, nil
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
