package storetest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/midge-mqtt/midge/broker"
)

// The cases of the message table: each message stored once, by id, with a
// count of the deliveries that name it. Whether a message is still stored
// shows in what a later PutDelivery naming its id loads: the stored
// message while one is, the put's own once it is gone.

// wantMessage checks that every delivery of client id loads a message
// with payload and the message id, in seq order.
func wantMessage(t *testing.T, s broker.Store, id string, seqs []uint64, msgID uint64, payload string) {
	t.Helper()
	ds := loadQueue(t, s, id)
	var got []uint64
	for _, d := range ds {
		got = append(got, d.Seq)
		if d.ID != msgID || d.Msg == nil || string(d.Msg.Payload) != payload {
			t.Errorf("%q: delivery %d: message %d %+v, want %d with payload %q", id, d.Seq, d.ID, d.Msg, msgID, payload)
		}
	}
	if !slices.Equal(got, seqs) {
		t.Errorf("%q: deliveries %v, want %v", id, got, seqs)
	}
}

// wantMaxID checks what Load reports as the highest message id: at least
// min, the highest the test knows is stored (a store may report more).
func wantMaxID(t *testing.T, s broker.Store, min uint64) {
	t.Helper()
	if got := load(t, s).maxID; got < min {
		t.Errorf("MaxMessageID %d, want at least %d", got, min)
	}
}

// Deliveries of one message to many sessions, over several batches, load
// it for every session, with their own per-session fields; a put naming an
// id that is stored keeps the stored message.
func testSharedMessages(t *testing.T, h *harness) {
	one, two := fullMsg("fleet/all", "one"), msg("fleet/all", "two")
	h.commit(t, true, func(b *broker.Batch) {
		for i, id := range trickyIDs {
			b.PutSession(&broker.StoredSession{ClientID: id, Version: 5})
			b.PutDelivery(id, &broker.StoredDelivery{Seq: 1, ID: 10, Msg: one, QoS: 1, SubIDs: []uint32{uint32(i + 1)}})
		}
	})
	h.commit(t, false, func(b *broker.Batch) {
		for i, id := range trickyIDs {
			b.PutDelivery(id, &broker.StoredDelivery{Seq: 2, ID: 10, Msg: one, QoS: 2, Retain: true,
				Group: "$share/g/fleet/all"})
			// A copy of the message is as good as the message.
			b.PutDelivery(id, &broker.StoredDelivery{Seq: 3, ID: 11, Msg: msg("fleet/all", "two"), QoS: byte(i % 3)})
		}
		b.PutDelivery("late", &broker.StoredDelivery{Seq: 7, ID: 10, Msg: msg("x", "not this one"), QoS: 1})
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		for i, id := range trickyIDs {
			wantDeliveries(t, s, id, []*broker.StoredDelivery{
				{Seq: 1, ID: 10, Msg: one, QoS: 1, SubIDs: []uint32{uint32(i + 1)}},
				{Seq: 2, ID: 10, Msg: one, QoS: 2, Retain: true, Group: "$share/g/fleet/all"},
				{Seq: 3, ID: 11, Msg: two, QoS: byte(i % 3)},
			})
		}
		wantDeliveries(t, s, "late", []*broker.StoredDelivery{{Seq: 7, ID: 10, Msg: one, QoS: 1}})
		wantMaxID(t, s, 11)
		for _, ss := range load(t, s).sessions {
			if ss.Queued != 3 || ss.NextSeq != 4 {
				t.Errorf("session %q: Queued %d, NextSeq %d, want 3, 4", ss.ClientID, ss.Queued, ss.NextSeq)
			}
		}
	})
}

// A message goes with the last delivery that names it, and a later put
// naming its id stores the message the put brings.
func testMessageCounts(t *testing.T, h *harness) {
	h.commit(t, true, func(b *broker.Batch) {
		for _, id := range []string{"a", "b", "c"} {
			b.PutDelivery(id, tDelivery(1, 5, "first"))
		}
		b.PutDelivery("keep", tDelivery(1, 3, "three"))
	})
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteDelivery("a", 1)
		b.DeleteDelivery("a", 1)   // again: no second reference dropped
		b.DeleteDelivery("b", 99)  // missing
		b.DeleteDelivery("zzz", 1) // missing
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		wantMessage(t, s, "b", []uint64{1}, 5, "first")
		wantMessage(t, s, "c", []uint64{1}, 5, "first")
		wantMaxID(t, s, 5)
	})
	// The last two references go in one batch, one by a delete, one by a
	// put that replaces the delivery with another message's.
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteDelivery("b", 1)
		b.PutDelivery("c", tDelivery(1, 3, "three"))
	})
	h.putDelivery(t, "d", tDelivery(1, 5, "second"))
	h.check(t, func(t *testing.T, s broker.Store) {
		wantMessage(t, s, "b", nil, 0, "")
		wantMessage(t, s, "c", []uint64{1}, 3, "three")
		wantMessage(t, s, "keep", []uint64{1}, 3, "three")
		wantMessage(t, s, "d", []uint64{1}, 5, "second")
	})
	// In one batch the last reference goes and a new one comes: the
	// message stays.
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteDelivery("d", 1)
		b.PutDelivery("e", tDelivery(1, 5, "second"))
	})
	// In one batch a message comes and goes: nothing is left of it.
	h.commit(t, true, func(b *broker.Batch) {
		b.PutDelivery("f", tDelivery(1, 9, "nine"))
		b.PutDelivery("f", tDelivery(2, 9, "nine"))
		b.DeleteDelivery("f", 1)
		b.DeleteSession("f")
	})
	h.putDelivery(t, "g", tDelivery(1, 9, "nine again"))
	h.check(t, func(t *testing.T, s broker.Store) {
		wantMessage(t, s, "d", nil, 0, "")
		wantMessage(t, s, "e", []uint64{1}, 5, "second")
		wantMessage(t, s, "f", nil, 0, "")
		wantMessage(t, s, "g", []uint64{1}, 9, "nine again")
		wantMaxID(t, s, 9)
	})
}

// putDelivery commits, with sync, a batch of one put: delivery d in the
// queue of session id.
func (h *harness) putDelivery(t *testing.T, id string, d *broker.StoredDelivery) {
	t.Helper()
	h.commit(t, true, func(b *broker.Batch) { b.PutDelivery(id, d) })
}

// tDelivery is a QoS 1 delivery, sequence number seq, of message id: on
// topic "t", with payload.
func tDelivery(seq, id uint64, payload string) *broker.StoredDelivery {
	return &broker.StoredDelivery{Seq: seq, ID: id, Msg: msg("t", payload), QoS: 1}
}

// DeleteSession drops the references of the session's whole queue, and
// only those.
func testMessageCascade(t *testing.T, h *harness) {
	h.commit(t, true, func(b *broker.Batch) {
		for _, id := range []string{"a", "ab", "b"} {
			b.PutSession(&broker.StoredSession{ClientID: id, Version: 4})
			b.PutInbound(id, 1)
		}
		for seq, msgID := range []uint64{1, 2, 3, 1} {
			b.PutDelivery("a", tDelivery(uint64(seq), msgID, fmt.Sprint(msgID)))
		}
		b.PutDelivery("ab", tDelivery(0, 1, "1"))
		b.PutDelivery("b", tDelivery(0, 2, "2"))
	})
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteSession("a")
		b.DeleteSession("never-there")
	})
	// Message 3 went with session a: its id stores this one.
	h.putDelivery(t, "c", tDelivery(0, 3, "3 again"))
	h.check(t, func(t *testing.T, s broker.Store) {
		wantMessage(t, s, "a", nil, 0, "")
		wantMessage(t, s, "ab", []uint64{0}, 1, "1")
		wantMessage(t, s, "b", []uint64{0}, 2, "2")
		wantMessage(t, s, "c", []uint64{0}, 3, "3 again")
	})
	// A session deleted and given a new queue in one batch.
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteSession("ab")
		b.PutDelivery("ab", tDelivery(5, 1, "1"))
		b.DeleteSession("b")
	})
	h.putDelivery(t, "d", tDelivery(0, 2, "2 again"))
	h.check(t, func(t *testing.T, s broker.Store) {
		wantMessage(t, s, "ab", []uint64{5}, 1, "1")
		wantMessage(t, s, "b", nil, 0, "")
		wantMessage(t, s, "d", []uint64{0}, 2, "2 again")
		st := load(t, s)
		if len(st.sessions) != 0 || len(st.inbound) != 0 {
			t.Errorf("%d sessions and %d inbound identifiers left", len(st.sessions), len(st.inbound))
		}
	})
}

// ReleaseDelivery marks one delivery of a shared message and leaves the
// others and the message as they are.
func testReleaseShared(t *testing.T, h *harness) {
	m := fullMsg("t", "qos 2")
	h.commit(t, true, func(b *broker.Batch) {
		for _, id := range []string{"a", "b"} {
			b.PutDelivery(id, &broker.StoredDelivery{Seq: 1, ID: 8, Msg: m, QoS: 2})
			b.PutDelivery(id, &broker.StoredDelivery{Seq: 2, ID: 8, Msg: m, QoS: 2})
		}
	})
	h.commit(t, true, func(b *broker.Batch) {
		b.ReleaseDelivery("a", 1)
		b.ReleaseDelivery("b", 2)
		b.ReleaseDelivery("b", 2)
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		wantDeliveries(t, s, "a", []*broker.StoredDelivery{
			{Seq: 1, ID: 8, Msg: m, QoS: 2, Released: true}, {Seq: 2, ID: 8, Msg: m, QoS: 2}})
		wantDeliveries(t, s, "b", []*broker.StoredDelivery{
			{Seq: 1, ID: 8, Msg: m, QoS: 2}, {Seq: 2, ID: 8, Msg: m, QoS: 2, Released: true}})
	})
	// The released deliveries complete; the message stays for the others.
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteDelivery("a", 1)
		b.DeleteDelivery("b", 2)
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		wantDeliveries(t, s, "a", []*broker.StoredDelivery{{Seq: 2, ID: 8, Msg: m, QoS: 2}})
		wantDeliveries(t, s, "b", []*broker.StoredDelivery{{Seq: 1, ID: 8, Msg: m, QoS: 2}})
	})
}

// One batch queues a message for 20,000 sessions, the next another, then
// their acknowledgements come in batches of their own.
func testLargeFanout(t *testing.T, h *harness) {
	const n = 20000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("dev-%06d", i)
	}
	for msgID := uint64(1); msgID <= 2; msgID++ {
		m := msg("fleet/all", fmt.Sprint("message ", msgID))
		h.commit(t, true, func(b *broker.Batch) {
			for _, id := range ids {
				if msgID == 1 {
					b.PutSession(&broker.StoredSession{ClientID: id, Version: 4, Expiry: 60})
				}
				b.PutDelivery(id, &broker.StoredDelivery{Seq: msgID, ID: msgID, Msg: m, QoS: 1})
			}
		})
	}
	// sample checks the queues of every 997th session.
	sample := func(t *testing.T, s broker.Store, want []uint64) {
		t.Helper()
		for i := 0; i < n; i += 997 {
			ds := loadQueue(t, s, ids[i])
			for _, d := range ds {
				if d.ID != d.Seq || d.Msg == nil || string(d.Msg.Payload) != fmt.Sprint("message ", d.ID) {
					t.Fatalf("%s: delivery %d: message %d %+v", ids[i], d.Seq, d.ID, d.Msg)
				}
			}
			if got := seqs(ds); !slices.Equal(got, want) {
				t.Fatalf("%s: deliveries %v, want %v", ids[i], got, want)
			}
		}
	}
	h.check(t, func(t *testing.T, s broker.Store) {
		sample(t, s, []uint64{1, 2})
		st := load(t, s)
		if len(st.sessions) != n {
			t.Fatalf("%d sessions, want %d", len(st.sessions), n)
		}
		for _, ss := range st.sessions {
			if ss.Queued != 2 || ss.NextSeq != 3 {
				t.Fatalf("session %q: Queued %d, NextSeq %d, want 2, 3", ss.ClientID, ss.Queued, ss.NextSeq)
			}
		}
		wantMaxID(t, s, 2)
	})
	for lo := 0; lo < n; lo += 5000 {
		h.commit(t, true, func(b *broker.Batch) {
			for _, id := range ids[lo : lo+5000] {
				b.DeleteDelivery(id, 1)
			}
		})
	}
	h.commit(t, true, func(b *broker.Batch) {
		b.PutDelivery("probe", &broker.StoredDelivery{Seq: 1, ID: 1, Msg: msg("fleet/all", "message 1"), QoS: 1})
		b.PutDelivery("probe", &broker.StoredDelivery{Seq: 2, ID: 2, Msg: msg("x", "not this one"), QoS: 1})
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		sample(t, s, []uint64{2})
		ds := loadQueue(t, s, "probe")
		if len(ds) != 2 || string(ds[0].Msg.Payload) != "message 1" || string(ds[1].Msg.Payload) != "message 2" {
			t.Errorf("probe: %v", seqs(ds))
		}
	})
}

// RandomScripts runs random scripts of puts, deletes, releases and session
// deletes (see CheckScript) against the store, reopening it between them.
func testRandomScripts(t *testing.T, h *harness) {
	r := rand.New(rand.NewPCG(7, 8))
	m := newModel()
	for round := range 30 {
		script := make([]byte, 2*(10+r.IntN(60)))
		for i := range script {
			script[i] = byte(r.Uint32())
		}
		if err := m.run(context.Background(), h.s, script); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if round%10 == 9 && h.f.Persistent {
			h.reopen(t)
			if err := m.verify(context.Background(), h.s); err != nil {
				t.Fatalf("round %d, reopened: %v", round, err)
			}
		}
	}
}

// CheckScript commits the batches that script describes to s, which must
// be empty, and checks after each that s holds what a model of the store
// says it should: queues, Released flags, and which message each delivery
// loads, so that a count that drops a message too soon or keeps it too
// long shows. It returns the first difference. It is the body of the
// stores' fuzz target.
//
// The script is read two bytes at a time: an op and its argument. Op%5 is
// PutDelivery, DeleteDelivery, ReleaseDelivery, DeleteSession, or the end
// of a batch; the argument picks one of four client identifiers (low two
// bits), one of four sequence numbers (next two) and one of four message
// ids (next two). The message a put brings has the id's generation in its
// payload: a new generation begins when a batch leaves the id unnamed, so
// a store that keeps a message it should have dropped loads the old
// generation.
func CheckScript(ctx context.Context, s broker.Store, script []byte) error {
	return newModel().run(ctx, s, script)
}

// model is what a store holds, as the script's ops change it.
type model struct {
	queues map[string]map[uint64]*modelDelivery // client → seq → delivery
	gen    map[uint64]int                       // message id → its generation
}

type modelDelivery struct {
	id       uint64
	gen      int
	released bool
}

func newModel() *model {
	return &model{queues: make(map[string]map[uint64]*modelDelivery), gen: make(map[uint64]int)}
}

var (
	scriptClients = []string{"a", "ab", "a/b", "b"}
	scriptSeqs    = []uint64{0, 1, 255, 256}
)

func scriptPayload(id uint64, gen int) string {
	return fmt.Sprintf("message %d, generation %d", id, gen)
}

func (m *model) run(ctx context.Context, s broker.Store, script []byte) error {
	var b broker.Batch
	for i := 0; i+1 < len(script) || b.Len() > 0; i += 2 {
		if i+1 >= len(script) || script[i]%5 == 4 {
			if err := m.commit(ctx, s, &b); err != nil {
				return err
			}
			continue
		}
		op, arg := script[i]%5, script[i+1]
		client, seq, id := scriptClients[arg&3], scriptSeqs[arg>>2&3], uint64(arg>>4&3)+1
		q := m.queues[client]
		switch op {
		case 0:
			if q == nil {
				q = make(map[uint64]*modelDelivery)
				m.queues[client] = q
			}
			q[seq] = &modelDelivery{id: id, gen: m.gen[id]}
			b.PutDelivery(client, &broker.StoredDelivery{Seq: seq, ID: id, QoS: 1,
				Msg: &broker.Message{Topic: "t", Payload: []byte(scriptPayload(id, m.gen[id]))}})
		case 1:
			delete(q, seq)
			b.DeleteDelivery(client, seq)
		case 2:
			if d := q[seq]; d != nil {
				d.released = true
			}
			b.ReleaseDelivery(client, seq)
		case 3:
			delete(m.queues, client)
			b.DeleteSession(client)
		}
	}
	return nil
}

// commit commits b, ends the generation of every id no delivery names,
// and verifies the store.
func (m *model) commit(ctx context.Context, s broker.Store, b *broker.Batch) error {
	if err := s.Commit(ctx, b, true); err != nil {
		return fmt.Errorf("Commit: %w", err)
	}
	b.Reset()
	named := make(map[uint64]bool)
	for _, q := range m.queues {
		for _, d := range q {
			named[d.id] = true
		}
	}
	for id := uint64(1); id <= 4; id++ {
		if !named[id] {
			m.gen[id]++
		}
	}
	return m.verify(ctx, s)
}

// verify compares every queue of s with the model's.
func (m *model) verify(ctx context.Context, s broker.Store) error {
	for _, client := range scriptClients {
		q := m.queues[client]
		want := slices.Sorted(maps.Keys(q))
		var got []uint64
		err := s.LoadQueue(ctx, client, func(d *broker.StoredDelivery) error {
			got = append(got, d.Seq)
			w := q[d.Seq]
			switch {
			case w == nil:
				return fmt.Errorf("%q: delivery %d, which was deleted", client, d.Seq)
			case d.ID != w.id || d.Released != w.released:
				return fmt.Errorf("%q: delivery %d: message %d, Released %v; want %d, %v", client, d.Seq, d.ID, d.Released, w.id, w.released)
			case d.Msg == nil || string(d.Msg.Payload) != scriptPayload(w.id, w.gen):
				return fmt.Errorf("%q: delivery %d: message %+v, want %q (a message kept too long, or dropped too soon)",
					client, d.Seq, d.Msg, scriptPayload(w.id, w.gen))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%q: deliveries %v, want %v", client, got, want)
		}
	}
	return nil
}
