package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

func ExampleOpenBolt() {
	dir, _ := os.MkdirTemp("", "midge")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "midge.db")

	s, err := store.OpenBolt(path, store.BoltOptions{CreatedBy: "midge example"})
	if errors.Is(err, store.ErrCorrupt) {
		// What midge broker --recover does.
		if moved, err := store.MoveAside(path); err == nil {
			fmt.Println("moved the damaged store to", moved)
			s, err = store.OpenBolt(path, store.BoltOptions{})
		}
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	ctx := context.Background()
	var b broker.Batch
	b.PutSession(&broker.StoredSession{ClientID: "sensor-1", Version: 5, Expiry: 3600})
	b.PutDelivery("sensor-1", &broker.StoredDelivery{Seq: 41, ID: 1, QoS: 1,
		Msg: &broker.Message{Topic: "cmd/sensor-1", Payload: []byte("reboot"), QoS: 1}})
	if err := s.Commit(ctx, &b, true); err != nil {
		fmt.Println(err)
		return
	}
	s.Load(ctx, broker.Loader{Session: func(ss *broker.StoredSession) error {
		fmt.Printf("session %s: %d queued, next seq %d\n", ss.ClientID, ss.Queued, ss.NextSeq)
		return nil
	}})
	s.LoadQueue(ctx, "sensor-1", func(d *broker.StoredDelivery) error {
		fmt.Printf("delivery %d: %s %q\n", d.Seq, d.Msg.Topic, d.Msg.Payload)
		return nil
	})
	// Output:
	// session sensor-1: 1 queued, next seq 42
	// delivery 41: cmd/sensor-1 "reboot"
}

func ExampleMemory() {
	s := store.NewMemory()
	defer s.Close()
	ctx := context.Background()
	var b broker.Batch
	b.PutRetained(&broker.Message{Topic: "status", Payload: []byte("up"), Retain: true})
	s.Commit(ctx, &b, false)
	s.Load(ctx, broker.Loader{Retained: func(m *broker.Message) error {
		fmt.Printf("%s: %s\n", m.Topic, m.Payload)
		return nil
	}})
	// Output: status: up
}

// A broker with a crash-safe store: every QoS 1 and 2 message it
// acknowledges, and every retained message, is on disk first, and a
// broker started on the same file later has them.
func Example_broker() {
	dir, err := os.MkdirTemp("", "midge")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "midge.db")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// run starts a broker on path, on a free port of 127.0.0.1, calls fn
	// with its address, and stops it.
	run := func(fn func(srv *broker.Server, addr string)) {
		st, err := store.OpenBolt(path, store.BoltOptions{CreatedBy: "my program 1.0"})
		if err != nil {
			// A damaged file (errors.Is(err, store.ErrCorrupt)) is
			// left as it is; store.MoveAside moves it out of the way.
			log.Fatal(err)
		}
		defer st.Close() // after the broker's Shutdown
		srv := broker.New(broker.Config{AllowAnonymous: true, Store: st})
		if err := srv.Start(ctx); err != nil { // restores what st holds
			log.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go srv.Serve(ctx, ln, broker.Listener{})
		defer srv.Shutdown(ctx)
		fn(srv, ln.Addr().String())
	}

	run(func(_ *broker.Server, addr string) {
		c, _, err := client.Dial(ctx, client.Options{Address: "mqtt://" + addr, ProtocolVersion: packet.Version5,
			ClientID: "thermometer", CleanStart: true})
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		// Publish returns once the broker acknowledged the message: it
		// is in the store's write-ahead log, synced to disk.
		if err := c.Publish(ctx, &client.Message{Topic: "kitchen/temperature", QoS: 1, Retain: true,
			Payload: []byte("21.5")}); err != nil {
			log.Fatal(err)
		}
	})
	run(func(srv *broker.Server, _ string) {
		srv.RetainedMessages("#", func(m *broker.Message) bool {
			fmt.Printf("after a restart: %s = %s\n", m.Topic, m.Payload)
			return true
		})
	})
	// Output: after a restart: kitchen/temperature = 21.5
}
