package packet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/midge-mqtt/midge/packet"
)

func ExampleAppend() {
	p := &packet.Publish{QoS: 1, PacketID: 10, Topic: "a/b", Payload: []byte("hi")}
	buf := make([]byte, 0, 64) // reuse it: Append then allocates nothing
	buf, err := packet.Append(buf, p, packet.Version311)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x (Size %d)\n", buf, packet.Size(p, packet.Version311))

	// A packet the protocol forbids is refused, not sent.
	_, err = packet.Append(buf[:0], &packet.Publish{Topic: "a/+"}, packet.Version311)
	fmt.Println(errors.Is(err, packet.ErrEncode))
	// Output:
	// 32 09 00 03 61 2f 62 00 0a 68 69 (Size 11)
	// true
}

func ExampleReader_ReadPacket() {
	stream := []byte{
		0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00, 0x00, // CONNECT 5
		0x30, 0x06, 0x00, 0x01, 't', 0x00, 'h', 'i', // PUBLISH QoS 0
		0x30, 0x05, 0x00, 0x01, '#', 0x00, 'x', // PUBLISH to a wildcard: refused
	}
	r := packet.NewReader(bytes.NewReader(stream), 0)
	r.MaxSize = 1 << 20
	for {
		p, err := r.ReadPacket()
		var perr *packet.Error
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &perr):
			// In MQTT 5 the broker sends DISCONNECT with this code, then closes.
			fmt.Printf("refused: 0x%02x %v\n", byte(perr.Code), perr.Code)
			return
		case err != nil:
			fmt.Println(err)
			return
		}
		switch p := p.(type) {
		case *packet.Connect:
			r.Version = p.ProtocolVersion // decode the rest in the client's version
			fmt.Printf("CONNECT v%d keep alive %d\n", p.ProtocolVersion, p.KeepAlive)
		case *packet.Publish:
			fmt.Printf("PUBLISH %s %q\n", p.Topic, p.Payload)
		}
	}
	// Output:
	// CONNECT v5 keep alive 60
	// PUBLISH t "hi"
	// refused: 0x82 Protocol Error
}
