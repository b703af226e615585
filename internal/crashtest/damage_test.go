package crashtest_test

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store/storetest"
)

// damageFixture is a broker configuration with persistence in its own
// directory.
type damageFixture struct {
	*brokerConf
	db, wal string
}

func newDamageFixture(t *testing.T, bin string) *damageFixture {
	t.Helper()
	c := newBrokerConf(t, bin, t.TempDir())
	return &damageFixture{brokerConf: c, db: filepath.Join(c.dir, "midge.db"), wal: filepath.Join(c.dir, "midge.db-wal")}
}

const (
	damageQueued   = 3000 // acknowledged QoS 1 messages queued for an offline subscriber
	damageRetained = 50   // acknowledged retained messages
)

// fill starts the broker, queues damageQueued acknowledged messages for the
// offline persistent subscriber "keeper" and stores damageRetained retained
// messages, then stops the broker: with SIGKILL if crash, else SIGTERM.
func (f *damageFixture) fill(t *testing.T, crash bool) {
	t.Helper()
	b := f.start(t)
	defer b.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keeper, err := dial(ctx, f.addr, "keeper", "")
	if err != nil {
		t.Fatal(err)
	}
	keeper.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "d/#", QoS: 1}}})
	if err := keeper.flush(); err != nil {
		t.Fatal(err)
	}
	if pk, err := keeper.r.ReadPacket(); err != nil {
		t.Fatal(err)
	} else if _, ok := pk.(*packet.Suback); !ok {
		t.Fatalf("SUBACK expected, got %v", pk)
	}
	keeper.close()
	pub, err := dial(ctx, f.addr, "filler", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.close()
	go func() { <-ctx.Done(); pub.close() }()
	// In rounds, each waiting for its acknowledgements, so that the log
	// holds several records.
	total := damageQueued + damageRetained
	const rounds = 10
	for r := range rounds {
		from, to := r*total/rounds+1, (r+1)*total/rounds
		for i := from; i <= to; i++ {
			p := &packet.Publish{Topic: "d/" + strconv.Itoa(i), QoS: 1, PacketID: uint16(i), Payload: []byte(strconv.Itoa(i))}
			if i > damageQueued {
				p.Topic, p.Retain = "r/"+strconv.Itoa(i), true
			}
			pub.send(p)
		}
		if err := pub.flush(); err != nil {
			t.Fatal(err)
		}
		for acked := from; acked <= to; {
			pk, err := pub.r.ReadPacket()
			if err != nil {
				t.Fatalf("after %d PUBACKs: %v", acked-1, err)
			}
			if a, ok := pk.(*packet.Ack); ok && a.Kind == packet.TypePuback {
				acked++
			}
		}
	}
	if crash {
		b.kill()
		return
	}
	if err := b.stop(); err != nil {
		t.Fatalf("broker stopped with %v\n%s", err, b.log())
	}
}

// count starts nothing: with the broker running at f.addr, it returns how
// many queued messages "keeper" receives and how many retained messages a
// new subscriber to r/# receives.
func (f *damageFixture) count(t *testing.T) (queued, retained int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	read := func(id, filter string, want int) int {
		c, err := dial(ctx, f.addr, id, "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		go func() { <-ctx.Done(); c.close() }()
		c.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: filter, QoS: 1}}})
		c.flush()
		got := make(map[string]bool)
		for len(got) < want {
			// A message short means the wait ends at the deadline, and
			// the count says what arrived.
			pk, err := c.r.ReadPacket()
			if err != nil {
				break
			}
			if p, ok := pk.(*packet.Publish); ok {
				got[string(p.Payload)] = true
				if p.QoS == 1 {
					c.send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
					c.flush()
				}
			}
		}
		return len(got)
	}
	return read("keeper", "d/#", damageQueued), read("counter", "r/#", damageRetained)
}

// startFails runs the broker, which must exit with a failure status before
// it serves, and returns what it wrote. (It opens its listener before the
// store: a port another process took meanwhile is chosen anew.)
func (f *damageFixture) startFails(t *testing.T) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		f.write(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, f.bin, "broker", "-c", f.conf).CombinedOutput()
		expired := ctx.Err() != nil
		cancel()
		if expired {
			t.Fatalf("the broker started on damaged files:\n%s", out)
		}
		if attempt < 5 && strings.Contains(string(out), "address already in use") {
			continue
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
			t.Fatalf("broker: %v, want a failure status\n%s", err, out)
		}
		return string(out)
	}
}

// Damage to the store file or its log, which lost acknowledged messages
// without a word (issue 12.3), stops the broker's start with an error that
// names the file and says what is wrong, and leaves the files as they are;
// --recover moves them aside and starts with an empty store.
func TestDamagedStoreStopsStart(t *testing.T) {
	bin := buildMidge(t)
	for _, tc := range []struct {
		name   string
		crash  bool
		damage func(t *testing.T, f *damageFixture)
		file   string // the file the error names: "" the store file, "-wal" its log
		says   string
	}{
		{"log flipped in the middle", true, func(t *testing.T, f *damageFixture) {
			// In the middle of its records, not in the last: a final
			// record that fails its checksum is the torn write of a
			// crash, which is dropped.
			offs, end := storetest.WALRecords(t, []byte(testutil.ReadFile(t, f.wal)))
			offs = append(offs, end)
			if len(offs) < 3 {
				t.Fatalf("%d records in the log", len(offs)-1)
			}
			i := (len(offs) - 2) / 2
			flipAt(t, f.wal, (offs[i]+offs[i+1])/2-32, 64)
		}, "-wal", "is damaged, and record"},
		{"log truncated", true, func(t *testing.T, f *damageFixture) {
			if err := os.Truncate(f.wal, int64(written([]byte(testutil.ReadFile(t, f.wal)))/2)); err != nil {
				t.Fatal(err)
			}
		}, "-wal", "truncated"},
		{"log deleted", true, func(t *testing.T, f *damageFixture) {
			os.Remove(f.wal)
		}, "-wal", "is missing"},
		{"log deleted after a clean stop", false, func(t *testing.T, f *damageFixture) {
			os.Remove(f.wal)
		}, "-wal", "is missing"},
		{"store file deleted beside a live log", true, func(t *testing.T, f *damageFixture) {
			os.Remove(f.db)
		}, "", "is missing, but its write-ahead log"},
		{"store file emptied", false, func(t *testing.T, f *damageFixture) {
			os.Truncate(f.db, 0)
		}, "", "is empty"},
		{"store file's root page flipped", false, func(t *testing.T, f *damageFixture) {
			off := newestMetaAt(t, f.db)
			root := binary.LittleEndian.Uint64([]byte(testutil.ReadFile(t, f.db))[off+32:])
			flipAt(t, f.db, int(root)*4096+16, 64)
		}, "", "is corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDamageFixture(t, bin)
			f.fill(t, tc.crash)
			tc.damage(t, f)
			out := f.startFails(t)
			if !strings.Contains(out, f.db+tc.file+" ") || !strings.Contains(out, tc.says) || !strings.Contains(out, "--recover") {
				t.Errorf("the broker's error does not name %s and say %q:\n%s", f.db+tc.file, tc.says, out)
			}
			b := f.start(t, "--recover")
			defer b.kill()
			if log := waitLog(t, b, "running"); !strings.Contains(log, "moved it to "+f.db+".corrupt-") {
				t.Errorf("--recover did not say where it moved the files:\n%s", log)
			}
			moved, _ := filepath.Glob(f.db + ".corrupt-*")
			if len(moved) == 0 {
				t.Errorf("nothing moved aside: %v", moved)
			}
		})
	}
}

// A torn final record of the log, the write a kill interrupted, is dropped
// with a warning, and every acknowledged message is there.
func TestTornFinalRecordIsDropped(t *testing.T) {
	bin := buildMidge(t)
	f := newDamageFixture(t, bin)
	f.fill(t, true)
	data := []byte(testutil.ReadFile(t, f.wal))
	offs, end := storetest.WALRecords(t, data)
	last := offs[len(offs)-1]
	// The next record's header (length, checksum, sequence number one
	// more than the last record's) and the first bytes of its body.
	torn := make([]byte, 20)
	binary.LittleEndian.PutUint32(torn[0:], 200)
	binary.LittleEndian.PutUint32(torn[4:], 0x01020304)
	binary.LittleEndian.PutUint64(torn[8:], binary.LittleEndian.Uint64(data[last+8:])+1)
	copy(torn[16:], "half")
	fh, err := os.OpenFile(f.wal, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(torn, int64(end)); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	b := f.start(t)
	defer b.kill()
	if log := waitLog(t, b, "running"); !strings.Contains(log, "dropped the torn final record of its write-ahead log") {
		t.Errorf("the dropped record was not logged:\n%s", log)
	}
	if q, r := f.count(t); q != damageQueued || r != damageRetained {
		t.Errorf("after the restart: %d of %d queued messages, %d of %d retained", q, damageQueued, r, damageRetained)
	}
}

// A broker with persistence starts on an empty directory, and a kill loses
// no acknowledged message.
func TestFreshStartAndKill(t *testing.T) {
	bin := buildMidge(t)
	f := newDamageFixture(t, bin)
	f.fill(t, true)
	b := f.start(t)
	defer b.kill()
	if q, r := f.count(t); q != damageQueued || r != damageRetained {
		t.Errorf("after the restart: %d of %d queued messages, %d of %d retained", q, damageQueued, r, damageRetained)
	}
	if log := waitLog(t, b, "running"); strings.Contains(log, "Warning: store") {
		t.Errorf("store warnings after a kill:\n%s", log)
	}
}

// written returns the offset after the last byte of data that is not zero:
// the end of what the log's records cover.
func written(data []byte) int {
	n := len(data)
	for n > 0 && data[n-1] == 0 {
		n--
	}
	return n
}

// flipAt inverts n bytes of the file at name from off.
func flipAt(t *testing.T, name string, off, n int) {
	t.Helper()
	fh, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b := make([]byte, n)
	if _, err := fh.ReadAt(b, int64(off)); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xff
	}
	if _, err := fh.WriteAt(b, int64(off)); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the broker's log has a line with s and returns the
// log.
func waitLog(t *testing.T, b *broker, s string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		log := b.log()
		if strings.Contains(log, s) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the broker's log:\n%s", s, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newestMetaAt returns the offset of the meta page of the newest bbolt
// transaction of the file at path (4096-byte pages).
func newestMetaAt(t *testing.T, path string) int {
	t.Helper()
	data := []byte(testutil.ReadFile(t, path))
	txid := func(off int) uint64 { return binary.LittleEndian.Uint64(data[off+16+48:]) }
	if txid(4096) > txid(0) {
		return 4096
	}
	return 0
}

// A damaged meta page of the store file whose transaction the log still
// holds (as a power cut during a checkpoint leaves it) loses nothing: the
// broker starts with a warning that names the file and the page, with
// every acknowledged message.
func TestDamagedMetaPageCoveredByLog(t *testing.T) {
	bin := buildMidge(t)
	f := newDamageFixture(t, bin)
	f.fill(t, false)
	flipAt(t, f.db, newestMetaAt(t, f.db)+20, 64)
	b := f.start(t)
	defer b.kill()
	if log := waitLog(t, b, "running"); !strings.Contains(log, "Warning: store "+f.db+": meta page") {
		t.Errorf("the damaged meta page was not logged:\n%s", log)
	}
	if q, r := f.count(t); q != damageQueued || r != damageRetained {
		t.Errorf("after the restart: %d of %d queued messages, %d of %d retained", q, damageQueued, r, damageRetained)
	}
}
