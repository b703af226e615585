package clienttool

// The connection options for a tool with a command line of its own (midge
// ctrl, as mosquitto_ctrl): the same host, port, Unix socket, credentials
// and TLS handling as pub, sub and rr.

import (
	"errors"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// PortUndefined is Conn.Port when no port was given: 1883, or 8883 with a
// CA file or directory or a PSK.
const PortUndefined = portUndefined

// Conn is how to reach the server: what mosquitto_ctrl's options say about
// the connection. Optional strings whose presence matters are *string, as
// Mosquitto tests the pointer.
type Conn struct {
	Host     string // a host name or address, or the socket's path when Port is 0
	Port     int    // PortUndefined, or 0 for a Unix socket
	Protocol byte   // 3, 4 or 5
	ID       *string
	Bind     *string // -A
	Username *string
	Password *string

	CAFile, CAPath, CertFile, KeyFile *string
	Ciphers, TLSVersion, TLSALPN      *string
	Keyform, TLSEngine, TLSKpassSHA1  *string
	PSK, PSKIdentity, Proxy           *string
	Insecure, TLSUseOSCerts           bool
}

// config is c as the shared code sees it.
func (c *Conn) config() *clientConfig {
	cfg := newClientConfig(toolPub)
	host := c.Host
	cfg.host = &host
	cfg.port = c.Port
	cfg.unixSocket = c.Port == 0
	cfg.protocol = c.Protocol
	cfg.id, cfg.bindAddress = c.ID, c.Bind
	cfg.username, cfg.password = c.Username, c.Password
	cfg.cafile, cfg.capath, cfg.certfile, cfg.keyfile = c.CAFile, c.CAPath, c.CertFile, c.KeyFile
	cfg.ciphers, cfg.tlsVersion, cfg.tlsALPN = c.Ciphers, c.TLSVersion, c.TLSALPN
	cfg.keyform, cfg.tlsEngine, cfg.tlsKpassSHA1 = c.Keyform, c.TLSEngine, c.TLSKpassSHA1
	cfg.psk, cfg.pskIdentity, cfg.proxy = c.PSK, c.PSKIdentity, c.Proxy
	cfg.insecure, cfg.tlsUseOSCerts = c.Insecure, c.TLSUseOSCerts
	return cfg
}

// ClientOptions returns the client's Options for c (clean start, keep
// alive 60 s, the client id as libmosquitto makes it), or the message
// Mosquitto prints for options it refuses when it sets them, or midge's
// message for options it cannot carry out (PSK, SOCKS, engines).
func (c *Conn) ClientOptions(st base.Streams) (client.Options, string) {
	cfg := c.config()
	s := newSession(cfg, st)
	o, msg := s.options(cfg.clientID())
	if msg != "" {
		return o, msg
	}
	if msg := cfg.unsupported(); msg != "" {
		return o, msg
	}
	return o, ""
}

// TLS reports whether the connection is to use TLS.
func (c *Conn) TLS() bool { return c.config().tlsEnabled() }

// ConnackText is what Mosquitto's tools print for a refusing CONNACK.
func (c *Conn) ConnackText(code packet.ReasonCode) string { return c.config().connackText(code) }

// ReasonString is libmosquitto's mosquitto_reason_string.
func ReasonString(code packet.ReasonCode) string { return reasonString(code) }

// Atoi is C's atoi: leading blanks, a sign, digits, the rest ignored.
func Atoi(s string) int { return cAtoi(s) }

// IsTLSSetupError reports whether err, from dialling, is certificates or
// keys that cannot be loaded (libmosquitto fails so in mosquitto_connect,
// before the handshake).
func IsTLSSetupError(err error) bool {
	var se *tlsSetupError
	return errors.As(err, &se)
}
