package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
)

// crashCopy copies the store file at path and its write-ahead log to dir,
// as a kill -9 would leave them: every Commit that returned is on disk.
func crashCopy(t *testing.T, path, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", store.WALSuffix} {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// queueSeqs returns the sequence numbers and payloads queued for id.
func queueSeqs(t *testing.T, s broker.Store, id string) ([]uint64, []string) {
	t.Helper()
	var seqs []uint64
	var payloads []string
	if err := s.LoadQueue(context.Background(), id, func(d *broker.StoredDelivery) error {
		seqs = append(seqs, d.Seq)
		payloads = append(payloads, string(d.Msg.Payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return seqs, payloads
}

// A crash leaves batches in the write-ahead log, some applied to the B+tree
// by a checkpoint and some not, with the log restarted over old records
// after the checkpoint: reopening has exactly what was committed.
func TestBoltWALReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	put := func(seq uint64) {
		commit(t, s, func(b *broker.Batch) {
			b.PutDelivery("c", delivery(seq, []byte{'a' + byte(seq%26)}))
			b.PutRetained(&broker.Message{Topic: "r", Payload: []byte{byte(seq)}, Retain: true})
		})
	}
	for seq := range uint64(10) {
		put(seq)
	}
	commit(t, s, func(b *broker.Batch) { b.DeleteDelivery("c", 3) })
	// A read applies the log to the B+tree (a checkpoint); later batches
	// are written over the start of the log.
	if seqs, _ := queueSeqs(t, s, "c"); len(seqs) != 9 {
		t.Fatalf("before the crash: %v", seqs)
	}
	put(10)
	commit(t, s, func(b *broker.Batch) { b.DeleteDelivery("c", 0); b.ReleaseDelivery("c", 9) })
	put(11)

	copied := crashCopy(t, path, t.TempDir())
	c := mustOpen(t, copied)
	seqs, payloads := queueSeqs(t, c, "c")
	want := []uint64{1, 2, 4, 5, 6, 7, 8, 9, 10, 11}
	if !slices.Equal(seqs, want) {
		t.Fatalf("after the crash: queue %v, want %v", seqs, want)
	}
	if payloads[len(payloads)-1] != "l" {
		t.Errorf("payloads %q", payloads)
	}
	var released []uint64
	var retained []byte
	c.LoadQueue(context.Background(), "c", func(d *broker.StoredDelivery) error {
		if d.Released {
			released = append(released, d.Seq)
		}
		return nil
	})
	if err := c.Load(context.Background(), broker.Loader{Retained: func(m *broker.Message) error {
		retained = m.Payload
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(released, []uint64{9}) || !bytes.Equal(retained, []byte{11}) {
		t.Errorf("released %v, retained %v", released, retained)
	}
}

// The tail an interrupted append leaves (a partial record, or one whose
// checksum fails) is not replayed, and what came before it is.
func TestBoltWALTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	for seq := range uint64(3) {
		commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(seq, []byte("x"))) })
	}
	for name, tail := range map[string]func(log []byte) []byte{
		// A fourth record cut short, in the zeros after the third: its
		// header says more than follows.
		"partial": func(log []byte) []byte {
			log = slices.Clone(log)
			end := bytes.LastIndex(log, []byte("x")) + 1
			rec := slices.Clone(log[walRecordStart(t, log, 2):end])
			copy(log[end:], rec[:len(rec)/2])
			return log
		},
		// The third record with a byte flipped.
		"checksum": func(log []byte) []byte {
			log = slices.Clone(log)
			log[bytes.LastIndex(log, []byte("x"))] = 'y'
			return log
		},
	} {
		t.Run(name, func(t *testing.T) {
			copied := crashCopy(t, path, t.TempDir())
			log, err := os.ReadFile(copied + store.WALSuffix)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copied+store.WALSuffix, tail(log), 0o600); err != nil {
				t.Fatal(err)
			}
			c := mustOpen(t, copied)
			seqs, _ := queueSeqs(t, c, "c")
			want := []uint64{0, 1, 2}
			if name == "checksum" {
				want = want[:2]
			}
			if !slices.Equal(seqs, want) {
				t.Errorf("queue %v, want %v", seqs, want)
			}
			// The store goes on from there.
			commit(t, c, func(b *broker.Batch) { b.PutDelivery("c", delivery(7, []byte("z"))) })
			if seqs, _ := queueSeqs(t, c, "c"); seqs[len(seqs)-1] != 7 {
				t.Errorf("after a new commit: %v", seqs)
			}
		})
	}
}

// walRecordStart returns the offset of record i (from 0) of the log.
func walRecordStart(t *testing.T, log []byte, i int) int {
	t.Helper()
	off := 4096 // the log's header
	for range i {
		if len(log)-off < 16 {
			t.Fatal("log too short")
		}
		n := int(log[off]) | int(log[off+1])<<8 | int(log[off+2])<<16 | int(log[off+3])<<24
		off += 16 + n
	}
	return off
}

// A log left beside a store file that was deleted holds batches the store
// file had: OpenBolt refuses to start without them (issue 12.3), and
// MoveAside moves the log alone.
func TestBoltWALWithoutItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(1, []byte("old"))) })
	copied := crashCopy(t, path, t.TempDir())
	if err := os.Remove(copied); err != nil {
		t.Fatal(err)
	}
	_, err := store.OpenBolt(copied, store.BoltOptions{})
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "store "+copied+" is missing, but its write-ahead log "+copied+store.WALSuffix+" is there") {
		t.Fatalf("OpenBolt without the store file: %v", err)
	}
	moved, err := store.MoveAside(copied)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(moved); err != nil { // the log's new name
		t.Fatalf("the log was not moved aside: %v", err)
	}
	c := mustOpen(t, copied)
	if seqs, _ := queueSeqs(t, c, "c"); len(seqs) != 0 {
		t.Errorf("a new store replayed an old log: %v", seqs)
	}
}

// The queue read with pending batches laid over the B+tree (what LoadQueue
// does when a checkpoint cannot run) is the queue a checkpoint makes: puts,
// deletes, releases, a session deleted and started again, messages shared
// between deliveries and brought by earlier batches.
func TestBoltWALPendingRead(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "midge.db"))
	shared := &broker.Message{Topic: "s", Payload: []byte("shared"), QoS: 1}
	d := func(seq, id uint64, m *broker.Message) *broker.StoredDelivery {
		return &broker.StoredDelivery{Seq: seq, ID: id, QoS: 1, Msg: m}
	}
	commit(t, s, func(b *broker.Batch) {
		for seq := range uint64(4) {
			b.PutDelivery("c", delivery(seq, []byte{'a' + byte(seq)}))
		}
		b.PutDelivery("other", delivery(0, []byte("o")))
	})
	queueSeqs(t, s, "c") // a checkpoint: the B+tree has seqs 0-3
	commit(t, s, func(b *broker.Batch) {
		b.DeleteDelivery("c", 1)
		b.PutDelivery("c", d(10, 100, shared))
		b.ReleaseDelivery("c", 2)
	})
	commit(t, s, func(b *broker.Batch) {
		b.PutDelivery("c", d(11, 100, shared)) // its message came in the batch before
		b.PutDelivery("c", delivery(12, []byte("gone")))
		b.DeleteDelivery("c", 12)
		b.PutDelivery("other", delivery(1, []byte("p")))
	})
	read := func(load func(string, func(*broker.StoredDelivery) error) error, id string) []string {
		var out []string
		if err := load(id, func(d *broker.StoredDelivery) error {
			out = append(out, fmt.Sprintf("%d %s %v", d.Seq, d.Msg.Payload, d.Released))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	pending := func(id string, fn func(*broker.StoredDelivery) error) error {
		return store.LoadQueuePending(s, id, fn)
	}
	loaded := func(id string, fn func(*broker.StoredDelivery) error) error {
		return s.LoadQueue(context.Background(), id, fn)
	}
	for _, id := range []string{"c", "other"} {
		got := read(pending, id)
		want := read(loaded, id) // checkpoints first
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("%s: pending read %q, checkpointed read %q", id, got, want)
		}
	}
	// A session deleted and queued again after the checkpoint.
	commit(t, s, func(b *broker.Batch) {
		b.DeleteSession("c")
		b.PutDelivery("c", delivery(20, []byte("new")))
	})
	got, want := read(pending, "c"), read(loaded, "c")
	if !slices.Equal(got, want) || !slices.Equal(want, []string{"20 new false"}) {
		t.Errorf("after DeleteSession: pending read %q, checkpointed read %q", got, want)
	}
}
