package pubcodec

import (
	"bytes"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// AddRemaining rewrites the Remaining Length, moving the rest of the
// packet when its encoding grows from one byte to two.
func TestAddRemaining(t *testing.T) {
	b := []byte{0xff, 0x30, 125}
	b = append(b, bytes.Repeat([]byte{7}, 125)...)
	b = AddRemaining(b, 1, 3) // 125+3 = 128: two bytes
	if b[2] != 0x80 || b[3] != 0x01 {
		t.Fatalf("remaining length encoded as % x, want 80 01", b[2:4])
	}
	if len(b) != 3+1+125 || b[4] != 7 || b[len(b)-1] != 7 {
		t.Errorf("body moved wrongly: %d bytes", len(b))
	}
}

// Decode of a large PUBLISH aliases the payload instead of copying it, and
// reads the same packet as packet.Publish.Decode.
func TestDecodeLarge(t *testing.T) {
	payload := bytes.Repeat([]byte{'x'}, packet.MaxKeptBody+10)
	body := append([]byte{0, 3, 'a', '/', 'b', 0, 9}, payload...)
	var p packet.Publish
	if err := Decode(&p, 2, body, packet.Version311); err != nil {
		t.Fatal(err)
	}
	if p.Topic != "a/b" || p.PacketID != 9 || !bytes.Equal(p.Payload, payload) {
		t.Fatalf("decoded %q id %d, %d payload bytes", p.Topic, p.PacketID, len(p.Payload))
	}
	if &p.Payload[0] != &body[7] {
		t.Error("payload of a large body was copied")
	}
	if err := Decode(&p, 2, append([]byte{0, 200}, payload...)[:packet.MaxKeptBody+1], packet.Version5); err == nil {
		t.Error("large body with an invalid property decoded")
	}
}
