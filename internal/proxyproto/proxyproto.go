package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// ErrMalformed is wrapped by every error about a header that is not a
// valid PROXY header of the version expected.
var ErrMalformed = errors.New("corrupt PROXY header")

// Header is what a PROXY header says about the connection it precedes.
type Header struct {
	// Version is 1 or 2.
	Version int
	// Local is set for a version 2 LOCAL command or a version 1 UNKNOWN
	// line: the connection is the proxy's own (a health check) or its
	// origin is unknown, and the socket's own addresses apply. Source and
	// Destination are then nil.
	Local bool
	// Source is the client's address, Destination the address it
	// connected to: *net.TCPAddr, or *net.UnixAddr for a version 2 AF_UNIX
	// header.
	Source, Destination net.Addr
	// TLS is the version 2 PP2_TYPE_SSL information; nil if absent (the
	// client did not connect to the proxy with TLS, or it does not say).
	TLS *TLS
}

// TLS is what a proxy that terminated TLS says about it (PP2_TYPE_SSL).
type TLS struct {
	// Client holds the PP2_CLIENT_* bits.
	Client byte
	// Verify is 0 if the client presented a certificate and it was
	// verified.
	Verify uint32
	// Version (PP2_SUBTYPE_SSL_VERSION, "TLSv1.3"), CommonName
	// (PP2_SUBTYPE_SSL_CN, of the client certificate's subject), Cipher
	// (PP2_SUBTYPE_SSL_CIPHER, "TLS_AES_256_GCM_SHA384"), SigAlg and KeyAlg
	// (PP2_SUBTYPE_SSL_SIG_ALG, _KEY_ALG, of the client certificate); ""
	// if not sent.
	Version, CommonName, Cipher, SigAlg, KeyAlg string
}

// The PP2_CLIENT_* bits of TLS.Client.
const (
	ClientSSL      = 0x01 // the client connected over TLS
	ClientCertConn = 0x02 // it presented a certificate on this connection
	ClientCertSess = 0x04 // it presented one on the TLS session
)

// SSL reports whether the client connected to the proxy over TLS.
func (t *TLS) SSL() bool { return t != nil && t.Client&ClientSSL != 0 }

// Certificate reports whether the client presented a certificate that the
// proxy verified.
func (t *TLS) Certificate() bool {
	return t.SSL() && t.Client&(ClientCertConn|ClientCertSess) != 0 && t.Verify == 0
}

// Limits of what Read accepts.
const (
	// MaxV1 is the longest version 1 line, CRLF included (the
	// specification's 107 bytes).
	MaxV1 = 107
	// MaxV2 is the most bytes a version 2 header may announce after its
	// 16 fixed bytes: addresses and TLVs.
	MaxV2 = 2048
)

// sigV2 starts every version 2 header.
var sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Read reads the header of the given version (1 or 2) from r, and no byte
// more. A connection that ends before the header does gives
// io.ErrUnexpectedEOF (io.EOF if it sent nothing); a header that is not
// valid gives an error wrapping ErrMalformed.
func Read(r io.Reader, version int) (*Header, error) {
	switch version {
	case 1:
		return readV1(r)
	case 2:
		return readV2(r)
	}
	return nil, fmt.Errorf("proxyproto: no PROXY protocol version %d", version)
}

// readV1 reads "PROXY TCP4 SRC DST SPORT DPORT\r\n" (or TCP6, or UNKNOWN
// with anything up to CRLF).
func readV1(r io.Reader) (*Header, error) {
	var buf [MaxV1]byte
	// The signature first, so that anything else is refused at once;
	// then up to "PROXY UNKNOWN\r\n", the shortest line.
	if _, err := io.ReadFull(r, buf[:6]); err != nil {
		return nil, err
	}
	if string(buf[:6]) != "PROXY " {
		return nil, malformed("no PROXY signature")
	}
	n, err := io.ReadFull(r, buf[6:15])
	n += 6
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	for !bytes.HasSuffix(buf[:n], []byte("\r\n")) {
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return nil, malformed("line feed without carriage return")
		}
		need := v1Rest(buf[:n])
		if n+need > MaxV1 {
			return nil, malformed("line longer than %d bytes", MaxV1)
		}
		m, err := io.ReadFull(r, buf[n:n+need])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return parseV1(buf[:n-2])
}

// v1Rest returns the fewest bytes that can complete the version 1 line
// begun in b (which has no CRLF yet): at least one.
func v1Rest(b []byte) int {
	if b[len(b)-1] == '\r' {
		return 1
	}
	if bytes.HasPrefix(b, []byte("PROXY UNKNOWN")) {
		return 2 // anything may follow, up to CRLF
	}
	// PROXY TCPx SRC DST SPORT DPORT: five spaces. Each field not begun
	// needs a space and a character; the current one a character if
	// empty; then CRLF.
	spaces := bytes.Count(b, []byte(" "))
	if spaces > 5 {
		return 1 // malformed: parseV1 says so once the line ends
	}
	need := 2 + 2*(5-spaces)
	if b[len(b)-1] == ' ' {
		need++
	}
	return need
}

// parseV1 parses a version 1 line without its CRLF.
func parseV1(line []byte) (*Header, error) {
	f := bytes.Split(line, []byte(" "))
	if len(f) >= 2 && string(f[1]) == "UNKNOWN" {
		return &Header{Version: 1, Local: true}, nil
	}
	if len(f) != 6 {
		return nil, malformed("%d fields, want 6", len(f))
	}
	proto := string(f[1])
	if proto != "TCP4" && proto != "TCP6" {
		return nil, malformed("protocol %q", proto)
	}
	var addrs [2]netip.Addr
	for i := range addrs {
		a, err := netip.ParseAddr(string(f[2+i]))
		if err != nil || a.Zone() != "" || (proto == "TCP4") != a.Is4() {
			return nil, malformed("%s address %q", proto, f[2+i])
		}
		addrs[i] = a
	}
	var ports [2]uint16
	for i := range ports {
		s := string(f[4+i])
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || s[0] == '+' || len(s) > 1 && s[0] == '0' {
			return nil, malformed("port %q", s)
		}
		ports[i] = uint16(p)
	}
	return &Header{
		Version:     1,
		Source:      net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrs[0], ports[0])),
		Destination: net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrs[1], ports[1])),
	}, nil
}

// Version 2 commands, families and TLV types.
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec = 0x00
	famTCP4   = 0x11
	famTCP6   = 0x21
	famUnix   = 0x31

	tlvSSL        = 0x20
	tlvSSLVersion = 0x21
	tlvSSLCN      = 0x22
	tlvSSLCipher  = 0x23
	tlvSSLSigAlg  = 0x24
	tlvSSLKeyAlg  = 0x25
)

// readV2 reads a version 2 header: 16 fixed bytes, then as many as they
// announce.
func readV2(r io.Reader) (*Header, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, err
	}
	if !bytes.Equal(fixed[:12], sigV2) {
		return nil, malformed("no version 2 signature")
	}
	if fixed[12]>>4 != 2 {
		return nil, malformed("version %d", fixed[12]>>4)
	}
	cmd, fam := fixed[12]&0x0F, fixed[13]
	n := int(binary.BigEndian.Uint16(fixed[14:]))
	if n > MaxV2 {
		return nil, malformed("%d bytes of addresses and TLVs, more than %d", n, MaxV2)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	h := &Header{Version: 2}
	switch cmd {
	case cmdLocal:
		// Addresses, if any, are to be ignored; TLVs still parsed.
		h.Local = true
	case cmdProxy:
	default:
		return nil, malformed("command %#x", cmd)
	}
	var alen int
	switch fam {
	case famTCP4:
		alen = 12
	case famTCP6:
		alen = 36
	case famUnix:
		alen = 216
	case famUnspec:
		if !h.Local {
			// PROXY with unknown addresses: the socket's apply.
			h.Local = true
		}
	default:
		if !h.Local {
			return nil, malformed("address family %#x", fam)
		}
		// LOCAL: the family does not matter, nor do the addresses;
		// nothing tells where the TLVs start.
		return h, nil
	}
	if len(body) < alen {
		return nil, malformed("%d bytes for family %#x, want %d", len(body), fam, alen)
	}
	if !h.Local {
		a := body[:alen]
		switch fam {
		case famTCP4:
			h.Source = tcpAddr(a[0:4], a[8:10])
			h.Destination = tcpAddr(a[4:8], a[10:12])
		case famTCP6:
			h.Source = tcpAddr(a[0:16], a[32:34])
			h.Destination = tcpAddr(a[16:32], a[34:36])
		case famUnix:
			h.Source = &net.UnixAddr{Net: "unix", Name: cString(a[:108])}
			h.Destination = &net.UnixAddr{Net: "unix", Name: cString(a[108:])}
		}
	}
	if err := h.readTLVs(body[alen:]); err != nil {
		return nil, err
	}
	return h, nil
}

func tcpAddr(ip, port []byte) *net.TCPAddr {
	a, _ := netip.AddrFromSlice(ip)
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), binary.BigEndian.Uint16(port)))
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// tlvs splits b into type-length-value records and calls fn for each.
func tlvs(b []byte, fn func(typ byte, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return malformed("truncated TLV")
		}
		typ, n := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		if len(b)-3 < n {
			return malformed("TLV %#x of %d bytes, %d left", typ, n, len(b)-3)
		}
		if err := fn(typ, b[3:3+n]); err != nil {
			return err
		}
		b = b[3+n:]
	}
	return nil
}

// readTLVs reads the TLVs; only PP2_TYPE_SSL and its sub-TLVs are kept.
func (h *Header) readTLVs(b []byte) error {
	return tlvs(b, func(typ byte, v []byte) error {
		if typ != tlvSSL {
			return nil
		}
		if len(v) < 5 {
			return malformed("PP2_TYPE_SSL of %d bytes", len(v))
		}
		t := &TLS{Client: v[0], Verify: binary.BigEndian.Uint32(v[1:5])}
		err := tlvs(v[5:], func(typ byte, v []byte) error {
			switch typ {
			case tlvSSLVersion:
				t.Version = string(v)
			case tlvSSLCN:
				t.CommonName = string(v)
			case tlvSSLCipher:
				t.Cipher = string(v)
			case tlvSSLSigAlg:
				t.SigAlg = string(v)
			case tlvSSLKeyAlg:
				t.KeyAlg = string(v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		h.TLS = t
		return nil
	})
}
