package proxyproto

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
)

// Append appends h in its version's wire form to b, as a proxy sends it:
// a version 1 line (TCP4, TCP6, or UNKNOWN when Local), or a version 2
// header with the TLS information as a PP2_TYPE_SSL TLV. Source and
// Destination must be both *net.TCPAddr of the same family, or both
// *net.UnixAddr (version 2 only), unless Local.
func (h *Header) Append(b []byte) ([]byte, error) {
	src, _ := h.Source.(*net.TCPAddr)
	dst, _ := h.Destination.(*net.TCPAddr)
	switch h.Version {
	case 1:
		if h.Local {
			return append(b, "PROXY UNKNOWN\r\n"...), nil
		}
		if src == nil || dst == nil || (src.IP.To4() == nil) != (dst.IP.To4() == nil) {
			return nil, fmt.Errorf("proxyproto: version 1 needs two TCP addresses of one family")
		}
		proto := "TCP6"
		if src.IP.To4() != nil {
			proto = "TCP4"
		}
		b = append(b, "PROXY "+proto+" "+src.IP.String()+" "+dst.IP.String()+" "...)
		b = strconv.AppendInt(b, int64(src.Port), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(dst.Port), 10)
		return append(b, "\r\n"...), nil
	case 2:
	default:
		return nil, fmt.Errorf("proxyproto: no PROXY protocol version %d", h.Version)
	}
	var body []byte
	cmd, fam := byte(cmdProxy), byte(famUnspec)
	su, _ := h.Source.(*net.UnixAddr)
	du, _ := h.Destination.(*net.UnixAddr)
	switch {
	case h.Local:
		cmd = cmdLocal
	case src != nil && dst != nil && src.IP.To4() != nil && dst.IP.To4() != nil:
		fam = famTCP4
		body = append(append(body, src.IP.To4()...), dst.IP.To4()...)
		body = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(body, uint16(src.Port)), uint16(dst.Port))
	case src != nil && dst != nil && src.IP.To4() == nil && dst.IP.To4() == nil:
		fam = famTCP6
		body = append(append(body, src.IP.To16()...), dst.IP.To16()...)
		body = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(body, uint16(src.Port)), uint16(dst.Port))
	case su != nil && du != nil && len(su.Name) < 108 && len(du.Name) < 108:
		fam = famUnix
		var a [216]byte
		copy(a[:108], su.Name)
		copy(a[108:], du.Name)
		body = append(body, a[:]...)
	default:
		return nil, fmt.Errorf("proxyproto: addresses %v and %v cannot be sent", h.Source, h.Destination)
	}
	if t := h.TLS; t != nil {
		v := []byte{t.Client}
		v = binary.BigEndian.AppendUint32(v, t.Verify)
		for _, s := range []struct {
			typ byte
			v   string
		}{{tlvSSLVersion, t.Version}, {tlvSSLCN, t.CommonName}, {tlvSSLCipher, t.Cipher}, {tlvSSLSigAlg, t.SigAlg}, {tlvSSLKeyAlg, t.KeyAlg}} {
			if s.v != "" {
				v = appendTLV(v, s.typ, []byte(s.v))
			}
		}
		body = appendTLV(body, tlvSSL, v)
	}
	if len(body) > MaxV2 {
		return nil, fmt.Errorf("proxyproto: header of %d bytes, more than %d", len(body), MaxV2)
	}
	b = append(b, sigV2...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...), nil
}

func appendTLV(b []byte, typ byte, v []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}
