package broker_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// recorder wraps a Store and records the deliveries committed to it.
type recorder struct {
	broker.Store
	mu      sync.Mutex
	commits int           // guarded by mu: batches committed
	puts    []recordedPut // guarded by mu
	deletes []recordedPut // guarded by mu: DeleteDelivery ops (id, payload unset)
}

type recordedPut struct {
	commit  int // the commit that held it
	client  string
	seq     uint64
	id      uint64
	payload string
}

func (r *recorder) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	err := r.Store.Commit(ctx, b, sync)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits++
	for _, op := range b.Ops {
		switch op.Kind {
		case broker.OpPutDelivery:
			r.puts = append(r.puts, recordedPut{r.commits, op.ClientID, op.Seq, op.Delivery.ID, string(op.Delivery.Msg.Payload)})
		case broker.OpDeleteDelivery:
			r.deletes = append(r.deletes, recordedPut{commit: r.commits, client: op.ClientID, seq: op.Seq})
		}
	}
	return nil
}

// put returns the recorded put of the delivery to client with payload.
func (r *recorder) put(t *testing.T, client, payload string) recordedPut {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.puts {
		if p.client == client && p.payload == payload {
			return p
		}
	}
	t.Fatalf("no delivery of %q to %q committed; puts %+v", payload, client, r.puts)
	return recordedPut{}
}

// recordedStores is stores with each broker's store wrapped in a recorder.
func recordedStores(t *testing.T, f func(t *testing.T, restart func() (*testutil.Broker, *recorder))) {
	for _, kind := range []string{"memory", "bolt"} {
		t.Run(kind, func(t *testing.T) {
			mem := store.NewMemory()
			path := t.TempDir() + "/midge.db"
			var cur *testutil.Broker
			var st broker.Store
			restart := func() (*testutil.Broker, *recorder) {
				if cur != nil {
					cur.Stop(t)
					if kind == "bolt" {
						if err := st.Close(); err != nil {
							t.Fatal(err)
						}
					}
				}
				st = mem
				if kind == "bolt" {
					s, err := store.OpenBolt(path, store.BoltOptions{})
					if err != nil {
						t.Fatal(err)
					}
					st = s
				}
				rec := &recorder{Store: st}
				cfg := open()
				cfg.Store = rec
				cur = testutil.StartBroker(t, cfg)
				return cur, rec
			}
			t.Cleanup(func() {
				if st != nil {
					st.Close()
				}
			})
			f(t, restart)
		})
	}
}

// offline makes a persistent session that subscribes to filter and goes
// offline; it returns the CONNECT that resumes it.
func offline(t *testing.T, b *testutil.Broker, id, filter string) *packet.Connect {
	t.Helper()
	cp := hourSession(id)
	disconnect(subscribed(t, b, cp, filter, 1))
	return cp
}

// A message queued for many sessions is committed once per session with
// one message id, so that the store keeps it once; every session gets it
// after a restart.
func TestPersistMessageShared(t *testing.T) {
	recordedStores(t, func(t *testing.T, restart func() (*testutil.Broker, *recorder)) {
		b, rec := restart()
		subs := []string{"s1", "s2", "s3"}
		var cps []*packet.Connect
		for _, id := range subs {
			cps = append(cps, offline(t, b, id, "f/#"))
		}
		p := connect(t, b, 5, "p")
		pub(t, p, 1, "f/x", "one", 1, false)
		pub(t, p, 2, "f/x", "two", 1, false)
		one, two := rec.put(t, "s1", "one"), rec.put(t, "s1", "two")
		if one.id == 0 || two.id == 0 || one.id == two.id {
			t.Fatalf("message ids %d and %d, want two different ones, not 0", one.id, two.id)
		}
		for _, id := range subs[1:] {
			if rec.put(t, id, "one").id != one.id || rec.put(t, id, "two").id != two.id {
				t.Errorf("%s: the deliveries of a message have different ids", id)
			}
		}
		b, _ = restart()
		for _, cp := range cps {
			s, _ := connectWith(t, b, cp)
			ackAll(t, s, expectPublish(t, s, "f/x", "one"))
			ackAll(t, s, expectPublish(t, s, "f/x", "two"))
		}
	})
}

// A message whose last stored delivery was acknowledged, so that the store
// dropped it, is stored again under its id when it is queued again (here a
// retained message sent on subscribe), and the broker numbers new messages
// above the ids the store holds after a restart.
func TestPersistMessageStoredAgain(t *testing.T) {
	recordedStores(t, func(t *testing.T, restart func() (*testutil.Broker, *recorder)) {
		b, rec := restart()
		first := offline(t, b, "first", "r/#")
		p := connect(t, b, 5, "p")
		pub(t, p, 1, "r/x", "retained", 1, true)
		s, _ := connectWith(t, b, first)
		ackAll(t, s, expectPublish(t, s, "r/x", "retained"))
		ping(t, s) // the PUBACK is handled
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The retained message, the same *Message, goes to another session.
		second := hourSession("second")
		s2 := subscribed(t, b, second, "r/#", 1)
		expectPublish(t, s2, "r/x", "retained") // not acknowledged
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		put1, put2 := rec.put(t, "first", "retained"), rec.put(t, "second", "retained")
		if put1.id != put2.id {
			t.Errorf("the retained message was stored as %d, then as %d: want its id again", put1.id, put2.id)
		}
		rec.mu.Lock()
		acked := slices.IndexFunc(rec.deletes, func(d recordedPut) bool { return d.client == "first" && d.seq == put1.seq })
		if acked < 0 || rec.deletes[acked].commit >= put2.commit {
			t.Errorf("the first delivery was not deleted before the second was stored (%+v, %+v): the test tests nothing",
				rec.deletes, put2)
		}
		rec.mu.Unlock()
		disconnect(s2)

		b, rec = restart()
		p = connect(t, b, 5, "p")
		pub(t, p, 1, "r/y", "after the restart", 1, false)
		if put3 := rec.put(t, "second", "after the restart"); put3.id <= put2.id {
			t.Errorf("a new message after the restart has id %d, not above %d, which the store holds", put3.id, put2.id)
		}
		s2, _ = connectWith(t, b, second)
		m := expectPublish(t, s2, "r/x", "retained")
		if !m.Dup {
			t.Errorf("resent without DUP")
		}
		ackAll(t, s2, m)
		ackAll(t, s2, expectPublish(t, s2, "r/y", "after the restart"))
	})
}
