package packet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/midge-mqtt/midge/packet"
)

// propOpt sets one property on a Properties value.
type propOpt func(*packet.Properties)

// props builds a property set from opts, as the decoder would.
func props(opts ...propOpt) packet.Properties {
	var p packet.Properties
	for _, o := range opts {
		o(&p)
	}
	return p
}

func pUint(id packet.PropertyID, v uint32) propOpt {
	return func(p *packet.Properties) { p.SetUint(id, v) }
}

func pStr(id packet.PropertyID, s string) propOpt {
	return func(p *packet.Properties) { p.SetString(id, s) }
}

func pCorr(b []byte) propOpt {
	return func(p *packet.Properties) { p.CorrelationData = b; p.Set(packet.PropCorrelationData) }
}

func pAuthData(b []byte) propOpt {
	return func(p *packet.Properties) { p.AuthData = b; p.Set(packet.PropAuthData) }
}

func pUser(k, v string) propOpt {
	return func(p *packet.Properties) { p.User = append(p.User, packet.UserProperty{Key: k, Value: v}) }
}

func pSubID(ids ...uint32) propOpt {
	return func(p *packet.Properties) { p.SubscriptionIDs = append(p.SubscriptionIDs, ids...) }
}

// readerMaker wraps the source of a Reader, after bufio's tests.
type readerMaker struct {
	name string
	fn   func(io.Reader) io.Reader
}

var readerMakers = []readerMaker{
	{"full", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

// bufSizes are the Reader buffer sizes every fixture is read with: the
// minimum, one more, a small one and the default (0).
var bufSizes = []int{16, 17, 64, 0}

// readAll reads packets from r until an error and returns them with it.
func readAll(r *packet.Reader) ([]packet.Packet, error) {
	var ps []packet.Packet
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return ps, err
		}
		ps = append(ps, p)
	}
}

// appendOK encodes p for v and fails the test if it cannot.
func appendOK(t testing.TB, p packet.Packet, v byte) []byte {
	t.Helper()
	b, err := packet.Append(nil, p, v)
	if err != nil {
		t.Fatalf("Append(%T, v%d): %v", p, v, err)
	}
	return b
}

// decodeOne reads exactly one packet from b with protocol version v and
// fails the test unless it is the whole input.
func decodeOne(t testing.TB, b []byte, v byte) packet.Packet {
	t.Helper()
	r := packet.NewReader(bytes.NewReader(b), 0)
	r.Version = v
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatalf("ReadPacket(% x): %v", b, err)
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("ReadPacket after the packet: %v, want io.EOF", err)
	}
	return p
}

// diff describes how got differs from want, or returns "".
func diff(got, want any) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return fmt.Sprintf("\n got: %s\nwant: %s", dump(got), dump(want))
}

func dump(v any) string {
	switch p := v.(type) {
	case *packet.Connect:
		s := fmt.Sprintf("%#v", *p)
		if p.Will != nil {
			s += fmt.Sprintf(" will=%#v", *p.Will)
		}
		return s
	case nil:
		return "<nil>"
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return fmt.Sprintf("%#v", rv.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v)
}

// wantCode checks that err is a *packet.Error with the given code that also
// matches sentinel (if non-nil) with errors.Is.
func wantCode(t testing.TB, err error, sentinel error, code packet.ReasonCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want reason code 0x%02x", byte(code))
	}
	var e *packet.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *packet.Error", err, err)
	}
	if e.Code != code {
		t.Fatalf("error %q has code 0x%02x (%v), want 0x%02x (%v)", err, byte(e.Code), e.Code, byte(code), code)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%q, %v) = false", err, sentinel)
	}
	if !errors.Is(err, &packet.Error{Code: code}) {
		t.Fatalf("errors.Is(%q, &Error{Code: 0x%02x}) = false", err, byte(code))
	}
}

// propertiesOf returns the properties of packet p (not those of a
// CONNECT's will); nil for the types that have none.
func propertiesOf(p packet.Packet) *packet.Properties {
	switch p := p.(type) {
	case *packet.Connect:
		return &p.Properties
	case *packet.Connack:
		return &p.Properties
	case *packet.Publish:
		return &p.Properties
	case *packet.Ack:
		return &p.Properties
	case *packet.Subscribe:
		return &p.Properties
	case *packet.Suback:
		return &p.Properties
	case *packet.Unsubscribe:
		return &p.Properties
	case *packet.Unsuback:
		return &p.Properties
	case *packet.Disconnect:
		return &p.Properties
	case *packet.Auth:
		return &p.Properties
	}
	return nil
}
