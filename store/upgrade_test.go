package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
)

// makeV1 makes a store of format 1 at path, as midge before the message
// table wrote it: sessions, retained messages and inbound identifiers are
// as in format 2, and each delivery record holds its message. Records that
// cannot be encoded in format 1 are put as they are in raw.
func makeV1(t *testing.T, path string, queues map[string][]*broker.StoredDelivery, raw map[string][]byte) {
	t.Helper()
	s := mustOpen(t, path)
	commit(t, s, func(b *broker.Batch) {
		for id := range queues {
			b.PutSession(&broker.StoredSession{ClientID: id, Version: 5, Expiry: 60})
			b.PutInbound(id, 7)
		}
		b.PutRetained(&broker.Message{Topic: "r", Payload: []byte("retained"), Retain: true})
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Format 1 had no write-ahead log, nor a store id.
	if err := os.Remove(path + store.WALSuffix); err != nil {
		t.Fatal(err)
	}
	withBolt(t, path, func(tx *bolt.Tx) error {
		for _, name := range []string{"messages", "refs"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("1")); err != nil {
			return err
		}
		q := tx.Bucket([]byte("queue"))
		for id, ds := range queues {
			for _, d := range ds {
				rec, err := store.EncodeDeliveryV1(d)
				if err != nil {
					return err
				}
				if err := q.Put(queueKey(id, d.Seq), rec); err != nil {
					return err
				}
			}
		}
		for k, v := range raw {
			if err := q.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func queueKey(id string, seq uint64) []byte {
	return append(append([]byte(id), 0), 0, 0, 0, 0, byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}

// rawFormat returns the format version in the store file at path, read
// without OpenBolt (which would upgrade it); the file must not be open.
func rawFormat(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var f string
	db.View(func(tx *bolt.Tx) error { f = string(tx.Bucket([]byte("meta")).Get([]byte("format"))); return nil })
	return f
}

// OpenBolt upgrades a store of format 1: deliveries keep everything, and
// those whose messages are the same share one stored message.
func TestBoltUpgrade(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	one := func() *broker.Message {
		return &broker.Message{Topic: "fleet/all", Payload: []byte("one"), QoS: 1, Publisher: "p", Received: time.Unix(5, 6)}
	}
	two := &broker.Message{Topic: "fleet/all", Payload: []byte("two"), QoS: 2, Expiry: time.Unix(1e9, 0)}
	queues := map[string][]*broker.StoredDelivery{
		"a": {{Seq: 1, Msg: one(), QoS: 1}, {Seq: 2, Msg: two, QoS: 2, Released: true, SubIDs: []uint32{3, 4}},
			{Seq: 3, Msg: one(), QoS: 1}},
		"ab": {{Seq: 9, Msg: one(), QoS: 0, Retain: true, Group: "$share/g/fleet/all"}},
	}
	// A record that does not decode stays as it is, for LoadQueue to
	// report, as format 1 did.
	bad := []byte{1, 0, 1, 200}
	makeV1(t, path, queues, map[string][]byte{string(queueKey("c", 1)): bad})
	if f := rawFormat(t, path); f != "1" {
		t.Fatalf("made a store of format %q", f)
	}

	s := mustOpen(t, path)
	if f := store.Bucket(s, "meta")["format"]; f != "3" {
		t.Fatalf("format %q after the upgrade, want 3", f)
	}
	got := make(map[string][]*broker.StoredDelivery)
	for id := range queues {
		if err := s.LoadQueue(context.Background(), id, func(d *broker.StoredDelivery) error {
			got[id] = append(got[id], d)
			return nil
		}); err != nil {
			t.Fatalf("LoadQueue(%q): %v", id, err)
		}
		if len(got[id]) != len(queues[id]) {
			t.Fatalf("%q: %d deliveries after the upgrade, want %d", id, len(got[id]), len(queues[id]))
		}
		for i, d := range got[id] {
			w := queues[id][i]
			if d.Seq != w.Seq || d.QoS != w.QoS || d.Retain != w.Retain || d.Released != w.Released ||
				d.Group != w.Group || !slices.Equal(d.SubIDs, w.SubIDs) || d.Msg == nil ||
				d.Msg.Topic != w.Msg.Topic || !bytes.Equal(d.Msg.Payload, w.Msg.Payload) ||
				!d.Msg.Received.Equal(w.Msg.Received) || !d.Msg.Expiry.Equal(w.Msg.Expiry) || d.ID == 0 {
				t.Errorf("%q: delivery %+v with message %+v, want %+v with %+v", id, d, d.Msg, w, w.Msg)
			}
		}
	}
	a, ab := got["a"], got["ab"]
	if a[0].ID != a[2].ID || a[0].ID != ab[0].ID || a[1].ID == a[0].ID {
		t.Errorf("message ids %d %d %d %d: the same message should share one", a[0].ID, a[1].ID, a[2].ID, ab[0].ID)
	}
	if _, err := countQueue(t, s, "c"); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("LoadQueue of the record that does not decode: %v, want ErrCorrupt", err)
	}
	var maxID uint64
	sessions := 0
	err := s.Load(context.Background(), broker.Loader{
		MaxMessageID: func(id uint64) error { maxID = id; return nil },
		Session: func(ss *broker.StoredSession) error {
			sessions++
			if ss.ClientID == "a" && (ss.Queued != 3 || ss.NextSeq != 4) {
				t.Errorf("session a: Queued %d, NextSeq %d", ss.Queued, ss.NextSeq)
			}
			return nil
		},
	})
	if err != nil || maxID != 2 || sessions != 2 {
		t.Errorf("Load: %v, MaxMessageID %d, %d sessions; want 2, 2", err, maxID, sessions)
	}
	if refs := store.Bucket(s, "refs"); len(refs) != 2 {
		t.Errorf("refs %q, want 2 messages", refs)
	}

	// The upgraded store works as any other, and a second open does not
	// upgrade again.
	commit(t, s, func(b *broker.Batch) {
		b.DeleteSession("a")
		b.DeleteDelivery("ab", 9)
	})
	if msgs, refs := store.Bucket(s, "messages"), store.Bucket(s, "refs"); len(msgs)+len(refs) != 0 {
		t.Errorf("after deleting every delivery: messages %q, refs %q", msgs, refs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantUpgraded(t, path)
}

// A store of format 1 with nothing queued upgrades too.
func TestBoltUpgradeEmpty(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	makeV1(t, path, nil, nil)
	wantUpgraded(t, path)
}

// An upgrade that cannot be written (a full disk) leaves the store of
// format 1 (bbolt may have written pages the file's meta page does not
// reach), which the next OpenBolt upgrades once there is room.
func TestBoltUpgradeDiskFull(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "midge.db")
	var ds []*broker.StoredDelivery
	for i := range 40 {
		ds = append(ds, &broker.StoredDelivery{Seq: uint64(i), QoS: 1,
			Msg: &broker.Message{Topic: "t", Payload: bytes.Repeat([]byte{byte(i)}, 4000)}})
	}
	makeV1(t, src, map[string][]*broker.StoredDelivery{"c": ds}, nil)
	dir := mountTmpfs(t, 0, "size=1m")
	path := filepath.Join(dir, "midge.db")
	copyFile(t, src, path)
	// Fill the file system but for a few pages.
	reserve := filepath.Join(dir, "reserve")
	f, err := os.Create(reserve)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, io.LimitReader(zeros{}, 1<<20)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the file system: %v", err)
	}
	f.Close()
	_, err = store.OpenBolt(path, store.BoltOptions{})
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "upgrade from store format 1") {
		t.Fatalf("OpenBolt on a full disk: %v, want ENOSPC", err)
	}
	t.Log(err)
	if f := rawFormat(t, path); f != "1" {
		t.Errorf("format %q after a failed upgrade, want 1", f)
	}
	if err := os.Remove(reserve); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	if n, err := countQueue(t, s, "c"); err != nil || n != len(ds) {
		t.Fatalf("after the upgrade: %d deliveries (%v), want %d", n, err, len(ds))
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantUpgraded opens the store at path, loads all it holds, and fails the
// test unless it is now of format 3.
func wantUpgraded(t *testing.T, path string) {
	t.Helper()
	s := mustOpen(t, path)
	if err := loadAll(s); err != nil {
		t.Fatal(err)
	}
	if f := store.Bucket(s, "meta")["format"]; f != "3" {
		t.Fatalf("format %q after the upgrade, want 3", f)
	}
}
