package packet_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/midge-mqtt/midge/packet"
)

// fuzzMaxSize is the Reader's MaxSize in the fuzz targets: nothing the
// Reader holds may grow past it.
const fuzzMaxSize = 1 << 16

// fuzzBufSize is the read buffer of the main Reader in the fuzz targets.
const fuzzBufSize = 64

func FuzzReadPacketV31(f *testing.F)  { fuzzReadPacket(f, packet.Version31) }
func FuzzReadPacketV311(f *testing.F) { fuzzReadPacket(f, packet.Version311) }
func FuzzReadPacketV5(f *testing.F)   { fuzzReadPacket(f, packet.Version5) }

// fuzzReadPacket reads every packet of the input with Reader.Version v and
// checks that:
//   - nothing panics, and the Reader never holds more than its buffer and
//     MaxSize;
//   - reading the same input a byte at a time through a 16-byte buffer gives
//     the same packets and errors;
//   - errors are *packet.Error or io.EOF / io.ErrUnexpectedEOF, and come with
//     a nil packet (a *Connect for CONNECT);
//   - every packet that decodes encodes again (Append), to Size bytes, no
//     more than MaxSize, and decodes back to a DeepEqual value whose encoding
//     is the same.
func fuzzReadPacket(f *testing.F, v byte) {
	for _, fx := range fixtures {
		f.Add(fx.raw)
	}
	for _, c := range badCases {
		f.Add(c.raw)
	}
	for _, raw := range orderSeeds() {
		f.Add(raw)
	}
	var stream []byte
	for _, fx := range fixtures {
		if fx.version == v {
			stream = append(stream, fx.raw...)
		}
	}
	f.Add(stream)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := packet.NewReader(bytes.NewReader(data), fuzzBufSize)
		r.Version, r.MaxSize = v, fuzzMaxSize
		slow := packet.NewReader(iotest.OneByteReader(bytes.NewReader(data)), 16)
		slow.Version, slow.MaxSize = v, fuzzMaxSize
		for i := 0; ; i++ {
			p, err := r.ReadPacket()
			p2, err2 := slow.ReadPacket()
			if !sameError(err, err2) || !reflect.DeepEqual(p, p2) {
				t.Fatalf("packet %d: buffered read gave %s, %v; byte by byte %s, %v", i, dump(p), err, dump(p2), err2)
			}
			if buf, body := packet.ReaderCaps(r); buf != fuzzBufSize || body > fuzzMaxSize {
				t.Fatalf("Reader holds %d + %d bytes", buf, body)
			}
			if err != nil {
				checkError(t, p, err)
				return
			}
			checkRoundTrip(t, p, v)
		}
	})
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func checkError(t *testing.T, p packet.Packet, err error) {
	var e *packet.Error
	switch {
	case errors.As(err, &e):
		if e.Reason == "" {
			t.Fatalf("error without a reason: %v", err)
		}
		if _, ok := p.(*packet.Connect); !ok && p != nil {
			t.Fatalf("error %v returned with %s", err, dump(p))
		}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if p != nil {
			t.Fatalf("error %v returned with %s", err, dump(p))
		}
	default:
		t.Fatalf("unexpected error %T %v", err, err)
	}
}

func checkRoundTrip(t *testing.T, p packet.Packet, v byte) {
	if c, ok := p.(*packet.Connect); ok {
		v = c.ProtocolVersion
	}
	out, err := packet.Append(nil, p, v)
	if err != nil {
		t.Fatalf("decoded %s but cannot encode it: %v", dump(p), err)
	}
	if n := packet.Size(p, v); n != len(out) {
		t.Fatalf("Size = %d, Append wrote %d bytes", n, len(out))
	}
	if len(out) > fuzzMaxSize {
		t.Fatalf("re-encoded %d bytes from a packet of at most %d", len(out), fuzzMaxSize)
	}
	r := packet.NewReader(bytes.NewReader(out), 0)
	r.Version = v
	q, err := r.ReadPacket()
	if err != nil {
		t.Fatalf("cannot decode re-encoded % x: %v", out, err)
	}
	if d := diff(q, p); d != "" {
		t.Fatalf("re-encoded % x decodes differently: %s", out, d)
	}
	if out2 := appendOK(t, q, v); !bytes.Equal(out, out2) {
		t.Fatalf("encoding is not stable:\n% x\n% x", out, out2)
	}
}

// TestFuzzSeedsDecode runs the fuzz targets' checks over the fixtures and
// malformed cases as a plain test, so they run without -fuzz as well (the
// seed corpus runs too, but this also reads fixtures at their own version).
func TestFuzzSeedsDecode(t *testing.T) {
	for _, fx := range fixtures {
		r := packet.NewReader(bytes.NewReader(fx.raw), fuzzBufSize)
		r.Version = fx.version
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("%s: %v", fx.name, err)
		}
		checkRoundTrip(t, p, fx.version)
	}
}
