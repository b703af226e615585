package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
)

func delivery(seq uint64, payload []byte) *broker.StoredDelivery {
	return &broker.StoredDelivery{Seq: seq, ID: seq + 1, QoS: 1,
		Msg: &broker.Message{Topic: "t", Payload: payload, QoS: 1, Received: time.Unix(1, 0)}}
}

func mustOpen(t *testing.T, path string) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t *testing.T, s broker.Store, fill func(b *broker.Batch)) {
	t.Helper()
	b := &broker.Batch{}
	fill(b)
	if err := s.Commit(context.Background(), b, true); err != nil {
		t.Fatal(err)
	}
}

func countQueue(t *testing.T, s broker.Store, id string) (int, error) {
	t.Helper()
	n := 0
	err := s.LoadQueue(context.Background(), id, func(*broker.StoredDelivery) error { n++; return nil })
	return n, err
}

func loadAll(s broker.Store) error {
	nop := func(*broker.Message) error { return nil }
	return s.Load(context.Background(), broker.Loader{MaxMessageID: func(uint64) error { return nil }, Retained: nop,
		Session: func(*broker.StoredSession) error { return nil },
		Inbound: func(string, uint16) error { return nil }})
}

func TestOpenBoltLocation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		is         error
		says       string
	}{
		{"missing directory", filepath.Join(dir, "nope", "midge.db"), fs.ErrNotExist,
			"persistence_location " + filepath.Join(dir, "nope") + ": no such file or directory: create the directory"},
		{"path is a directory", dir, syscall.EISDIR, dir + ": is a directory"},
		{"directory is a file", filepath.Join(file, "midge.db"), syscall.ENOTDIR, "persistence_location " + file + ": not a directory"},
	} {
		_, err := store.OpenBolt(tc.path, store.BoltOptions{})
		if !errors.Is(err, tc.is) || err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: OpenBolt: %v; want an error wrapping %v that says %q", tc.name, err, tc.is, tc.says)
		}
	}
}

func TestOpenBoltPermission(t *testing.T) {
	t.Parallel()
	var dir string
	if os.Getuid() == 0 {
		// Root writes anywhere: a read-only file system it cannot.
		dir = mountTmpfs(t, readOnlyMount, "size=64k")
	} else {
		dir = t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	_, err := store.OpenBolt(filepath.Join(dir, "midge.db"), store.BoltOptions{})
	if err == nil || !(errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) ||
		!strings.Contains(err.Error(), "set persistence_location") {
		t.Fatalf("OpenBolt in an unwritable directory: %v", err)
	}
	t.Log(err)
}

func TestOpenBoltInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	mustOpen(t, path)
	start := time.Now()
	_, err := store.OpenBolt(path, store.BoltOptions{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "store "+path+" is in use by another process") {
		t.Fatalf("second OpenBolt: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second OpenBolt took %v with a 100ms lock timeout", d)
	}
	if _, err := store.MoveAside(path); !errors.Is(err, store.ErrInUse) {
		t.Errorf("MoveAside of a store in use: %v, want ErrInUse", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("store in use moved: %v", err)
	}
}

// corruptCase writes a file that OpenBolt, Load or LoadQueue must refuse.
type corruptCase struct {
	name  string
	make  func(t *testing.T, path string)
	says  string
	newer bool
}

// populated makes a store with enough records that its buckets have their
// own pages.
func populated(t *testing.T, path string) {
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit(t, s, func(b *broker.Batch) {
		for i := range 300 {
			b.PutDelivery("c", delivery(uint64(i), bytes.Repeat([]byte{'x'}, 100)))
			b.PutSession(&broker.StoredSession{ClientID: fmt.Sprint("s", i)})
			b.PutRetained(&broker.Message{Topic: fmt.Sprint("r/", i)})
		}
	})
}

// withBolt runs fn on the raw bbolt file.
func withBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// garble overwrites n bytes at off.
func garble(t *testing.T, path string, off, n int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + 1)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

var corruptCases = []corruptCase{
	{name: "text file", says: "is corrupt", make: func(t *testing.T, path string) {
		os.WriteFile(path, []byte("persistence true\n"), 0o600)
	}},
	{name: "Mosquitto's file", says: "is a Mosquitto persistence file, which midge does not read", make: func(t *testing.T, path string) {
		// The start of a mosquitto.db written by Mosquitto 2.0.
		os.WriteFile(path, []byte("\x00\xb5\x00mosquitto db\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x01"), 0o600)
	}},
	{name: "short file", says: "is corrupt", make: func(t *testing.T, path string) {
		os.WriteFile(path, bytes.Repeat([]byte{0xAB}, 4096), 0o600)
	}},
	{name: "both meta pages", says: "is corrupt", make: func(t *testing.T, path string) {
		populated(t, path)
		garble(t, path, 0, 2*4096)
	}},
	{name: "every data page", says: "is corrupt", make: func(t *testing.T, path string) {
		populated(t, path)
		fi, _ := os.Stat(path)
		garble(t, path, 2*4096, fi.Size()-2*4096)
	}},
	{name: "queue root page", says: "is corrupt", make: func(t *testing.T, path string) {
		populated(t, path)
		var root int64
		withBolt(t, path, func(tx *bolt.Tx) error { root = int64(tx.Bucket([]byte("queue")).Root()); return nil })
		garble(t, path, root*4096, 4096)
	}},
	{name: "sessions root page", says: "is corrupt", make: func(t *testing.T, path string) {
		populated(t, path)
		var root int64
		withBolt(t, path, func(tx *bolt.Tx) error { root = int64(tx.Bucket([]byte("sessions")).Root()); return nil })
		garble(t, path, root*4096, 4096)
	}},
	{name: "malformed session record", says: `session "s1"`, make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("sessions")).Put([]byte("s1"), []byte{1, 5}) })
	}},
	{name: "unknown record format", says: "unknown record format 9", make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("retained")).Put([]byte("r/1"), []byte{9}) })
	}},
	{name: "malformed delivery", says: "delivery 7", make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("queue")).Put([]byte("c\x00\x00\x00\x00\x00\x00\x00\x00\x07"), []byte{2, 0, 1, 200})
		})
	}},
	{name: "foreign bbolt file", says: "is not a midge store", make: func(t *testing.T, path string) {
		withBolt(t, path, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("etcd")); return err })
	}},
	{name: "missing bucket", says: `bucket "queue" missing`, make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("queue")) })
	}},
	{name: "bad format version", says: `format version "x"`, make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("x")) })
	}},
	{name: "newer format", newer: true, says: "written by a newer midge (store format 4", make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("4")) })
	}},
	{name: "missing message", says: "message 8 missing", make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("messages")).Delete([]byte{0, 0, 0, 0, 0, 0, 0, 8})
		})
	}},
	{name: "malformed message", says: "message 9", make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("messages")).Put([]byte{0, 0, 0, 0, 0, 0, 0, 9}, []byte{1, 0})
		})
	}},
	{name: "bad message key", says: `key "x" in bucket "messages"`, make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("messages")).Put([]byte("x"), []byte{1}) })
	}},
	{name: "format 1 delivery in a format 2 store", says: "unknown record format 1", make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error {
			rec, err := store.EncodeDeliveryV1(delivery(7, []byte("x")))
			if err != nil {
				return err
			}
			return tx.Bucket([]byte("queue")).Put([]byte("c\x00\x00\x00\x00\x00\x00\x00\x00\x07"), rec)
		})
	}},
	{name: "missing messages bucket", says: `bucket "messages" missing`, make: func(t *testing.T, path string) {
		populated(t, path)
		withBolt(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("messages")) })
	}},
}

func TestBoltCorrupt(t *testing.T) {
	t.Parallel()
	for _, tc := range corruptCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "midge.db")
			tc.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The error comes from OpenBolt, Load or LoadQueue; never a panic.
			s, err := store.OpenBolt(path, store.BoltOptions{})
			if err == nil {
				err = loadAll(s)
				if err == nil {
					_, err = countQueue(t, s, "c")
				}
				s.Close()
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("got %v, want an error wrapping ErrCorrupt", err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.says) || !strings.Contains(msg, "midge broker --recover renames it to "+path+".corrupt-<time>") {
				t.Errorf("error %q does not say %q and how to move the file aside", msg, tc.says)
			}
			if tc.newer != strings.Contains(msg, "run that version of midge") {
				t.Errorf("error %q: hint for a newer format wrong", msg)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(before, after) {
				t.Fatalf("the refused file was changed (%v)", err)
			}
			// --recover: move it aside and start afresh.
			moved, err := store.MoveAside(path)
			if err != nil {
				t.Fatalf("MoveAside: %v", err)
			}
			if !strings.HasPrefix(moved, path+".corrupt-") {
				t.Errorf("moved to %s", moved)
			}
			if kept, err := os.ReadFile(moved); err != nil || !bytes.Equal(kept, before) {
				t.Errorf("moved file differs (%v)", err)
			}
			s = mustOpen(t, path)
			if err := loadAll(s); err != nil {
				t.Errorf("Load of the new store: %v", err)
			}
		})
	}
}

// An empty store file is damage, not a new store: midge makes its store
// files whole (issue 12.3). It is refused, left as it is, and MoveAside
// makes room for a new store.
func TestBoltEmptyFileIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.OpenBolt(path, store.BoltOptions{})
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), path+" is corrupt (it is empty (0 bytes)") {
		t.Fatalf("OpenBolt of an empty file: %v, want ErrCorrupt naming the file", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file was changed: %v %v", fi, err)
	}
	if _, err := store.MoveAside(path); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	if err := loadAll(s); err != nil {
		t.Fatal(err)
	}
}

func TestMoveAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "midge.db")
	if _, err := store.MoveAside(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MoveAside of a missing file: %v", err)
	}
	var moved []string
	for i := range 3 {
		if err := os.WriteFile(path, []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := store.MoveAsideAt(path, time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		moved = append(moved, m)
	}
	want := []string{path + ".corrupt-20250102T150405Z", path + ".corrupt-20250102T150405Z-2", path + ".corrupt-20250102T150405Z-3"}
	for i := range want {
		if moved[i] != want[i] {
			t.Errorf("moved to %s, want %s", moved[i], want[i])
		}
		if b, err := os.ReadFile(want[i]); err != nil || len(b) != 1 || b[0] != byte(i) {
			t.Errorf("%s: %v %v", want[i], b, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still at %s: %v", path, err)
	}
}

func TestBoltMeta(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	s, err := store.OpenBolt(path, store.BoltOptions{CreatedBy: "midge 9.9"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v (%v), want 0600", fi.Mode(), err)
	}
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		var names []string
		tx.ForEach(func(name []byte, _ *bolt.Bucket) error { names = append(names, string(name)); return nil })
		if got := strings.Join(names, " "); got != "inbound messages meta queue refs retained sessions" {
			t.Errorf("buckets %q", got)
		}
		meta := tx.Bucket([]byte("meta"))
		if f, c := string(meta.Get([]byte("format"))), string(meta.Get([]byte("created-by"))); f != "3" || c != "midge 9.9" {
			t.Errorf("meta format %q, created-by %q", f, c)
		}
		return nil
	})
}

// TestBoltDiskFull fills a 2 MiB tmpfs: Commit must fail with the write
// error, leave the store as it was (readable, though the B+tree cannot take
// what the write-ahead log holds), and work again once there is room: as
// much again as the log holds, which a checkpoint copies into the B+tree.
func TestBoltDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, 0, "size=2m")
	path := filepath.Join(dir, "midge.db")
	// Room to give back later.
	reserve := filepath.Join(dir, "reserve")
	if err := os.WriteFile(reserve, make([]byte, 1536<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	payload := bytes.Repeat([]byte{'p'}, 4000)
	var seq uint64
	var err error
	for range 200 {
		b := &broker.Batch{}
		for range 4 {
			b.PutDelivery("c", delivery(seq+uint64(b.Len()), payload))
		}
		if err = s.Commit(context.Background(), b, true); err != nil {
			break
		}
		seq += 4
	}
	if err == nil {
		t.Fatalf("%d deliveries of 4 KB fit in a 512 KiB file system", seq)
	}
	t.Logf("after %d deliveries: %v", seq, err)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "free space on the device") {
		t.Errorf("Commit on a full disk: %v, want ENOSPC with a hint", err)
	}
	// The store is as it was after the last successful commit.
	if n, err := countQueue(t, s, "c"); err != nil || n != int(seq) {
		t.Fatalf("after the failed commit: %d deliveries (%v), want %d", n, err, seq)
	}
	// Free space: the store works again without a restart.
	if err := os.Remove(reserve); err != nil {
		t.Fatal(err)
	}
	commit(t, s, func(b *broker.Batch) { b.PutDelivery("c", delivery(seq, payload)) })
	commit(t, s, func(b *broker.Batch) { b.DeleteDelivery("c", 0) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	if n, err := countQueue(t, s, "c"); err != nil || n != int(seq) {
		t.Fatalf("after reopening: %d deliveries (%v), want %d", n, err, seq)
	}
}

// TestBoltKill9 kills a process that commits and reports each acknowledged
// commit: every acknowledged delivery must be in the store afterwards.
func TestBoltKill9(t *testing.T) {
	if path := os.Getenv("MIDGE_STORE_KILL9_CHILD"); path != "" {
		kill9Child(path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "midge.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltKill9$")
	cmd.Env = append(os.Environ(), "MIDGE_STORE_KILL9_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() && acked < 40 {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			acked = n
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 40 {
		t.Fatalf("child acknowledged %d commits", acked)
	}
	s := mustOpen(t, path)
	var got []uint64
	if err := s.LoadQueue(context.Background(), "c", func(d *broker.StoredDelivery) error {
		got = append(got, d.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) < acked+1 {
		t.Fatalf("%d deliveries after kill -9, %d acknowledged", len(got), acked+1)
	}
	for i, seq := range got {
		if seq != uint64(i) {
			t.Fatalf("deliveries after kill -9: %v", got)
		}
	}
}

// kill9Child commits one delivery at a time, printing each sequence number
// once Commit returned, until it is killed.
func kill9Child(path string) {
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for seq := uint64(0); ; seq++ {
		b := &broker.Batch{}
		b.PutDelivery("c", delivery(seq, []byte("acknowledged")))
		if err := s.Commit(context.Background(), b, true); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(seq)
	}
}
