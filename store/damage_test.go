package store_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/store/storetest"
)

// damageStore makes a store with 40 queued deliveries and a retained
// message, of which the first 20 and the retained message went through a
// checkpoint; with crash it is copied as a kill -9 leaves it (the last 20
// in the log only), otherwise closed (everything checkpointed, the log
// holding the last 20 again as applied records). It returns the copy's
// path.
func damageStore(t *testing.T, crash bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	commit(t, s, func(b *broker.Batch) {
		b.PutRetained(&broker.Message{Topic: "r", Payload: []byte("kept"), Retain: true})
	})
	for seq := range uint64(40) {
		if seq == 20 {
			queueSeqs(t, s, "c") // a checkpoint
		}
		commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(seq, []byte(fmt.Sprint("m", seq)))) })
	}
	if !crash {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return crashCopy(t, path, t.TempDir())
}

// flip inverts n bytes of the file at name from off.
func flip(t *testing.T, name string, off, n int) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for i := off; i < off+n; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, name string, size int64) {
	t.Helper()
	if err := os.Truncate(name, size); err != nil {
		t.Fatal(err)
	}
}

// newestMeta returns the offset of the meta page of the newest bbolt
// transaction of the file at path.
func newestMeta(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.LittleEndian.Uint32(data[16+8:]))
	txid := func(off int) uint64 { return binary.LittleEndian.Uint64(data[off+16+48:]) }
	if txid(pageSize) > txid(0) {
		return pageSize
	}
	return 0
}

// Every kind of damage to the store file or its log that would lose data
// stops OpenBolt with an error that names the file and what is wrong, and
// leaves the files as they are; MoveAside then makes room for a new store
// (issue 12.3).
func TestBoltDamageIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		crash  bool
		damage func(t *testing.T, path string)
		file   string // the file the error names: "" the store file, "-wal" its log
		says   string
	}{
		{"log flipped among its unapplied records", true, func(t *testing.T, path string) {
			log, _ := os.ReadFile(path + store.WALSuffix)
			_, end := storetest.WALRecords(t, log)
			flip(t, path+store.WALSuffix, (4096+end)/2, 64)
		}, "-wal", "is damaged, and record"},
		{"log flipped among its applied records", false, func(t *testing.T, path string) {
			log, _ := os.ReadFile(path + store.WALSuffix)
			_, end := storetest.WALRecords(t, log)
			flip(t, path+store.WALSuffix, (4096+end)/2, 64)
		}, "-wal", "is damaged or missing"},
		{"log header flipped", false, func(t *testing.T, path string) {
			flip(t, path+store.WALSuffix, 8, 8)
		}, "-wal", "its header is damaged"},
		{"log truncated to half", true, func(t *testing.T, path string) {
			fi, _ := os.Stat(path + store.WALSuffix)
			truncate(t, path+store.WALSuffix, fi.Size()/2)
		}, "-wal", "truncated"},
		{"log truncated to nothing", false, func(t *testing.T, path string) {
			truncate(t, path+store.WALSuffix, 0)
		}, "-wal", "truncated"},
		{"log truncated after its last record", true, func(t *testing.T, path string) {
			log, _ := os.ReadFile(path + store.WALSuffix)
			_, end := storetest.WALRecords(t, log)
			truncate(t, path+store.WALSuffix, int64(end))
		}, "-wal", "truncated"},
		{"log truncated within its last record", true, func(t *testing.T, path string) {
			log, _ := os.ReadFile(path + store.WALSuffix)
			offs, _ := storetest.WALRecords(t, log)
			truncate(t, path+store.WALSuffix, int64(offs[len(offs)-1]+10))
		}, "-wal", "truncated"},
		{"log deleted after a crash", true, func(t *testing.T, path string) {
			os.Remove(path + store.WALSuffix)
		}, "-wal", "is missing"},
		{"log deleted after a clean stop", false, func(t *testing.T, path string) {
			os.Remove(path + store.WALSuffix)
		}, "-wal", "is missing"},
		{"log of another store", false, func(t *testing.T, path string) {
			other := damageStore(t, false)
			data, _ := os.ReadFile(other + store.WALSuffix)
			os.WriteFile(path+store.WALSuffix, data, 0o600)
		}, "-wal", "the log of another store"},
		{"store file deleted beside its log", true, func(t *testing.T, path string) {
			os.Remove(path)
		}, "", "is missing, but its write-ahead log"},
		{"store file emptied", false, func(t *testing.T, path string) {
			truncate(t, path, 0)
		}, "", "it is empty (0 bytes)"},
		{"newest meta page flipped, with records since", true, func(t *testing.T, path string) {
			flip(t, path, newestMeta(t, path)+20, 64)
		}, "-wal", "the store file is older than its log"},
		{"root page flipped", false, func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			size := int(binary.LittleEndian.Uint32(data[16+8:]))
			root := binary.LittleEndian.Uint64(data[newestMeta(t, path)+16+16:])
			flip(t, path, int(root)*size+16, 64)
		}, "", "is corrupt"},
		{"older meta page flipped, and the queue's root page", false, func(t *testing.T, path string) {
			var root uint64
			withBolt(t, path, func(tx *bolt.Tx) error { root = uint64(tx.Bucket([]byte("queue")).Root()); return nil })
			data, _ := os.ReadFile(path)
			size := int(binary.LittleEndian.Uint32(data[16+8:]))
			flip(t, path, size-newestMeta(t, path)+20, 64)
			flip(t, path, int(root)*size+16, 64)
		}, "", "is corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := damageStore(t, tc.crash)
			tc.damage(t, path)
			before := snapshot(path)
			_, err := store.OpenBolt(path, store.BoltOptions{})
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("OpenBolt: %v, want an error wrapping ErrCorrupt", err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, path+tc.file+" ") || !strings.Contains(msg, tc.says) || !strings.Contains(msg, "--recover") {
				t.Errorf("the error does not name %s, say %q and how to move it aside", path+tc.file, tc.says)
			}
			if after := snapshot(path); after != before {
				t.Errorf("the files were changed:\n%s\n%s", before, after)
			}
			if _, err := store.MoveAside(path); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, path)
			if seqs, _ := queueSeqs(t, s, "c"); len(seqs) != 0 {
				t.Errorf("the new store has %v", seqs)
			}
		})
	}
}

// snapshot describes the store file and log at path.
func snapshot(path string) string {
	var b strings.Builder
	for _, name := range []string{path, path + store.WALSuffix} {
		data, err := os.ReadFile(name)
		fmt.Fprintf(&b, "%s: %d bytes %x %v; ", filepath.Base(name), len(data), hash(data), err)
	}
	return b.String()
}

func hash(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// logged returns options whose Logger writes to a buffer.
func logged() (store.BoltOptions, *bytes.Buffer) {
	var buf bytes.Buffer
	return store.BoltOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil))}, &buf
}

// openLogged opens the store at path (closed when the test ends) with a
// logger writing to buf.
func openLogged(t *testing.T, path string) (s *store.Bolt, buf *bytes.Buffer) {
	t.Helper()
	opts, buf := logged()
	s, err := store.OpenBolt(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, buf
}

// A torn final record, a prefix of the record an append was writing when
// the process died, is dropped, with a warning once its header is whole,
// and everything before it is kept; the next open has nothing to say.
func TestBoltWALTornFinalRecord(t *testing.T) {
	t.Parallel()
	path := damageStore(t, true)
	log, err := os.ReadFile(path + store.WALSuffix)
	if err != nil {
		t.Fatal(err)
	}
	offs, end := storetest.WALRecords(t, log)
	// The record that would have come next: a copy of the last with the
	// next sequence number (its checksum is not the point: it is cut).
	last := slices.Clone(log[offs[len(offs)-1]:end])
	binary.LittleEndian.PutUint64(last[8:], binary.LittleEndian.Uint64(last[8:])+1)
	want := make([]uint64, 40)
	for i := range want {
		want[i] = uint64(i)
	}
	// Within the header, at its end, and within the body.
	for _, cut := range []int{1, 4, 8, 12, 15, 16, 17, len(last) / 2, len(last) - 1} {
		dir := t.TempDir()
		p := filepath.Join(dir, "midge.db")
		torn := slices.Clone(log)
		copy(torn[end:], last[:cut])
		db, _ := os.ReadFile(path)
		os.WriteFile(p, db, 0o600)
		os.WriteFile(p+store.WALSuffix, torn, 0o600)
		opts, buf := logged()
		s, err := store.OpenBolt(p, opts)
		if err != nil {
			t.Fatalf("cut after %d bytes: %v", cut, err)
		}
		if seqs, _ := queueSeqs(t, s, "c"); !slices.Equal(seqs, want) {
			t.Errorf("cut after %d bytes: queue %v", cut, seqs)
		}
		// Once its header names it: before, its first bytes cannot be
		// told from the end of the log.
		if logs := buf.String(); cut >= 16 != strings.Contains(logs, "dropped the torn final record of its write-ahead log (record 42 at offset") {
			t.Errorf("cut after %d bytes: logged %q", cut, logs)
		}
		s.Close()
		opts, buf = logged()
		s, err = store.OpenBolt(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if buf.Len() > 0 {
			t.Errorf("cut after %d bytes: the next open logged %q", cut, buf)
		}
	}
}

// A damaged meta page whose transaction the log still holds (a torn meta
// page, as a power cut during a checkpoint leaves) loses nothing: bbolt
// reads the transaction before, the log's records since are applied
// again, and a warning names the page.
func TestBoltDamagedMetaPageCoveredByLog(t *testing.T) {
	t.Parallel()
	path := damageStore(t, false)
	flip(t, path, newestMeta(t, path)+20, 64)
	s, buf := openLogged(t, path)
	seqs, payloads := queueSeqs(t, s, "c")
	if len(seqs) != 40 || payloads[39] != "m39" {
		t.Errorf("queue %v %q", seqs, payloads)
	}
	if !strings.Contains(buf.String(), "meta page") || !strings.Contains(buf.String(), "is damaged") {
		t.Errorf("logged %q", buf)
	}
}

// A store file rolled back, by a damaged meta page, to before its log's
// length was recorded still has its log read, not replaced by a new one.
func TestBoltDamagedMetaPageBeforeFirstCheckpoint(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	for seq := range uint64(5) {
		commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(seq, []byte("x"))) })
	}
	copied := crashCopy(t, path, t.TempDir())
	flip(t, copied, newestMeta(t, copied)+20, 64)
	c, buf := openLogged(t, copied)
	if seqs, _ := queueSeqs(t, c, "c"); !slices.Equal(seqs, []uint64{0, 1, 2, 3, 4}) {
		t.Errorf("queue %v", seqs)
	}
	if !strings.Contains(buf.String(), "meta page") {
		t.Errorf("logged %q", buf)
	}
}

// A store of format 2, whose log had no header, is upgraded with the
// records its log holds beyond the last checkpoint.
func TestBoltUpgradeHeaderlessLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(0, []byte("applied"))) })
	queueSeqs(t, s, "c") // a checkpoint
	commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(1, []byte("logged"))) })
	copied := crashCopy(t, path, t.TempDir())
	// Format 2: no store id, no recorded length, records from the log's
	// first byte (the stale first record, then the new one).
	withBolt(t, copied, func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		meta.Delete([]byte("store-id"))
		meta.Delete([]byte("wal-size"))
		return meta.Put([]byte("format"), []byte("2"))
	})
	log, err := os.ReadFile(copied + store.WALSuffix)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(copied+store.WALSuffix, log[4096:], 0o600)
	c := mustOpen(t, copied)
	if _, payloads := queueSeqs(t, c, "c"); !slices.Equal(payloads, []string{"applied", "logged"}) {
		t.Errorf("queue %q", payloads)
	}
	if f := store.Bucket(c, "meta")["format"]; f != "3" {
		t.Errorf("format %q", f)
	}
	// And the new log works across a crash.
	commit(t, c, func(b *broker.Batch) { b.PutDelivery("c", delivery(2, []byte("new"))) })
	again := mustOpen(t, crashCopy(t, copied, t.TempDir()))
	if seqs, _ := queueSeqs(t, again, "c"); !slices.Equal(seqs, []uint64{0, 1, 2}) {
		t.Errorf("after a crash: %v", seqs)
	}
}

// After a checkpoint the log's records start again from its beginning,
// over longer old ones: where the new ones end lies the rest of an old
// record, which is neither torn nor damage. Opening after a crash, and
// after a clean stop, has nothing to say.
func TestBoltWALOverwrittenRecordsAreQuiet(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	s := mustOpen(t, path)
	long := bytes.Repeat([]byte("long"), 100)
	for seq := range uint64(10) {
		commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(seq, long)) })
	}
	queueSeqs(t, s, "c") // a checkpoint: the next records start again
	for seq := range uint64(3) {
		commit(t, s, func(b *broker.Batch) { b.DeleteDelivery("c", seq) })
	}
	for _, crash := range []bool{true, false} {
		p := path
		if crash {
			p = crashCopy(t, path, t.TempDir())
		} else if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		opts, buf := logged()
		c, err := store.OpenBolt(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		if seqs, _ := queueSeqs(t, c, "c"); !slices.Equal(seqs, []uint64{3, 4, 5, 6, 7, 8, 9}) {
			t.Errorf("crash %v: queue %v", crash, seqs)
		}
		c.Close()
		if buf.Len() > 0 {
			t.Errorf("crash %v: logged %q", crash, buf)
		}
	}
}
