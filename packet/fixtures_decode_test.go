package packet_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// TestFixturesDecode reads every fixture through every reader wrapper and
// buffer size and compares the packet with the fixture's value.
func TestFixturesDecode(t *testing.T) {
	for _, f := range fixtures {
		for _, rm := range readerMakers {
			for _, size := range bufSizes {
				t.Run(fmt.Sprintf("%s/%s/buf=%d", f.name, rm.name, size), func(t *testing.T) {
					r := packet.NewReader(rm.fn(bytes.NewReader(f.raw)), size)
					r.Version = f.version
					p, err := r.ReadPacket()
					if err != nil {
						t.Fatalf("ReadPacket: %v", err)
					}
					if d := diff(p, f.want); d != "" {
						t.Fatal(d)
					}
					if p.Type() != f.want.Type() {
						t.Errorf("Type() = %v, want %v", p.Type(), f.want.Type())
					}
					if _, err := r.ReadPacket(); err != io.EOF {
						t.Fatalf("second ReadPacket: %v, want io.EOF", err)
					}
					if r.Buffered() != 0 {
						t.Errorf("Buffered() = %d after the stream", r.Buffered())
					}
				})
			}
		}
	}
}

// TestFixturesEncode encodes every fixture's value and compares it byte for
// byte with the fixture (or its canonical form), and checks Size.
func TestFixturesEncode(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			want := f.encoded()
			got, err := packet.Append(nil, f.want, f.version)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Append:\n got % x\nwant % x", got, want)
			}
			if n := packet.Size(f.want, f.version); n != len(want) {
				t.Errorf("Size = %d, want %d", n, len(want))
			}
			// Append extends dst and leaves its prefix alone.
			prefix := []byte("prefix")
			got, err = packet.Append(prefix, f.want, f.version)
			if err != nil || !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], want) {
				t.Fatalf("Append(prefix) = % x, %v", got, err)
			}
			// The canonical form decodes to the same value.
			if f.canonical != nil {
				if d := diff(decodeOne(t, f.canonical, f.version), f.want); d != "" {
					t.Fatalf("canonical form: %s", d)
				}
			}
			// Decode returns the same thing without a Reader.
			h, body := splitPacket(t, f.raw)
			p, err := packet.Decode(h, body, f.version)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d := diff(p, f.want); d != "" {
				t.Fatalf("Decode: %s", d)
			}
			if h.Size() != len(f.raw) {
				t.Errorf("FixedHeader.Size = %d, want %d", h.Size(), len(f.raw))
			}
			if got, want := h.Append(nil), f.raw[:len(f.raw)-len(body)]; !bytes.Equal(got, want) {
				t.Errorf("FixedHeader.Append = % x, want % x", got, want)
			}
		})
	}
}

// TestFixturesDoNotAliasInput checks that decoded packets own their memory:
// scribbling over the input afterwards changes nothing.
func TestFixturesDoNotAliasInput(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			raw := bytes.Clone(f.raw)
			h, body := splitPacket(t, raw)
			p, err := packet.Decode(h, body, f.version)
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				raw[i] = 'Z'
			}
			if d := diff(p, f.want); d != "" {
				t.Fatalf("decoded packet changed with its input: %s", d)
			}
		})
	}
}

// TestFixturesStream reads all fixtures of one version back to back from one
// stream, so that headers and bodies straddle buffer boundaries and the
// Reader compacts its buffer, with every wrapper and buffer size.
func TestFixturesStream(t *testing.T) {
	for _, v := range []byte{packet.Version31, packet.Version311, packet.Version5} {
		var stream []byte
		var want []packet.Packet
		for range 3 {
			for _, f := range fixtures {
				if f.version == v {
					stream = append(stream, f.raw...)
					want = append(want, f.want)
				}
			}
		}
		for _, rm := range readerMakers {
			for _, size := range []int{16, 17, 19, 23, 64, 100, 0} {
				t.Run(fmt.Sprintf("v%d/%s/buf=%d", v, rm.name, size), func(t *testing.T) {
					r := packet.NewReader(rm.fn(bytes.NewReader(stream)), size)
					r.Version = v
					got, err := readAll(r)
					if err != io.EOF {
						t.Fatalf("after %d packets: %v, want io.EOF", len(got), err)
					}
					if len(got) != len(want) {
						t.Fatalf("read %d packets, want %d", len(got), len(want))
					}
					for i := range got {
						if d := diff(got[i], want[i]); d != "" {
							t.Fatalf("packet %d: %s", i, d)
						}
					}
				})
			}
		}
	}
}

// TestEveryPropertyInAFixture makes sure the fixtures name every MQTT 5
// property at least once, and every packet type at every version it has.
func TestEveryPropertyInAFixture(t *testing.T) {
	seen := map[packet.PropertyID]bool{}
	mark := func(p *packet.Properties) {
		for id := packet.PropertyID(1); id <= 0x2a; id++ {
			if p.Has(id) {
				seen[id] = true
			}
		}
	}
	types := map[[2]byte]bool{}
	for _, f := range fixtures {
		types[[2]byte{byte(f.want.Type()), f.version}] = true
		if pr := propertiesOf(f.want); pr != nil {
			mark(pr)
		}
		if c, ok := f.want.(*packet.Connect); ok && c.Will != nil {
			mark(&c.Will.Properties)
		}
	}
	for _, id := range allProperties {
		if !seen[id] {
			t.Errorf("no fixture has property %v (0x%02x)", id, byte(id))
		}
	}
	for ty := packet.TypeConnect; ty <= packet.TypeAuth; ty++ {
		for _, v := range []byte{packet.Version31, packet.Version311, packet.Version5} {
			if ty == packet.TypeAuth && v != packet.Version5 {
				continue
			}
			if !types[[2]byte{byte(ty), v}] {
				t.Errorf("no fixture for %v at version %d", ty, v)
			}
		}
	}
}

// allProperties lists the 27 MQTT 5 properties (Table 2-4).
var allProperties = []packet.PropertyID{
	packet.PropPayloadFormat, packet.PropMessageExpiry, packet.PropContentType, packet.PropResponseTopic,
	packet.PropCorrelationData, packet.PropSubscriptionID, packet.PropSessionExpiry, packet.PropAssignedClientID,
	packet.PropServerKeepAlive, packet.PropAuthMethod, packet.PropAuthData, packet.PropRequestProblemInfo,
	packet.PropWillDelay, packet.PropRequestResponseInfo, packet.PropResponseInfo, packet.PropServerReference,
	packet.PropReasonString, packet.PropReceiveMaximum, packet.PropTopicAliasMaximum, packet.PropTopicAlias,
	packet.PropMaximumQoS, packet.PropRetainAvailable, packet.PropUser, packet.PropMaximumPacketSize,
	packet.PropWildcardSubAvailable, packet.PropSubscriptionIDAvailable, packet.PropSharedSubAvailable,
}

// splitPacket splits one whole raw packet into its fixed header and body.
func splitPacket(t testing.TB, raw []byte) (packet.FixedHeader, []byte) {
	t.Helper()
	r := packet.NewReader(bytes.NewReader(raw), 16)
	h, err := r.ReadHeader()
	if err != nil {
		t.Fatalf("ReadHeader(% x): %v", raw, err)
	}
	n := len(raw) - h.Remaining
	if n < 2 || n > 5 {
		t.Fatalf("raw packet % x: remaining length %d does not fit", raw, h.Remaining)
	}
	return h, raw[n:]
}
