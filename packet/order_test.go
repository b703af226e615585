package packet_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// Raw property builders for the order tests.
func rawProp(id packet.PropertyID, v ...byte) []byte { return append([]byte{byte(id)}, v...) }

func rawStr(id packet.PropertyID, s string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{byte(id)}, uint16(len(s))), s...)
}

func rawUser(k, v string) []byte {
	b := rawStr(packet.PropUser, k)
	return append(binary.BigEndian.AppendUint16(b, uint16(len(v))), v...)
}

func rawUsers(n int, k string) []byte {
	var b []byte
	for i := range n {
		b = append(b, rawUser(k, string(rune('a'+i%26)))...)
	}
	return b
}

// section returns the property section: the length as a variable byte
// integer, then the properties.
func section(ps ...[]byte) []byte {
	all := bytes.Join(ps, nil)
	return append(vbi(uint32(len(all))), all...)
}

// withFixed returns body behind a fixed header of type t and flags.
func withFixed(t packet.Type, flags byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(packet.FixedHeader{Type: t, Flags: flags, Remaining: len(b)}.Append(nil), b...)
}

// publish5 is a QoS 1 PUBLISH on "t" with packet identifier 1, the
// property section sec and payload "x".
func publish5(sec []byte) []byte {
	return withFixed(packet.TypePublish, 2, []byte{0, 1, 't', 0, 1}, sec, []byte("x"))
}

var (
	oPF   = rawProp(packet.PropPayloadFormat, 1)
	oME   = rawProp(packet.PropMessageExpiry, 0, 0, 0x0e, 0x10)
	oCT   = rawStr(packet.PropContentType, "ct")
	oRT   = rawStr(packet.PropResponseTopic, "r/t")
	oCD   = rawStr(packet.PropCorrelationData, "cd")
	oTA   = rawProp(packet.PropTopicAlias, 0, 3)
	oSub5 = rawProp(packet.PropSubscriptionID, 5)
	oSub9 = rawProp(packet.PropSubscriptionID, 9)
	oUa   = rawUser("a", "1")
	oUb   = rawUser("b", "2")
)

// keptOrder returns MQTT 5 packets whose properties are not in identifier
// order, which Append writes back as they are.
func keptOrder() map[string][]byte {
	return map[string][]byte{
		"publish by identifier": publish5(section(oPF, oCT, oUa, oUb)),
		"connect and will": withFixed(packet.TypeConnect, 0, []byte("\x00\x04MQTT\x05\x06\x00\x3c"),
			section(oUa, rawProp(packet.PropReceiveMaximum, 0, 9), oUb, rawProp(packet.PropSessionExpiry, 0, 0, 0, 9)),
			[]byte("\x00\x01c"),
			section(oUb, oRT, rawProp(packet.PropWillDelay, 0, 0, 0, 1), oME, oCD, oUa, oPF, oCT),
			[]byte("\x00\x01w\x00\x01x")),
		"subscribe": withFixed(packet.TypeSubscribe, 2, []byte{0, 1}, section(oUa, oSub5, oUb), []byte("\x00\x01t\x01")),
		"disconnect": withFixed(packet.TypeDisconnect, 0, []byte{0x04},
			section(oUb, rawStr(packet.PropReasonString, "bye"), oUa, rawProp(packet.PropSessionExpiry, 0, 0, 0, 1))),
		"long user runs": publish5(section(rawUsers(200, "u"), oCT, rawUsers(130, "v"), oPF)),
	}
}

// reencodes checks that raw decodes, encodes to want, and that want decodes
// to the same value (so that the encoding is stable).
func reencodes(t *testing.T, raw, want []byte, v byte) {
	t.Helper()
	p := decodeOne(t, raw, v)
	got := appendOK(t, p, v)
	if !bytes.Equal(got, want) {
		t.Fatalf("re-encoded\n got % x\nwant % x", got, want)
	}
	if d := diff(decodeOne(t, got, v), p); d != "" {
		t.Fatalf("re-encoding decodes differently: %s", d)
	}
}

// Append writes decoded properties in the order they came in, User
// Properties interleaved as they were; a PUBLISH, as Mosquitto forwards
// one, has its Subscription Identifiers first and its Message Expiry
// Interval last.
func TestDecodedPropertyOrderKept(t *testing.T) {
	t.Run("publish", func(t *testing.T) {
		reencodes(t, publish5(section(oUa, oCT, oSub5, oPF, oME, oTA, oRT, oSub9, oUb, oCD)),
			publish5(section(oSub5, oSub9, oUa, oCT, oPF, oTA, oRT, oUb, oCD, oME)), packet.Version5)
	})
	for name, raw := range keptOrder() {
		t.Run(name, func(t *testing.T) { reencodes(t, raw, raw, packet.Version5) })
	}
}

// More order entries than Properties keeps: the properties are written by
// identifier, and that encoding is stable.
func TestDecodedPropertyOrderTooLong(t *testing.T) {
	run := rawUsers(300, "u") // three entries each
	raw := publish5(section(oCD, run, oRT, run, oCT, run, oTA, run, oPF, run))
	users := bytes.Repeat(run, 5)
	reencodes(t, raw, publish5(section(oPF, oCT, oRT, oCD, oTA, users)), packet.Version5)
}

// A property cleared and set again is written after those that keep their
// decoded order.
func TestClearedPropertyLeavesOrder(t *testing.T) {
	p := decodeOne(t, publish5(section(oTA, oUa, oCT, oPF, oUb)), packet.Version5).(*packet.Publish)
	p.Properties.Clear(packet.PropTopicAlias)
	p.Properties.SetUint(packet.PropTopicAlias, 3)
	if got, want := appendOK(t, p, packet.Version5), publish5(section(oUa, oCT, oPF, oUb, oTA)); !bytes.Equal(got, want) {
		t.Errorf("encoded\n got % x\nwant % x", got, want)
	}
}

// Recording the order allocates nothing: decoding properties out of order
// costs the allocations decoding them in order does.
func TestDecodedPropertyOrderAllocs(t *testing.T) {
	allocs := func(raw []byte) float64 {
		h, body := splitPacket(t, raw)
		var p packet.Publish
		return testing.AllocsPerRun(100, func() {
			if err := p.Decode(h.Flags, body, packet.Version5); err != nil {
				t.Fatal(err)
			}
		})
	}
	inOrder := allocs(publish5(section(oPF, oME, oCT, oCD, oTA, oUa, oUb)))
	mixed := allocs(publish5(section(oUb, oCD, oTA, oME, oUa, oCT, oPF)))
	if mixed != inOrder {
		t.Errorf("decoding properties out of order: %v allocations, in order %v", mixed, inOrder)
	}
}

// orderSeeds are packets with properties out of identifier order, for the
// fuzz targets to start from.
func orderSeeds() [][]byte {
	seeds := [][]byte{publish5(section(oUa, oCT, oSub5, oPF, oME, oTA, oRT, oSub9, oUb, oCD))}
	for _, raw := range keptOrder() {
		seeds = append(seeds, raw)
	}
	return seeds
}
