package proxyproto_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/proxyproto"
)

// countingReader counts reads, and gives at most what each read asks.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(b []byte) (int, error) { c.reads++; return c.r.Read(b) }

func tcp(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// TestRoundTrip writes headers and reads them back, followed by MQTT bytes
// that must stay unread.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tlsInfo := &proxyproto.TLS{Client: proxyproto.ClientSSL | proxyproto.ClientCertConn | proxyproto.ClientCertSess,
		Version: "TLSv1.3", CommonName: "device-7", Cipher: "TLS_AES_256_GCM_SHA384", SigAlg: "RSA-SHA256", KeyAlg: "RSA2048"}
	for _, h := range []*proxyproto.Header{
		{Version: 1, Source: tcp("192.0.2.10:51234"), Destination: tcp("198.51.100.1:1883")},
		{Version: 1, Source: tcp("[2001:db8::10]:51234"), Destination: tcp("[2001:db8::1]:1883")},
		{Version: 1, Source: tcp("1.2.3.4:0"), Destination: tcp("5.6.7.8:65535")},
		{Version: 1, Local: true},
		{Version: 2, Source: tcp("192.0.2.10:51234"), Destination: tcp("198.51.100.1:1883")},
		{Version: 2, Source: tcp("[2001:db8::10]:51234"), Destination: tcp("[2001:db8::1]:8883"), TLS: tlsInfo},
		{Version: 2, Source: &net.UnixAddr{Net: "unix", Name: "/run/a"}, Destination: &net.UnixAddr{Net: "unix", Name: "/run/b"}},
		{Version: 2, Local: true},
		{Version: 2, Source: tcp("192.0.2.10:51234"), Destination: tcp("198.51.100.1:8883"), TLS: &proxyproto.TLS{Client: proxyproto.ClientSSL, Verify: 0, Version: "TLSv1.2"}},
	} {
		b, err := h.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		mqtt := []byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T'}
		r := bytes.NewReader(append(b, mqtt...))
		got, err := proxyproto.Read(r, h.Version)
		if err != nil {
			t.Errorf("%q: %v", b, err)
			continue
		}
		if got.Version != h.Version || got.Local != h.Local || fmt.Sprint(got.Source) != fmt.Sprint(h.Source) ||
			fmt.Sprint(got.Destination) != fmt.Sprint(h.Destination) || !reflect.DeepEqual(got.TLS, h.TLS) {
			t.Errorf("%q: read %+v, want %+v", b, got, h)
		}
		if rest, _ := io.ReadAll(r); !bytes.Equal(rest, mqtt) {
			t.Errorf("%q: left %q unread, want the MQTT bytes %q", b, rest, mqtt)
		}
	}
}

// TestV1FewReads: a version 1 line is not read a byte at a time.
func TestV1FewReads(t *testing.T) {
	t.Parallel()
	line := "PROXY TCP6 2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff 2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001 65535 65535\r\n"
	cr := &countingReader{r: strings.NewReader(line + "MQTT")}
	if _, err := proxyproto.Read(cr, 1); err != nil {
		t.Fatal(err)
	}
	if cr.reads > 20 {
		t.Errorf("%d reads for a %d-byte line", cr.reads, len(line))
	}
}

func TestTLSCertificate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tls  *proxyproto.TLS
		ssl  bool
		cert bool
	}{
		{nil, false, false},
		{&proxyproto.TLS{}, false, false},
		{&proxyproto.TLS{Client: proxyproto.ClientSSL}, true, false},
		{&proxyproto.TLS{Client: proxyproto.ClientSSL | proxyproto.ClientCertSess}, true, true},
		{&proxyproto.TLS{Client: proxyproto.ClientSSL | proxyproto.ClientCertConn}, true, true},
		{&proxyproto.TLS{Client: proxyproto.ClientSSL | proxyproto.ClientCertConn, Verify: 1}, true, false},
		{&proxyproto.TLS{Client: proxyproto.ClientCertConn}, false, false},
	} {
		if c.tls.SSL() != c.ssl || c.tls.Certificate() != c.cert {
			t.Errorf("%+v: SSL %v Certificate %v, want %v %v", c.tls, c.tls.SSL(), c.tls.Certificate(), c.ssl, c.cert)
		}
	}
}

// v2 builds a version 2 header by hand.
func v2(verCmd, fam byte, body []byte) []byte {
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), verCmd, fam, byte(len(body)>>8), byte(len(body)))
	return append(b, body...)
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	addr4 := []byte{192, 0, 2, 1, 192, 0, 2, 2, 0xc3, 0x50, 0x07, 0x5b}
	for _, c := range []struct {
		name    string
		version int
		in      string
	}{
		{"v1 MQTT instead", 1, "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"},
		{"v1 lower case", 1, "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 protocol", 1, "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 too few fields", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"},
		{"v1 too many fields", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"},
		{"v1 double space", 1, "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"},
		{"v1 IPv6 in TCP4", 1, "PROXY TCP4 ::1 ::1 1 2\r\n"},
		{"v1 IPv4 in TCP6", 1, "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 bad address", 1, "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"},
		{"v1 host name", 1, "PROXY TCP4 example.com 5.6.7.8 1 2\r\n"},
		{"v1 port too large", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"},
		{"v1 port leading zero", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"},
		{"v1 port sign", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"},
		{"v1 port letters", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1x 2\r\n"},
		{"v1 bare LF", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n"},
		{"v1 no CRLF in 107 bytes", 1, "PROXY UNKNOWN " + strings.Repeat("x", 120)},
		{"v1 header on a v2 listener", 2, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v2 header on a v1 listener", 1, string(v2(0x21, 0x11, addr4))},
		{"v2 bad signature", 2, "\r\n\r\n\x00\r\nQUIT\r\x21\x11\x00\x0c" + string(addr4)},
		{"v2 version 1", 2, string(v2(0x11, 0x11, addr4))},
		{"v2 version 3", 2, string(v2(0x31, 0x11, addr4))},
		{"v2 command 2", 2, string(v2(0x22, 0x11, addr4))},
		{"v2 family UDP", 2, string(v2(0x21, 0x12, addr4))},
		{"v2 family 0x41", 2, string(v2(0x21, 0x41, addr4))},
		{"v2 short IPv4", 2, string(v2(0x21, 0x11, addr4[:11]))},
		{"v2 short IPv6", 2, string(v2(0x21, 0x21, make([]byte, 35)))},
		{"v2 short unix", 2, string(v2(0x21, 0x31, make([]byte, 215)))},
		{"v2 too long", 2, string(v2(0x21, 0x11, make([]byte, proxyproto.MaxV2+1)))},
		{"v2 truncated TLV", 2, string(v2(0x21, 0x11, append(addr4, 0x20, 0x00)))},
		{"v2 TLV past the end", 2, string(v2(0x21, 0x11, append(addr4, 0x04, 0x00, 0x05, 1, 2)))},
		{"v2 short SSL TLV", 2, string(v2(0x21, 0x11, append(addr4, 0x20, 0x00, 0x04, 1, 0, 0, 0)))},
		{"v2 SSL sub-TLV past the end", 2, string(v2(0x21, 0x11, append(addr4, 0x20, 0x00, 0x08, 1, 0, 0, 0, 0, 0x21, 0x00, 0x09)))},
	} {
		_, err := proxyproto.Read(strings.NewReader(c.in), c.version)
		if !errors.Is(err, proxyproto.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", c.name, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	t.Parallel()
	full, _ := (&proxyproto.Header{Version: 2, Source: tcp("1.2.3.4:5"), Destination: tcp("5.6.7.8:9"),
		TLS: &proxyproto.TLS{Client: 1, Version: "TLSv1.3"}}).Append(nil)
	for n := 1; n < len(full); n++ {
		if _, err := proxyproto.Read(bytes.NewReader(full[:n]), 2); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("v2 cut at %d of %d: %v", n, len(full), err)
		}
	}
	line := "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
	for n := 1; n < len(line); n++ {
		if _, err := proxyproto.Read(strings.NewReader(line[:n]), 1); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("v1 cut at %d of %d: %v", n, len(line), err)
		}
	}
	if _, err := proxyproto.Read(strings.NewReader(""), 1); err != io.EOF {
		t.Errorf("nothing sent: %v, want io.EOF", err)
	}
}

// TestV2LocalIgnoresAddresses: LOCAL (a health check) is valid whatever
// the family, and PROXY with AF_UNSPEC leaves the addresses unknown.
func TestV2Local(t *testing.T) {
	t.Parallel()
	for _, in := range [][]byte{v2(0x20, 0x00, nil), v2(0x20, 0x11, make([]byte, 12)), v2(0x20, 0x12, make([]byte, 12)), v2(0x21, 0x00, nil)} {
		h, err := proxyproto.Read(bytes.NewReader(in), 2)
		if err != nil || !h.Local || h.Source != nil {
			t.Errorf("%q: %+v, %v", in, h, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 1)
	f.Add(v2(0x21, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x20, 0, 5, 1, 0, 0, 0, 0}), 2)
	f.Fuzz(func(t *testing.T, b []byte, v int) {
		h, err := proxyproto.Read(bytes.NewReader(b), 1+v&1)
		if err == nil && h == nil {
			t.Fatal("nil header without error")
		}
	})
}

func BenchmarkRead(b *testing.B) {
	v1, _ := (&proxyproto.Header{Version: 1, Source: tcp("203.0.113.7:40001"), Destination: tcp("198.51.100.1:1883")}).Append(nil)
	v2, _ := (&proxyproto.Header{Version: 2, Source: tcp("203.0.113.7:40001"), Destination: tcp("198.51.100.1:8883"),
		TLS: &proxyproto.TLS{Client: 7, Version: "TLSv1.3", CommonName: "device-7"}}).Append(nil)
	for _, c := range []struct {
		name string
		v    int
		b    []byte
	}{{"v1", 1, v1}, {"v2", 2, v2}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			r := bytes.NewReader(nil)
			cr := &countingReader{r: r}
			for range b.N {
				r.Reset(c.b)
				if _, err := proxyproto.Read(cr, c.v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cr.reads)/float64(b.N), "reads/op")
		})
	}
}
