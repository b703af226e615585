package clienttool

import (
	"reflect"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// rawPublish5 is an MQTT 5 PUBLISH with its properties in an order
// packet.Append would not choose.
var rawPublish5 = []byte{
	0x32, 36, // PUBLISH, QoS 1, remaining length
	0, 3, 'a', '/', 'b', // topic
	0, 9, // packet identifier
	23,                         // property length
	0x26, 0, 1, 'k', 0, 1, 'v', // User Property k=v
	0x03, 0, 1, 't', // Content Type "t"
	0x26, 0, 1, 'k', 0, 1, 'w', // User Property k=w
	0x02, 0, 0, 0, 30, // Message Expiry Interval 30
	'h', 'e', 'l', 'l', 'o', // payload
}

func TestPropTap(t *testing.T) {
	t.Parallel()
	stream := append([]byte{0x20, 3, 0, 0, 0}, rawPublish5...) // CONNACK first
	stream = append(stream, 0xd0, 0)                           // PINGRESP
	stream = append(stream, 0x30, 5, 0, 1, 'x', 0, 'p')        // QoS 0 PUBLISH without properties
	want := [][]packet.PropertyID{
		{packet.PropUser, packet.PropContentType, packet.PropUser, packet.PropMessageExpiry},
		{},
	}
	for _, chunk := range []int{1, 2, 7, len(stream)} {
		tap := &propTap{}
		for i := 0; i < len(stream); i += chunk {
			tap.feed(stream[i:min(i+chunk, len(stream))])
		}
		for i, w := range want {
			if got := tap.next(); !reflect.DeepEqual(got, w) {
				t.Errorf("chunks of %d, PUBLISH %d: order %v, want %v", chunk, i, got, w)
			}
		}
		if got := tap.next(); got != nil {
			t.Errorf("chunks of %d: an order too many: %v", chunk, got)
		}
	}
	// Nonsense stops the tap; it then knows nothing.
	tap := &propTap{}
	tap.feed([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0xff})
	tap.feed(rawPublish5)
	if got := tap.next(); got != nil {
		t.Errorf("after nonsense: %v", got)
	}
}

// FuzzPropTap checks that no byte stream makes the tap panic, whatever
// the chunks it arrives in.
func FuzzPropTap(f *testing.F) {
	f.Add(rawPublish5, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		tap := &propTap{}
		n := int(chunk%16) + 1
		for i := 0; i < len(b); i += n {
			tap.feed(b[i:min(i+n, len(b))])
		}
		for tap.next() != nil {
		}
	})
}
