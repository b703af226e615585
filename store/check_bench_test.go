package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
)

// BenchmarkOpen measures the start-up cost of OpenBolt, and of the page
// walk it adds for a file whose meta page is damaged, on a store of
// realistic size: 200,000 queued deliveries of 500-byte messages in 1,000
// sessions and 10,000 retained messages (about 150 MB).
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "midge.db")
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte{'p'}, 500)
	ctx := context.Background()
	for i := range 200 {
		var batch broker.Batch
		for j := range 1000 {
			n := uint64(i*1000 + j)
			batch.PutDelivery(fmt.Sprintf("client-%d", j), &broker.StoredDelivery{Seq: n, ID: n + 1, QoS: 1,
				Msg: &broker.Message{Topic: "t/x", Payload: payload, QoS: 1}})
		}
		for j := range 50 {
			batch.PutRetained(&broker.Message{Topic: fmt.Sprintf("r/%d/%d", i, j), Payload: payload, Retain: true})
		}
		if err := s.Commit(ctx, &batch, true); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.Logf("store file %d MB", fi.Size()>>20)
	b.Run("OpenBolt", func(b *testing.B) {
		for b.Loop() {
			s, err := store.OpenBolt(path, store.BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("CheckPages", func(b *testing.B) {
		s, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for b.Loop() {
			if err := store.CheckPages(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
