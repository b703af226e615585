package explore

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// BenchmarkStoreWrite measures writing batches of 512 messages over 100
// topics whose histories are full (1000 messages each), so each batch also
// trims: ns/op is per message.
func BenchmarkStoreWrite(b *testing.B) {
	s, err := openStoreAt(filepath.Join(b.TempDir(), "h.db"), historyLimits{count: 1000, maxPayload: 64 << 10, maxTopics: 100_000},
		slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	payload := []byte(`{"temperature":22.4,"humidity":61}`)
	batch := make([]*broker.Message, 512)
	fill := func(i int) {
		for j := range batch {
			batch[j] = &broker.Message{Topic: fmt.Sprintf("site/%d/sensor", (i*512+j)%100), Payload: payload, Received: time.Now()}
		}
	}
	for i := range 200 { // 102,400 messages: every topic full
		fill(i)
		if err := s.write(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		fill(i)
		if err := s.write(batch); err != nil {
			b.Fatal(err)
		}
	}
}
