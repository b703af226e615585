package client_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packet"
)

// exampleBroker starts midge on a free port of 127.0.0.1, so that the
// examples run anywhere, and returns its address and a function stopping it.
func exampleBroker() (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := broker.New(broker.Config{AllowAnonymous: true})
	go srv.Serve(context.Background(), ln, broker.Listener{})
	return ln.Addr().String(), func() { srv.Shutdown(context.Background()) }
}

func Example_publish() {
	addr, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, ack, err := client.Dial(ctx, client.Options{
		Address:         "mqtt://" + addr,
		ProtocolVersion: packet.Version5,
		ClientID:        "example-publisher",
		CleanStart:      true,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected, session present:", ack.SessionPresent)

	// Publish blocks until the server's PUBACK.
	m := &client.Message{Topic: "sensors/kitchen/temperature", QoS: 1, Retain: true, Payload: []byte("21.5")}
	m.Properties.SetString(packet.PropContentType, "text/plain")
	if err := c.Publish(ctx, m); err != nil {
		log.Fatal(err)
	}
	fmt.Println("published")

	if err := c.Disconnect(ctx, packet.NormalDisconnection, nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// connected, session present: false
	// published
}

func Example_subscribe() {
	addr, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	messages := make(chan *client.Message, 16)
	sub, _, err := client.Dial(ctx, client.Options{
		Address:   addr,
		ClientID:  "example-subscriber",
		OnMessage: func(m *client.Message) { messages <- m },
		Reconnect: &client.Reconnect{MaxDelay: 10 * time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	ack, err := sub.Subscribe(ctx, client.Subscription{Filter: "sensors/+/temperature", QoS: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("granted QoS:", ack.ReasonCodes[0])

	pub, _, err := client.Dial(ctx, client.Options{Address: addr, ClientID: "example-publisher"})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, &client.Message{Topic: "sensors/hall/temperature", QoS: 1, Payload: []byte("19.0")}); err != nil {
		log.Fatal(err)
	}

	m := <-messages
	fmt.Printf("%s: %s (QoS %d)\n", m.Topic, m.Payload, m.QoS)
	// Output:
	// granted QoS: Granted QoS 1
	// sensors/hall/temperature: 19.0 (QoS 1)
}

// A load generator keeps the server's Receive Maximum full from one
// goroutine: PublishAsync waits only while the window is full, and the
// callback reports each acknowledgement.
func ExampleClient_PublishAsync() {
	addr, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _, err := client.Dial(ctx, client.Options{Address: addr, ProtocolVersion: packet.Version5, CleanStart: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	const n = 10000
	acked := make(chan error, n)
	done := func(err error) { acked <- err } // runs on the client's reader goroutine: must not block
	m := &client.Message{Topic: "load/test", QoS: 1, Payload: make([]byte, 64)}
	for range n {
		if err := c.PublishAsync(ctx, m, done); err != nil {
			log.Fatal(err)
		}
	}
	failed := 0
	for range n {
		if err := <-acked; err != nil {
			failed++
		}
	}
	fmt.Println("acknowledged:", n-failed)
	// Output:
	// acknowledged: 10000
}
