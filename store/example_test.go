package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/midge-mqtt/midge/broker"
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
