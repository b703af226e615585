package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// TLSConfig returns the mutual TLS configuration of a node's cluster port
// (cluster_cafile, cluster_certfile, cluster_keyfile), for Config.TLS and
// FetchStatusTLS. The same configuration serves both ends of a connection:
// each side presents certFile and requires the other's certificate, which
// must chain to a certificate of caFile. The host name is not checked
// (nodes dial one another by IP address) and neither is the extended key
// usage, so one certificate per node serves as both server and client:
// the CA is what admits a node, so it must issue certificates for the
// cluster's nodes only.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster: CA file %s: no PEM certificate", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: certificate and key: %w", err)
	}
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("cluster: the peer sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("cluster: peer certificate: %w", err)
		}
		return nil
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// Server side: a certificate is required; verify checks it.
		ClientAuth: tls.RequireAnyClientCert,
		// Client side: verify replaces the host name check (see above).
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
	}, nil
}

// dial connects to a node's cluster port, over TLS when the node has it,
// and writes the stream's first bytes.
func (n *Node) dial(addr string, timeout time.Duration, first []byte) (net.Conn, error) {
	return dialCluster(n.cfg.TLS, n.local, addr, timeout, first)
}

// dialCluster dials addr from local (nil: any source address).
func dialCluster(tc *tls.Config, local net.Addr, addr string, timeout time.Duration, first []byte) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, LocalAddr: local}
	var c net.Conn
	var err error
	if tc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		c, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", addr)
		cancel()
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(first); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

// scheme is the node API's URL scheme.
func scheme(tc *tls.Config) string {
	if tc != nil {
		return "https://"
	}
	return "http://"
}
