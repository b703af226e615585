package store_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
)

// refCounts returns the reference counts of s's stored messages, by message
// id, and the ids of the messages it holds.
func refCounts(t *testing.T, s *store.Bolt) (map[uint64]uint64, []uint64) {
	t.Helper()
	refs := make(map[uint64]uint64)
	for k, v := range store.Bucket(s, "refs") {
		n, err := store.DecodeRefs([]byte(v))
		if len(k) != 8 || err != nil {
			t.Fatalf("refs record %x: %x: %v", k, v, err)
		}
		refs[binary.BigEndian.Uint64([]byte(k))] = n
	}
	var msgs []uint64
	for k := range store.Bucket(s, "messages") {
		msgs = append(msgs, binary.BigEndian.Uint64([]byte(k)))
	}
	slices.Sort(msgs)
	return refs, msgs
}

// A kill -9 while a background checkpoint runs, after its transaction is
// durable and before the committer has started the log again, with batches
// committed meanwhile: reopening has every acknowledged batch, none applied
// twice, and the log, started again afterwards, keeps what follows.
func TestBoltCrashDuringBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	store.SetCheckpoints(s, 1, 0, func() {
		once.Do(func() {
			close(reached)
			<-release
		})
	})
	put := func(seq uint64) {
		commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(seq, fmt.Appendf(nil, "m%d", seq))) })
	}
	put(0) // starts a background checkpoint, which stops after its transaction
	<-reached
	put(1)
	commit(t, s, func(b *broker.Batch) { b.DeleteDelivery("c", 0) })
	put(2)
	mid := crashCopy(t, path, t.TempDir())
	close(release)

	put(3)
	if err := s.Sync(t.Context()); err != nil { // applies the rest: the log starts again
		t.Fatal(err)
	}
	put(4)
	commit(t, s, func(b *broker.Batch) { b.DeleteDelivery("c", 1) })
	after := crashCopy(t, path, t.TempDir())

	for _, tc := range []struct {
		name string
		path string
		want []uint64
	}{
		{"mid-checkpoint", mid, []uint64{1, 2}},
		{"after", after, []uint64{2, 3, 4}},
	} {
		c := mustOpen(t, tc.path)
		seqs, payloads := queueSeqs(t, c, "c")
		if !slices.Equal(seqs, tc.want) {
			t.Errorf("%s: queue %v, want %v", tc.name, seqs, tc.want)
			continue
		}
		for i, seq := range seqs {
			if want := fmt.Sprintf("m%d", seq); payloads[i] != want {
				t.Errorf("%s: delivery %d has %q, want %q", tc.name, seq, payloads[i], want)
			}
		}
		// Each queued delivery's message once, counted once: a batch
		// applied twice would count it twice, or lose it.
		refs, msgs := refCounts(t, c)
		var ids []uint64
		for _, seq := range tc.want {
			ids = append(ids, seq+1) // delivery(seq) has message id seq+1
			if refs[seq+1] != 1 {
				t.Errorf("%s: message %d counted %d times, want 1 (counts %v)", tc.name, seq+1, refs[seq+1], refs)
			}
		}
		if !slices.Equal(msgs, ids) || len(refs) != len(ids) {
			t.Errorf("%s: messages %v, counts %v, want messages %v", tc.name, msgs, refs, ids)
		}
	}
}

// Many commits with checkpoints on their own goroutine, and the log filling
// up now and then (the committer then checkpoints itself and starts the log
// again): a crash copy at any point has exactly the batches committed.
func TestBoltBackgroundCheckpointsKeepEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	store.SetCheckpoints(s, 300, 2000, nil)
	var queued []uint64
	for seq := range uint64(400) {
		commit(t, s, func(b *broker.Batch) {
			b.PutDelivery("c", delivery(seq, fmt.Appendf(nil, "m%d", seq)))
			if seq >= 3 && seq%2 == 1 {
				b.DeleteDelivery("c", seq-3)
			}
		})
		queued = append(queued, seq)
		if seq >= 3 && seq%2 == 1 {
			queued = slices.DeleteFunc(queued, func(q uint64) bool { return q == seq-3 })
		}
		if seq%97 != 0 {
			continue
		}
		c := mustOpen(t, crashCopy(t, path, t.TempDir()))
		seqs, _ := queueSeqs(t, c, "c")
		if !slices.Equal(seqs, queued) {
			t.Fatalf("after %d commits: queue %v, want %v", seq+1, seqs, queued)
		}
		refs, msgs := refCounts(t, c)
		if len(msgs) != len(queued) || len(refs) != len(queued) {
			t.Fatalf("after %d commits: %d messages, %d counts, want %d", seq+1, len(msgs), len(refs), len(queued))
		}
		c.Close()
	}
}
