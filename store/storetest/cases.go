package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

var cases = []struct {
	name string
	fn   func(*testing.T, *harness)
}{
	{"Empty", testEmpty},
	{"Retained", testRetained},
	{"Sessions", testSessions},
	{"QueuePrefixes", testQueuePrefixes},
	{"DeleteAndRelease", testDeleteAndRelease},
	{"Inbound", testInbound},
	{"DeleteSessionCascade", testDeleteSessionCascade},
	{"OrderWithinBatch", testOrderWithinBatch},
	{"ManyOps", testManyOps},
	{"BadBatchAppliesNothing", testBadBatch},
	{"Closed", testClosed},
	{"NoAliasing", testNoAliasing},
	{"CallbackErrorsAndCommits", testCallbacks},
	{"ConcurrentLoadAndCommit", testConcurrent},
	{"Payloads", testPayloads},
	{"EveryProperty", testEveryProperty},
	{"Canceled", testCanceled},
	{"SharedMessages", testSharedMessages},
	{"MessageCounts", testMessageCounts},
	{"MessageCascade", testMessageCascade},
	{"ReleaseShared", testReleaseShared},
	{"LargeFanout", testLargeFanout},
	{"RandomScripts", testRandomScripts},
}

// Client identifiers that are prefixes of each other or close to the 0x00
// separator of the disk store's keys. (They cannot contain NUL.)
var trickyIDs = []string{"a", "ab", "a/b", "a\x01", "a\x01b", "a b", "b", "ä", "ä\u00e4", "😀", "\x7f", "A"}

// Sequence numbers on both sides of byte boundaries.
var trickySeqs = []uint64{0, 1, 2, 255, 256, 257, 65535, 65536, 1 << 32, 1<<32 + 1, 1 << 56, 1<<63 + 5}

func fullProps() *packet.Properties {
	p := &packet.Properties{}
	p.SetUint(packet.PropPayloadFormat, 1)
	p.SetUint(packet.PropMessageExpiry, 3600)
	p.SetString(packet.PropContentType, "application/json; charset=utf-8 ✓")
	p.SetString(packet.PropResponseTopic, "reply/to/ü")
	p.CorrelationData = []byte{0, 1, 2, 0xFF, 0}
	p.Set(packet.PropCorrelationData)
	p.SubscriptionIDs = []uint32{1, 268435455}
	p.SetUint(packet.PropTopicAlias, 7)
	p.User = []packet.UserProperty{{Key: "k", Value: "v1"}, {Key: "a", Value: "b"}, {Key: "k", Value: "v2"},
		{Key: "", Value: ""}, {Key: "ключ", Value: "値"}}
	return p
}

func msg(topic, payload string) *broker.Message {
	return &broker.Message{Topic: topic, Payload: []byte(payload), QoS: 1, Publisher: "pub",
		Received: time.Unix(1700000000, 123456789)}
}

func fullMsg(topic, payload string) *broker.Message {
	return &broker.Message{Topic: topic, Payload: []byte(payload), QoS: 2, Retain: true, Publisher: "pub/ü",
		Properties: fullProps(), Expiry: time.Unix(1800000000, 1), Received: time.Unix(-1, 999)}
}

func fullSession(id string) *broker.StoredSession {
	return &broker.StoredSession{ClientID: id, Version: 5, Expiry: 0xFFFFFFFF,
		OfflineSince: time.Unix(1700000100, 5), Will: fullMsg("will/"+id, "gone"), WillDelay: 30, SentUpTo: 42, Username: "user-" + id, HasUsername: true, Listener: "0.0.0.0:1883",
		Subscriptions: []broker.StoredSubscription{
			{Filter: "a/+/c", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 268435455},
			{Filter: "$share/g/x/#", QoS: 1, RetainHandling: 1},
			{Filter: "#"},
			{Filter: "ü/€", QoS: 1, NoLocal: true, ID: 1},
		}}
}

// delivery returns delivery seq of client id, with a message of its own
// whose id derives from id and seq.
func delivery(id string, seq uint64) *broker.StoredDelivery {
	return &broker.StoredDelivery{Seq: seq, ID: msgID(id, seq), Msg: msg("q/"+id, fmt.Sprintf("%s#%d", id, seq)), QoS: 1}
}

// msgID returns a message id for delivery seq of client id: different
// pairs of the tests' get different ids (FNV-1a, 64 bits), never 0.
func msgID(id string, seq uint64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", id, seq)
	return h.Sum64() | 1
}

func wantDeliveries(t *testing.T, s broker.Store, id string, want []*broker.StoredDelivery) {
	t.Helper()
	got := loadQueue(t, s, id)
	if len(got) != len(want) {
		t.Fatalf("LoadQueue(%q): seqs %v, want %v", id, seqs(got), seqs(want))
	}
	for i := range got {
		if d := diffDelivery(got[i], want[i]); d != "" {
			t.Errorf("LoadQueue(%q)[%d]: %s", id, i, d)
		}
	}
}

func testEmpty(t *testing.T, h *harness) {
	h.check(t, func(t *testing.T, s broker.Store) {
		if st := load(t, s); len(st.retained)+len(st.sessions)+len(st.inbound) != 0 || st.maxID != 0 {
			t.Errorf("new store loads %+v", st)
		}
		if ds := loadQueue(t, s, "nobody"); len(ds) != 0 {
			t.Errorf("LoadQueue of unknown client: %v", seqs(ds))
		}
		// A nil Loader function skips its kind.
		if err := s.Load(context.Background(), broker.Loader{}); err != nil {
			t.Errorf("Load with no functions: %v", err)
		}
		// An empty batch commits.
		if err := s.Commit(context.Background(), &broker.Batch{}, true); err != nil {
			t.Errorf("empty Commit: %v", err)
		}
	})
}

func testRetained(t *testing.T, h *harness) {
	want := map[string]*broker.Message{
		"a":          msg("a", "1"),
		"a/b":        fullMsg("a/b", "2"),
		"ab":         msg("ab", ""),
		"ä/€/😀":      msg("ä/€/😀", "unicode"),
		"$SYS/x":     msg("$SYS/x", "sys"),
		"/":          msg("/", "slash"),
		"a/b/c/d/e/": msg("a/b/c/d/e/", "deep"),
	}
	h.commit(t, true, func(b *broker.Batch) {
		for _, m := range want {
			b.PutRetained(m)
		}
		b.PutRetained(msg("gone", "x"))
	})
	h.commit(t, false, func(b *broker.Batch) {
		want["a"] = fullMsg("a", "replaced")
		b.PutRetained(want["a"])
		b.DeleteRetained("gone")
		b.DeleteRetained("never/there")
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		got := st.retainedByTopic()
		if len(got) != len(want) || len(st.retained) != len(want) {
			t.Fatalf("loaded %d retained messages, want %d", len(st.retained), len(want))
		}
		for topic, w := range want {
			if d := diffMessage(got[topic], w); d != "" {
				t.Errorf("retained %q: %s", topic, d)
			}
		}
	})
}

func testSessions(t *testing.T, h *harness) {
	want := map[string]*broker.StoredSession{
		"full":    fullSession("full"),
		"minimal": {ClientID: "minimal", Version: 4, Expiry: 60},
		"ü":       {ClientID: "ü", Version: 3, Subscriptions: []broker.StoredSubscription{{Filter: "x", QoS: 1}}},
	}
	h.commit(t, true, func(b *broker.Batch) {
		for _, s := range want {
			b.PutSession(s)
		}
		b.PutSession(&broker.StoredSession{ClientID: "full", Version: 4}) // replaced below
		// NextSeq and Queued are the store's to compute.
		b.PutSession(&broker.StoredSession{ClientID: "seq", NextSeq: 99, Queued: 7})
	})
	h.commit(t, true, func(b *broker.Batch) { b.PutSession(want["full"]) })
	want["seq"] = &broker.StoredSession{ClientID: "seq"}
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		got := st.sessionByID()
		if len(st.sessions) != len(want) {
			t.Fatalf("loaded %d sessions, want %d", len(st.sessions), len(want))
		}
		for id, w := range want {
			g := got[id]
			if g == nil {
				t.Errorf("session %q missing", id)
				continue
			}
			if d := diffSession(g, w); d != "" {
				t.Errorf("session %q: %s", id, d)
			}
			if g.NextSeq != 0 || g.Queued != 0 {
				t.Errorf("session %q with an empty queue: NextSeq %d, Queued %d, want 0, 0", id, g.NextSeq, g.Queued)
			}
		}
	})
}

func testQueuePrefixes(t *testing.T, h *harness) {
	want := make(map[string][]*broker.StoredDelivery)
	// Interleave clients within one batch, and sequence numbers out of
	// order; only some clients have a session record.
	h.commit(t, true, func(b *broker.Batch) {
		order := slices.Clone(trickySeqs)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, seq := range order {
			for _, id := range trickyIDs {
				d := delivery(id, seq)
				d.SubIDs = []uint32{uint32(seq%1000) + 1, 268435455}
				d.Group = "$share/g/" + id
				d.Retain = seq%2 == 0
				d.QoS = byte(seq % 3)
				b.PutDelivery(id, d)
				want[id] = append(want[id], d)
			}
		}
		for i, id := range trickyIDs {
			if i%2 == 0 {
				b.PutSession(&broker.StoredSession{ClientID: id, Version: 5})
			}
		}
	})
	for _, id := range trickyIDs {
		slices.SortFunc(want[id], func(a, b *broker.StoredDelivery) int {
			return cmpUint(a.Seq, b.Seq)
		})
	}
	h.check(t, func(t *testing.T, s broker.Store) {
		for _, id := range trickyIDs {
			wantDeliveries(t, s, id, want[id])
		}
		st := load(t, s)
		if len(st.sessions) != (len(trickyIDs)+1)/2 {
			t.Errorf("loaded %d sessions, want %d", len(st.sessions), (len(trickyIDs)+1)/2)
		}
		last := slices.Max(trickySeqs)
		for _, ss := range st.sessions {
			if ss.NextSeq != last+1 || ss.Queued != len(trickySeqs) {
				t.Errorf("session %q: NextSeq %d, Queued %d, want %d, %d", ss.ClientID, ss.NextSeq, ss.Queued,
					last+1, len(trickySeqs))
			}
		}
		for _, id := range []string{"", "a\x00", "a\x00b"} {
			if err := s.LoadQueue(context.Background(), id, func(d *broker.StoredDelivery) error {
				return fmt.Errorf("delivery %d", d.Seq)
			}); err == nil {
				t.Errorf("LoadQueue(%q) of an identifier that cannot be stored: no error", id)
			}
		}
	})
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testDeleteAndRelease(t *testing.T, h *harness) {
	const id = "c"
	ds := make(map[uint64]*broker.StoredDelivery)
	h.commit(t, true, func(b *broker.Batch) {
		b.PutSession(&broker.StoredSession{ClientID: id, Version: 5})
		b.PutSession(&broker.StoredSession{ClientID: "cc", Version: 5})
		for seq := uint64(1); seq <= 10; seq++ {
			ds[seq] = delivery(id, seq)
			ds[seq].QoS = 2
			b.PutDelivery(id, ds[seq])
			b.PutDelivery("cc", delivery("cc", seq+100))
		}
	})
	h.commit(t, true, func(b *broker.Batch) {
		b.DeleteDelivery(id, 1)
		b.DeleteDelivery(id, 10) // the last: NextSeq follows what is left
		b.DeleteDelivery(id, 77) // missing
		b.ReleaseDelivery(id, 3)
		b.ReleaseDelivery(id, 4)
		b.ReleaseDelivery(id, 4)   // twice
		b.ReleaseDelivery(id, 1)   // deleted just before: ignored
		b.ReleaseDelivery(id, 999) // missing: ignored
		b.ReleaseDelivery("nobody", 3)
		b.DeleteDelivery("nobody", 3)
		// A put replaces the record, Released flag included.
		b.ReleaseDelivery(id, 5)
		ds[5] = delivery(id, 5)
		ds[5].Msg.Payload = []byte("replaced")
		ds[5].ID++ // another message
		b.PutDelivery(id, ds[5])
	})
	ds[3].Released, ds[4].Released = true, true
	delete(ds, 1)
	delete(ds, 10)
	h.check(t, func(t *testing.T, s broker.Store) {
		var want []*broker.StoredDelivery
		for seq := uint64(2); seq <= 9; seq++ {
			want = append(want, ds[seq])
		}
		wantDeliveries(t, s, id, want)
		got := load(t, s).sessionByID()
		if ss := got[id]; ss == nil || ss.NextSeq != 10 || ss.Queued != 8 {
			t.Errorf("session %q: %+v, want NextSeq 10, Queued 8", id, ss)
		}
		if ss := got["cc"]; ss == nil || ss.NextSeq != 111 || ss.Queued != 10 {
			t.Errorf("session cc: %+v, want NextSeq 111, Queued 10", ss)
		}
	})
}

func testInbound(t *testing.T, h *harness) {
	h.commit(t, true, func(b *broker.Batch) {
		for _, id := range trickyIDs {
			for _, pid := range []uint16{65535, 256, 1, 255, 2} {
				b.PutInbound(id, pid)
			}
			b.PutInbound(id, 1) // again
		}
	})
	h.commit(t, false, func(b *broker.Batch) {
		for _, id := range trickyIDs {
			b.DeleteInbound(id, 2)
			b.DeleteInbound(id, 3) // missing
		}
		b.DeleteInbound("nobody", 1)
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		for _, id := range trickyIDs {
			if got, want := st.inboundOf(id), []uint16{1, 255, 256, 65535}; !slices.Equal(got, want) {
				t.Errorf("inbound of %q: %v, want %v", id, got, want)
			}
		}
		if len(st.inbound) != 4*len(trickyIDs) {
			t.Errorf("%d inbound identifiers, want %d", len(st.inbound), 4*len(trickyIDs))
		}
		if len(st.sessions) != 0 {
			t.Errorf("inbound identifiers made %d sessions", len(st.sessions))
		}
	})
}

func testDeleteSessionCascade(t *testing.T, h *harness) {
	h.commit(t, true, func(b *broker.Batch) {
		for _, id := range trickyIDs {
			b.PutSession(fullSession(id))
			for seq := uint64(1); seq <= 3; seq++ {
				b.PutDelivery(id, delivery(id, seq))
			}
			b.PutInbound(id, 7)
		}
		b.PutDelivery("orphan", delivery("orphan", 1))
		b.PutInbound("orphan", 1)
	})
	gone := []string{"a", "ä", "orphan", "never-there"}
	h.commit(t, true, func(b *broker.Batch) {
		for _, id := range gone {
			b.DeleteSession(id)
		}
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		got := st.sessionByID()
		for _, id := range gone {
			if got[id] != nil || len(st.inboundOf(id)) != 0 || len(loadQueue(t, s, id)) != 0 {
				t.Errorf("%q: session, inbound or queue left after DeleteSession", id)
			}
		}
		for _, id := range trickyIDs {
			if slices.Contains(gone, id) {
				continue
			}
			if ss := got[id]; ss == nil || ss.Queued != 3 || ss.NextSeq != 4 {
				t.Errorf("%q: session %+v after deleting others, want Queued 3, NextSeq 4", id, ss)
			}
			if pids := st.inboundOf(id); !slices.Equal(pids, []uint16{7}) {
				t.Errorf("%q: inbound %v after deleting others", id, pids)
			}
			if ds := loadQueue(t, s, id); !slices.Equal(seqs(ds), []uint64{1, 2, 3}) {
				t.Errorf("%q: queue %v after deleting others", id, seqs(ds))
			}
		}
	})
}

func testOrderWithinBatch(t *testing.T, h *harness) {
	d7 := delivery("x", 7)
	h.commit(t, true, func(b *broker.Batch) {
		b.PutRetained(msg("put-then-delete", "x"))
		b.DeleteRetained("put-then-delete")
		b.DeleteRetained("delete-then-put")
		b.PutRetained(msg("delete-then-put", "x"))
		b.PutRetained(msg("twice", "first"))
		b.PutRetained(msg("twice", "second"))

		b.PutSession(fullSession("x"))
		b.PutDelivery("x", delivery("x", 1))
		b.PutInbound("x", 1)
		b.DeleteSession("x")
		b.PutDelivery("x", d7)
		b.ReleaseDelivery("x", 7)
		b.PutInbound("x", 2)
		b.DeleteInbound("x", 2)
		b.PutInbound("x", 3)
	})
	d7.Released = true
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		got := st.retainedByTopic()
		if len(got) != 2 || got["delete-then-put"] == nil || got["twice"] == nil ||
			string(got["twice"].Payload) != "second" {
			t.Errorf("retained after put/delete in one batch: %v", got)
		}
		if len(st.sessions) != 0 {
			t.Errorf("session left after DeleteSession in the batch")
		}
		if pids := st.inboundOf("x"); !slices.Equal(pids, []uint16{3}) {
			t.Errorf("inbound %v, want [3]", pids)
		}
		wantDeliveries(t, s, "x", []*broker.StoredDelivery{d7})
	})
}

func testManyOps(t *testing.T, h *harness) {
	const clients, perClient, retained = 40, 100, 500
	h.commit(t, true, func(b *broker.Batch) {
		for i := range retained {
			b.PutRetained(msg(fmt.Sprintf("r/%d", i), "x"))
		}
		for c := range clients {
			id := fmt.Sprintf("client-%d", c)
			b.PutSession(&broker.StoredSession{ClientID: id, Version: 4})
			for seq := range uint64(perClient) {
				b.PutDelivery(id, delivery(id, seq))
				if seq%10 == 0 {
					b.ReleaseDelivery(id, seq)
				}
				if seq%3 == 0 {
					b.DeleteDelivery(id, seq)
				}
			}
			b.PutInbound(id, uint16(c+1))
		}
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		if len(st.retained) != retained || len(st.sessions) != clients || len(st.inbound) != clients {
			t.Fatalf("loaded %d retained, %d sessions, %d inbound; want %d, %d, %d",
				len(st.retained), len(st.sessions), len(st.inbound), retained, clients, clients)
		}
		for _, ss := range st.sessions {
			// Seqs 0, 3, ..., 99 are deleted: 66 are left, 98 the last.
			if ss.Queued != perClient-34 || ss.NextSeq != perClient-1 {
				t.Errorf("session %q: Queued %d NextSeq %d, want %d, %d", ss.ClientID, ss.Queued, ss.NextSeq,
					perClient-34, perClient-1)
			}
		}
		ds := loadQueue(t, s, "client-7")
		for i, d := range ds {
			if d.Seq%3 == 0 || d.Released != (d.Seq%10 == 0) || (i > 0 && d.Seq <= ds[i-1].Seq) {
				t.Fatalf("delivery %d: Released %v (seqs %v)", d.Seq, d.Released, seqs(ds))
			}
		}
	})
}

func testBadBatch(t *testing.T, h *harness) {
	h.commit(t, true, func(b *broker.Batch) {
		b.PutRetained(msg("keep", "old"))
		b.PutSession(&broker.StoredSession{ClientID: "keep", Version: 4})
		b.PutDelivery("keep", delivery("keep", 1))
	})
	badProps := &packet.Properties{}
	badProps.SetUint(packet.PropSessionExpiry, 10) // not a PUBLISH property
	bad := map[string]broker.Op{
		"NUL in client id":         {Kind: broker.OpPutInbound, ClientID: "a\x00b", PacketID: 1},
		"NUL in deleted client id": {Kind: broker.OpDeleteSession, ClientID: "k\x00"},
		"empty client id":          {Kind: broker.OpPutDelivery, ClientID: "", Seq: 1, Delivery: delivery("", 1)},
		"no message":               {Kind: broker.OpPutRetained},
		"no session":               {Kind: broker.OpPutSession, ClientID: "x"},
		"no delivery":              {Kind: broker.OpPutDelivery, ClientID: "x"},
		"no message id":            {Kind: broker.OpPutDelivery, ClientID: "x", Seq: 1, Delivery: &broker.StoredDelivery{Seq: 1, Msg: msg("t", "x")}},
		"delivery without message": {Kind: broker.OpPutDelivery, ClientID: "x", Seq: 1, Delivery: &broker.StoredDelivery{Seq: 1, ID: 1}},
		"unknown kind":             {Kind: 200, ClientID: "x"},
		"zero kind":                {ClientID: "x"},
		"bad properties":           {Kind: broker.OpPutRetained, Msg: &broker.Message{Topic: "t", Properties: badProps}},
		"empty topic":              {Kind: broker.OpPutRetained, Msg: &broker.Message{Topic: ""}},
		"key too long":             {Kind: broker.OpPutSession, ClientID: string(bytes.Repeat([]byte("x"), 40000)), Session: &broker.StoredSession{ClientID: string(bytes.Repeat([]byte("x"), 40000))}},
	}
	for name, op := range bad {
		b := &broker.Batch{}
		b.PutRetained(msg("keep", "new"))
		b.DeleteSession("keep")
		b.PutInbound("new", 1)
		b.Ops = append(b.Ops, op)
		b.PutRetained(msg("after", "x"))
		if err := h.s.Commit(context.Background(), b, true); err == nil {
			t.Errorf("%s: Commit succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := &broker.Batch{}
	b.DeleteSession("keep")
	if err := h.s.Commit(ctx, b, true); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a canceled context: %v", err)
	}
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		if len(st.retained) != 1 || string(st.retained[0].Payload) != "old" || len(st.sessions) != 1 || len(st.inbound) != 0 {
			t.Errorf("a failed Commit changed the store: %d retained, %d sessions, %d inbound",
				len(st.retained), len(st.sessions), len(st.inbound))
		}
		if ds := loadQueue(t, s, "keep"); len(ds) != 1 {
			t.Errorf("a failed Commit changed the queue: %v", seqs(ds))
		}
	})
}

func testClosed(t *testing.T, h *harness) {
	ctx := context.Background()
	h.commit(t, true, func(b *broker.Batch) { b.PutRetained(msg("a", "x")) })
	for range 2 {
		if err := h.s.Sync(ctx); err != nil {
			t.Errorf("Sync: %v", err)
		}
	}
	for range 2 {
		if err := h.s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	b := &broker.Batch{}
	b.PutRetained(msg("b", "x"))
	if err := h.s.Commit(ctx, b, true); !errors.Is(err, broker.ErrStoreClosed) {
		t.Errorf("Commit after Close: %v, want ErrStoreClosed", err)
	}
	if err := h.s.Commit(ctx, &broker.Batch{}, true); !errors.Is(err, broker.ErrStoreClosed) {
		t.Errorf("empty Commit after Close: %v, want ErrStoreClosed", err)
	}
	if err := h.s.Load(ctx, broker.Loader{Retained: func(*broker.Message) error { return nil }}); !errors.Is(err, broker.ErrStoreClosed) {
		t.Errorf("Load after Close: %v, want ErrStoreClosed", err)
	}
	if err := h.s.LoadQueue(ctx, "a", func(*broker.StoredDelivery) error { return nil }); !errors.Is(err, broker.ErrStoreClosed) {
		t.Errorf("LoadQueue after Close: %v, want ErrStoreClosed", err)
	}
	if err := h.s.Sync(ctx); !errors.Is(err, broker.ErrStoreClosed) {
		t.Errorf("Sync after Close: %v, want ErrStoreClosed", err)
	}
	if h.f.Persistent {
		h.s = h.f.Open(t, h.dir)
		if st := load(t, h.s); len(st.retained) != 1 {
			t.Errorf("after Close and Open: %d retained, want 1", len(st.retained))
		}
	}
}

func testNoAliasing(t *testing.T, h *harness) {
	m := fullMsg("t", "payload")
	ss := fullSession("s")
	d := delivery("s", 1)
	d.SubIDs = []uint32{5}
	h.commit(t, true, func(b *broker.Batch) {
		b.PutRetained(m)
		b.PutSession(ss)
		b.PutDelivery("s", d)
	})
	// The caller changes what it committed...
	m.Payload[0] = 'X'
	m.Properties.User[0].Value = "changed"
	m.Properties.CorrelationData[0] = 9
	ss.Subscriptions[0].Filter = "changed"
	ss.Will.Payload[0] = 'X'
	d.SubIDs[0] = 6
	d.Msg.Payload[0] = 'X'
	wantM, wantS, wantD := fullMsg("t", "payload"), fullSession("s"), delivery("s", 1)
	wantD.SubIDs = []uint32{5}
	verify := func(t *testing.T, s broker.Store) {
		t.Helper()
		st := load(t, s)
		if len(st.retained) != 1 || len(st.sessions) != 1 {
			t.Fatalf("loaded %d retained, %d sessions", len(st.retained), len(st.sessions))
		}
		if diff := diffMessage(st.retained[0], wantM); diff != "" {
			t.Errorf("retained: %s", diff)
		}
		if diff := diffSession(st.sessions[0], wantS); diff != "" {
			t.Errorf("session: %s", diff)
		}
		wantDeliveries(t, s, "s", []*broker.StoredDelivery{wantD})
	}
	verify(t, h.s)
	// ... and what it loaded.
	st := load(t, h.s)
	st.retained[0].Payload[0] = 'Y'
	st.retained[0].Properties.User[0].Key = "changed"
	st.sessions[0].Subscriptions[0].QoS = 0
	st.sessions[0].Will.Payload[0] = 'Y'
	ds := loadQueue(t, h.s, "s")
	ds[0].SubIDs[0] = 7
	ds[0].Msg.Payload[0] = 'Y'
	h.check(t, verify)
}

func testCallbacks(t *testing.T, h *harness) {
	ctx := context.Background()
	const n = 300 // more than one read chunk of the disk store
	h.commit(t, true, func(b *broker.Batch) {
		for i := range n {
			id := fmt.Sprintf("s%04d", i)
			b.PutSession(&broker.StoredSession{ClientID: id, Version: 4})
			b.PutRetained(msg("r/"+id, "x"))
			b.PutInbound(id, 1)
			b.PutDelivery("q", delivery("q", uint64(i)))
		}
	})
	errStop := errors.New("stop here")
	calls := 0
	err := h.s.Load(ctx, broker.Loader{Session: func(*broker.StoredSession) error {
		calls++
		if calls == 270 {
			return errStop
		}
		return nil
	}})
	if !errors.Is(err, errStop) || calls != 270 {
		t.Errorf("Load with a failing function: %v after %d calls, want errStop after 270", err, calls)
	}
	calls = 0
	err = h.s.LoadQueue(ctx, "q", func(*broker.StoredDelivery) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("LoadQueue with a failing function: %v after %d calls, want errStop after 1", err, calls)
	}

	// The functions may commit: delete every session as it loads, and
	// every delivery as it loads. Each is seen exactly once.
	seen := make(map[string]int)
	err = h.s.Load(ctx, broker.Loader{
		Retained: func(m *broker.Message) error {
			b := &broker.Batch{}
			b.DeleteRetained(m.Topic)
			b.PutRetained(msg("a/added-"+m.Topic, "x")) // before the scan's position: not seen
			return h.s.Commit(ctx, b, false)
		},
		Session: func(ss *broker.StoredSession) error {
			seen[ss.ClientID]++
			b := &broker.Batch{}
			b.DeleteSession(ss.ClientID)
			return h.s.Commit(ctx, b, true)
		},
	})
	if err != nil {
		t.Fatalf("Load committing from its functions: %v", err)
	}
	if len(seen) != n {
		t.Errorf("saw %d sessions, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("saw session %q %d times", id, c)
		}
	}
	var got []uint64
	err = h.s.LoadQueue(ctx, "q", func(d *broker.StoredDelivery) error {
		got = append(got, d.Seq)
		b := &broker.Batch{}
		b.DeleteDelivery("q", d.Seq)
		return h.s.Commit(ctx, b, true)
	})
	if err != nil || len(got) != n || !slices.IsSorted(got) {
		t.Errorf("LoadQueue committing from its function: %v, %d deliveries, sorted %v", err, len(got), slices.IsSorted(got))
	}
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		if len(st.sessions) != 0 || len(st.inbound) != 0 || len(loadQueue(t, s, "q")) != 0 {
			t.Errorf("left: %d sessions, %d inbound", len(st.sessions), len(st.inbound))
		}
		if len(st.retained) != n {
			t.Errorf("%d retained messages, want the %d added", len(st.retained), n)
		}
		for _, m := range st.retained {
			if !bytes.HasPrefix([]byte(m.Topic), []byte("a/added-r/")) {
				t.Errorf("retained %q left", m.Topic)
			}
		}
	})
}

func testConcurrent(t *testing.T, h *harness) {
	ctx := context.Background()
	const rounds = 150
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() { // the one writer
		defer wg.Done()
		defer close(done)
		for i := range uint64(rounds) {
			b := &broker.Batch{}
			b.PutSession(&broker.StoredSession{ClientID: "c", Version: 5})
			b.PutDelivery("c", delivery("c", i))
			if i >= 5 {
				b.DeleteDelivery("c", i-5)
			}
			b.PutRetained(msg(fmt.Sprintf("r/%d", i%10), fmt.Sprint(i)))
			b.PutInbound("c", uint16(i%7+1))
			if err := h.s.Commit(ctx, b, i%2 == 0); err != nil {
				t.Errorf("Commit %d: %v", i, err)
				return
			}
		}
	}()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var last uint64
				n := 0
				err := h.s.LoadQueue(ctx, "c", func(d *broker.StoredDelivery) error {
					if n > 0 && d.Seq <= last {
						return fmt.Errorf("seq %d after %d", d.Seq, last)
					}
					if want := fmt.Sprintf("c#%d", d.Seq); string(d.Msg.Payload) != want {
						return fmt.Errorf("delivery %d: payload %q", d.Seq, d.Msg.Payload)
					}
					last, n = d.Seq, n+1
					return nil
				})
				if err != nil {
					t.Errorf("LoadQueue during commits: %v", err)
					return
				}
				err = h.s.Load(ctx, broker.Loader{
					Retained: func(m *broker.Message) error { return nil },
					Session: func(ss *broker.StoredSession) error {
						if ss.Queued > 6 || ss.NextSeq > rounds {
							return fmt.Errorf("session: Queued %d, NextSeq %d", ss.Queued, ss.NextSeq)
						}
						return nil
					},
					Inbound: func(string, uint16) error { return nil },
				})
				if err != nil {
					t.Errorf("Load during commits: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h.check(t, func(t *testing.T, s broker.Store) {
		if got := seqs(loadQueue(t, s, "c")); !slices.Equal(got, []uint64{rounds - 5, rounds - 4, rounds - 3, rounds - 2, rounds - 1}) {
			t.Errorf("queue after concurrent commits: %v", got)
		}
	})
}

func testPayloads(t *testing.T, h *harness) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	empty := &broker.Message{Topic: "empty", Payload: []byte{}}
	nilPayload := &broker.Message{Topic: "nil"}
	bigMsg := fullMsg("big", "")
	bigMsg.Payload = big
	ss := fullSession("s")
	ss.Will.Payload = big
	d := &broker.StoredDelivery{Seq: 1, ID: 1, Msg: bigMsg, QoS: 2}
	h.commit(t, true, func(b *broker.Batch) {
		b.PutRetained(empty)
		b.PutRetained(nilPayload)
		b.PutRetained(bigMsg)
		b.PutSession(ss)
		b.PutDelivery("s", d)
		b.PutDelivery("s", &broker.StoredDelivery{Seq: 2, ID: 2, Msg: empty})
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		st := load(t, s)
		got := st.retainedByTopic()
		for _, w := range []*broker.Message{empty, nilPayload, bigMsg} {
			if diff := diffMessage(got[w.Topic], w); diff != "" {
				t.Errorf("retained %q: %s", w.Topic, diff)
			}
		}
		if len(st.sessions) != 1 || diffSession(st.sessions[0], ss) != "" {
			t.Errorf("session with a 1 MB will")
		}
		wantDeliveries(t, s, "s", []*broker.StoredDelivery{d, {Seq: 2, ID: 2, Msg: empty}})
	})
}

func testEveryProperty(t *testing.T, h *harness) {
	// Each property alone, and all together.
	var ms []*broker.Message
	all := fullProps()
	for _, id := range []packet.PropertyID{packet.PropPayloadFormat, packet.PropMessageExpiry,
		packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData,
		packet.PropSubscriptionID, packet.PropTopicAlias, packet.PropUser} {
		p := *all
		for _, other := range []packet.PropertyID{packet.PropPayloadFormat, packet.PropMessageExpiry,
			packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData,
			packet.PropSubscriptionID, packet.PropTopicAlias, packet.PropUser} {
			if other != id {
				p.Clear(other)
			}
		}
		m := msg(fmt.Sprintf("p/%d", id), "x")
		m.Properties = &p
		ms = append(ms, m)
	}
	ms = append(ms, fullMsg("p/all", "x"))
	// Empty values: a zero-length string, binary value and user property.
	p := &packet.Properties{}
	p.SetString(packet.PropContentType, "")
	p.CorrelationData = []byte{}
	p.Set(packet.PropCorrelationData)
	p.SetUint(packet.PropPayloadFormat, 0)
	p.User = []packet.UserProperty{{}}
	m := msg("p/empty-values", "")
	m.Properties = p
	ms = append(ms, m)
	// An empty, non-nil set.
	m = msg("p/empty-set", "")
	m.Properties = &packet.Properties{}
	ms = append(ms, m)
	h.commit(t, true, func(b *broker.Batch) {
		for i, m := range ms {
			b.PutRetained(m)
			b.PutDelivery("d", &broker.StoredDelivery{Seq: uint64(i), ID: uint64(i) + 1, Msg: m, QoS: 1})
		}
	})
	h.check(t, func(t *testing.T, s broker.Store) {
		got := load(t, s).retainedByTopic()
		ds := loadQueue(t, s, "d")
		if len(ds) != len(ms) {
			t.Fatalf("%d deliveries, want %d", len(ds), len(ms))
		}
		for i, w := range ms {
			if diff := diffMessage(got[w.Topic], w); diff != "" {
				t.Errorf("retained %q: %s", w.Topic, diff)
			}
			if diff := diffMessage(ds[i].Msg, w); diff != "" {
				t.Errorf("delivery %q: %s", w.Topic, diff)
			}
			if w.Properties != nil && w.Properties.Has(packet.PropUser) {
				if u := got[w.Topic].Properties.User; !slices.Equal(u, w.Properties.User) {
					t.Errorf("%q: user properties %v, want %v in order", w.Topic, u, w.Properties.User)
				}
			}
		}
	})
}

func testCanceled(t *testing.T, h *harness) {
	h.commit(t, true, func(b *broker.Batch) {
		b.PutRetained(msg("a", "x"))
		b.PutDelivery("c", delivery("c", 1))
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := h.s.Load(ctx, broker.Loader{Retained: func(*broker.Message) error { called = true; return nil }})
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("Load with a canceled context: %v (function called: %v)", err, called)
	}
	err = h.s.LoadQueue(ctx, "c", func(*broker.StoredDelivery) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("LoadQueue with a canceled context: %v (function called: %v)", err, called)
	}
}
