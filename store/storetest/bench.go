package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// Bench runs the store benchmarks: synced Commits of batches of 1, 16 and
// 256 deliveries of about 200 bytes (the broker's group-commit pattern),
// the Commit of one message's fan-out to 100,000 sessions and of their
// acknowledgements, LoadQueue of 10,000 deliveries and Load of 100,000
// sessions. Each reports msgs/s (deliveries or sessions per second) beside
// ns/op.
func Bench(b *testing.B, f Factory) {
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("Commit/batch=%d", n), func(b *testing.B) { benchCommit(b, f, n) })
	}
	b.Run("Commit/fanout=100000", func(b *testing.B) { benchFanout(b, f, 100000, true) })
	b.Run("Commit/fanin=100000", func(b *testing.B) { benchFanout(b, f, 100000, false) })
	b.Run("LoadQueue/deliveries=10000", func(b *testing.B) { benchLoadQueue(b, f, 10000) })
	b.Run("Load/sessions=100000", func(b *testing.B) { benchLoad(b, f, 100000) })
}

// benchDelivery is a delivery whose record is about 200 bytes.
func benchDelivery(seq uint64) *broker.StoredDelivery {
	return &broker.StoredDelivery{Seq: seq, ID: seq + 1, QoS: 1, Msg: &broker.Message{
		Topic: "sensors/building-1/floor-2/room-3/temperature", Payload: make([]byte, 120), QoS: 1,
		Publisher: "sensor-0001", Received: time.Unix(1700000000, 0)}}
}

func benchCommit(b *testing.B, f Factory, n int) {
	s := f.Open(b, b.TempDir())
	ctx := context.Background()
	const clients = 64
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%04d", i)
	}
	ds := make([]*broker.StoredDelivery, n)
	var batch broker.Batch
	var seq uint64
	b.ReportAllocs()
	b.SetBytes(int64(n) * 200)
	for b.Loop() {
		batch.Reset()
		for i := range n {
			ds[i] = benchDelivery(seq / clients)
			batch.PutDelivery(ids[seq%clients], ds[i])
			seq++
		}
		if err := s.Commit(ctx, &batch, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "msgs/s")
}

// benchFanout commits, in each round, a batch that queues one 64-byte
// QoS 1 message for each of n sessions (what the broker commits for a
// message to a topic n offline persistent sessions subscribe to), then a
// batch that deletes those deliveries again (their acknowledgements), so
// that every round starts from the same store. It times the first batch if
// out, else the second.
func benchFanout(b *testing.B, f Factory, n int, out bool) {
	s := f.Open(b, b.TempDir())
	ctx := context.Background()
	ids := make([]string, n)
	var batch broker.Batch
	for i := range ids {
		ids[i] = fmt.Sprintf("dev-%06d", i)
		batch.PutSession(&broker.StoredSession{ClientID: ids[i], Version: 4, Expiry: 0xFFFFFFFF,
			Subscriptions: []broker.StoredSubscription{{Filter: "fleet/all", QoS: 1}}})
	}
	if err := s.Commit(ctx, &batch, true); err != nil {
		b.Fatal(err)
	}
	ds := make([]broker.StoredDelivery, n)
	commit := func(timed bool) {
		if !timed {
			b.StopTimer()
			defer b.StartTimer()
		}
		if err := s.Commit(ctx, &batch, true); err != nil {
			b.Fatal(err)
		}
	}
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		seq++
		m := &broker.Message{Topic: "fleet/all", Payload: make([]byte, 64), QoS: 1, Publisher: "publisher",
			Received: time.Unix(1700000000, 0)}
		batch.Reset()
		for i, id := range ids {
			ds[i] = broker.StoredDelivery{Seq: seq, ID: seq, Msg: m, QoS: 1}
			batch.PutDelivery(id, &ds[i])
		}
		commit(out)
		batch.Reset()
		for _, id := range ids {
			batch.DeleteDelivery(id, seq)
		}
		commit(!out)
	}
	b.ReportMetric(float64(seq)*float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

func benchLoadQueue(b *testing.B, f Factory, n int) {
	s := f.Open(b, b.TempDir())
	ctx := context.Background()
	var batch broker.Batch
	for i := range n {
		batch.PutDelivery("c", benchDelivery(uint64(i)))
		batch.PutDelivery("other", benchDelivery(uint64(i))) // interleaved keys of another client
	}
	if err := s.Commit(ctx, &batch, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		err := s.LoadQueue(ctx, "c", func(*broker.StoredDelivery) error { total++; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	if total != n*b.N {
		b.Fatalf("loaded %d deliveries, want %d", total, n*b.N)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
}

func benchLoad(b *testing.B, f Factory, n int) {
	s := f.Open(b, b.TempDir())
	ctx := context.Background()
	var batch broker.Batch
	for i := range n {
		id := fmt.Sprintf("client-%06d", i)
		batch.PutSession(&broker.StoredSession{ClientID: id, Version: 5, Expiry: 3600,
			OfflineSince:  time.Unix(1700000000, 0),
			Subscriptions: []broker.StoredSubscription{{Filter: "devices/" + id + "/cmd", QoS: 1}}})
		if i%10 == 0 { // every tenth has a queued delivery
			batch.PutDelivery(id, benchDelivery(1))
		}
		if batch.Len() >= 10000 {
			if err := s.Commit(ctx, &batch, true); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := s.Commit(ctx, &batch, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		err := s.Load(ctx, broker.Loader{Session: func(*broker.StoredSession) error { total++; return nil }})
		if err != nil {
			b.Fatal(err)
		}
	}
	if total != n*b.N {
		b.Fatalf("loaded %d sessions, want %d", total, n*b.N)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
}
