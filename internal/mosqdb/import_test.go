package mosqdb_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/mosqdb"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// importInto parses b, imports it into a new memory store and starts a
// broker on it.
func importInto(t *testing.T, b []byte) (*testutil.Broker, mosqdb.Imported) {
	t.Helper()
	f, err := mosqdb.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// The file's sessions went offline when it was written and expire an
	// interval later: the import and the broker run on a clock that stands
	// just after the last of them went offline, so that a session does not
	// expire only because the fixture has grown old.
	now := time.Now()
	var offline int64
	for _, ch := range f.Chunks {
		if c := ch.Client; c != nil && c.SessionExpiryTime != 0 && c.SessionExpiryInterval != 0xFFFFFFFF {
			offline = max(offline, c.SessionExpiryTime-int64(c.SessionExpiryInterval))
		}
	}
	if offline != 0 {
		now = time.Unix(offline+1, 0)
	}
	clock := func() time.Time { return now }
	st := store.NewMemory()
	n, err := mosqdb.Import(context.Background(), st, f, mosqdb.ImportOptions{Now: now, Listener: func(port uint16) string { return "listener-" + strconv.Itoa(int(port)) }})
	if err != nil {
		t.Fatal(err)
	}
	return testutil.StartBroker(t, broker.Config{Store: st, AllowAnonymous: true, Now: clock}), n
}

func expectPublish(t *testing.T, c *testutil.Client, topic, payload string, qos byte, pid uint16, dup bool) *packet.Publish {
	t.Helper()
	p := testutil.Expect[*packet.Publish](c)
	if p.Topic != topic || string(p.Payload) != payload || p.QoS != qos || p.Dup != dup || (pid != 0 && p.PacketID != pid) {
		t.Fatalf("got PUBLISH %q %q QoS %d id %d dup %v, want %q %q QoS %d id %d dup %v",
			p.Topic, p.Payload, p.QoS, p.PacketID, p.Dup, topic, payload, qos, pid, dup)
	}
	return p
}

// TestImportVersions imports the sample of every version and checks, through
// a broker on the store, that the session resumes where Mosquitto left it:
// in-flight messages are resent with their packet ids and DUP, the queued
// one follows, the incoming QoS 2 message was delivered and its PUBREL is
// answered, and the retained message is there.
func TestImportVersions(t *testing.T) {
	for _, v := range []uint32{3, 4, 5, 6} {
		t.Run(string(rune('0'+v)), func(t *testing.T) {
			b, n := importInto(t, sample(v))
			want := mosqdb.Imported{Retained: 1, Sessions: 1, Subscriptions: 2, Queued: 1, InFlight: 2, Incoming: 1}
			if n != want {
				t.Fatalf("imported %+v, want %+v", n, want)
			}
			c := testutil.Dial(t, b.Addr, packet.Version311)
			ack := c.Connect(&packet.Connect{ClientID: "s1", KeepAlive: 60})
			if !ack.SessionPresent {
				t.Fatal("no session present")
			}
			expectPublish(t, c, "a/b", "in flight 2", 2, 7, true)
			expectPublish(t, c, "a/c", "in flight 1", 1, 8, true)
			q := expectPublish(t, c, "a/d", "queued", 1, 0, false)
			in := expectPublish(t, c, "a/in", "incoming", 2, 0, false)
			c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: 7})
			if a := testutil.Expect[*packet.Ack](c); a.Kind != packet.TypePubrel || a.PacketID != 7 {
				t.Fatalf("got %v %d, want PUBREL 7", a.Kind, a.PacketID)
			}
			c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: 7})
			c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: 8})
			c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: q.PacketID})
			c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: in.PacketID})
			if a := testutil.Expect[*packet.Ack](c); a.Kind != packet.TypePubrel || a.PacketID != in.PacketID {
				t.Fatalf("got %v %d, want PUBREL %d", a.Kind, a.PacketID, in.PacketID)
			}
			c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: in.PacketID})
			// The client's own QoS 2 PUBLISH (id 3) awaited PUBREL.
			c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 3})
			if a := testutil.Expect[*packet.Ack](c); a.Kind != packet.TypePubcomp || a.PacketID != 3 {
				t.Fatalf("got %v %d, want PUBCOMP 3", a.Kind, a.PacketID)
			}
			r, _ := testutil.Connect(t, b.Addr, packet.Version311, "reader")
			r.Subscribe(1, "r/#", 1)
			p := expectPublish(t, r, "r/t", "kept", 1, 0, false)
			if !p.Retain {
				t.Error("retained message without RETAIN")
			}
		})
	}
}

// TestImportMosquitto2011 imports the file Debian's mosquitto 2.0.11 wrote
// and resumes both its sessions.
func TestImportMosquitto2011(t *testing.T) {
	raw, err := os.ReadFile(real2011)
	if err != nil {
		t.Fatal(err)
	}
	b, n := importInto(t, raw)
	want := mosqdb.Imported{Retained: 1, Sessions: 2, Subscriptions: 3, Queued: 4}
	if n != want {
		t.Fatalf("imported %+v, want %+v", n, want)
	}
	c := testutil.Dial(t, b.Addr, packet.Version311)
	if !c.Connect(&packet.Connect{ClientID: "sub311", KeepAlive: 60}).SessionPresent {
		t.Fatal("sub311: no session present")
	}
	expectPublish(t, c, "a/1", "one", 1, 0, false)
	expectPublish(t, c, "a/2", "two", 2, 0, false)
	expectPublish(t, c, "b/x", "retained-b", 2, 0, false)

	c5 := testutil.Dial(t, b.Addr, packet.Version5)
	if !c5.Connect(&packet.Connect{ClientID: "sub5", KeepAlive: 60}).SessionPresent {
		t.Fatal("sub5: no session present")
	}
	p := expectPublish(t, c5, "v5/x", "five", 1, 0, false)
	pr := p.Properties
	if pr.ContentType != "text/plain" || pr.ResponseTopic != "resp/t" || string(pr.CorrelationData) != "0102" ||
		len(pr.User) != 1 || pr.User[0].Key != "k" || len(pr.SubscriptionIDs) != 1 || pr.SubscriptionIDs[0] != 7 {
		t.Errorf("properties %+v", pr)
	}

	r, _ := testutil.Connect(t, b.Addr, packet.Version311, "reader")
	r.Subscribe(1, "#", 2)
	if p := expectPublish(t, r, "b/x", "retained-b", 2, 0, false); !p.Retain {
		t.Error("retained message without RETAIN")
	}
}

// TestImportExpired leaves out expired messages and their deliveries, and
// records naming no message or a message whose topic is not a topic name.
func TestImportExpired(t *testing.T) {
	old := time.Now().Add(-time.Hour).Unix()
	raw := newBuilder(6).cfg(2, true).
		msg(msg{id: 1, topic: "x", qos: 1, retain: true, payload: "old", expiry: old}).
		msg(msg{id: 2, topic: "x", qos: 1, payload: "new"}).
		client("c", "", 0, 0xFFFFFFFF, 0).
		cmsg(cmsg{client: "c", id: 1, mid: 1, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued}).
		cmsg(cmsg{client: "c", id: 2, mid: 2, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued}).
		cmsg(cmsg{client: "c", id: 9, mid: 3, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued}).
		msg(msg{id: 3, topic: "bad/+", qos: 1, payload: "wildcard"}).
		cmsg(cmsg{client: "c", id: 3, mid: 4, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued}).
		retain(1).retain(3).bytes()
	_, n := importInto(t, raw)
	want := mosqdb.Imported{Sessions: 1, Queued: 1, Expired: 1, Dropped: 3}
	if n != want {
		t.Fatalf("imported %+v, want %+v", n, want)
	}
}

func testLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestMigrationOnce imports once, leaves the source as it was, records the
// import, and does not import again.
func TestMigrationOnce(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "mosquitto.db")
	raw := sample(6)
	if err := os.WriteFile(src, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "midge.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log bytes.Buffer
	m := mosqdb.Migration{Source: src, Marker: path + mosqdb.MarkerSuffix, Store: st, Log: testLogger(&log)}
	done, err := m.Run(context.Background())
	if err != nil || !done {
		t.Fatalf("Run: %v, %v", done, err)
	}
	if !strings.Contains(log.String(), "Imported Mosquitto persistence file "+src+" (version 6): 1 retained messages, 1 sessions") {
		t.Errorf("log: %s", log.String())
	}
	if _, err := os.Stat(m.Marker); err != nil {
		t.Fatal(err)
	}
	// Empty the store: the marker alone prevents a second import.
	var b broker.Batch
	b.DeleteRetained("r/t")
	b.DeleteSession("s1")
	if err := st.Commit(context.Background(), &b, true); err != nil {
		t.Fatal(err)
	}
	// runAgain runs the migration again: it imports nothing and logs
	// wantLog.
	runAgain := func(which, wantLog string) {
		t.Helper()
		log.Reset()
		if done, err := m.Run(context.Background()); err != nil || done {
			t.Fatalf("%s Run: %v, %v", which, done, err)
		}
		if !strings.Contains(log.String(), wantLog) {
			t.Errorf("%s Run's log: %s", which, log.String())
		}
	}
	runAgain("second", "not importing it again")
	// A changed source is reported, not imported.
	if err := os.WriteFile(src, sample(5), 0o600); err != nil {
		t.Fatal(err)
	}
	runAgain("third", "has changed since midge imported it")
	if got, _ := os.ReadFile(src); !bytes.Equal(got, sample(5)) {
		t.Error("the source file changed")
	}
}

// TestMigrationSourceUnchanged: the import leaves the file's bytes alone.
func TestMigrationSourceUnchanged(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "mosquitto.db")
	raw, err := os.ReadFile(real2011)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	fi0, _ := os.Stat(src)
	var log bytes.Buffer
	m := mosqdb.Migration{Source: src, Marker: filepath.Join(dir, "midge.db"+mosqdb.MarkerSuffix), Store: store.NewMemory(), Log: testLogger(&log)}
	if done, err := m.Run(context.Background()); err != nil || !done {
		t.Fatalf("Run: %v, %v", done, err)
	}
	got, _ := os.ReadFile(src)
	fi1, _ := os.Stat(src)
	if !bytes.Equal(got, raw) || !fi1.ModTime().Equal(fi0.ModTime()) || fi1.Mode() != fi0.Mode() {
		t.Error("the source file changed")
	}
}

// TestMigrationStoreNotEmpty: a store that holds anything is not imported
// into.
func TestMigrationStoreNotEmpty(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "mosquitto.db")
	if err := os.WriteFile(src, sample(6), 0o600); err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	var b broker.Batch
	b.PutRetained(&broker.Message{Topic: "mine", Payload: []byte("x"), Retain: true})
	if err := st.Commit(context.Background(), &b, true); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	m := mosqdb.Migration{Source: src, Marker: filepath.Join(dir, "m"), Store: st, Log: testLogger(&log)}
	if done, err := m.Run(context.Background()); err != nil || done {
		t.Fatalf("Run: %v, %v", done, err)
	}
	if !strings.Contains(log.String(), "not importing "+src+": midge's store already holds") {
		t.Errorf("log: %s", log.String())
	}
}

// TestMigrationUnreadable: a damaged source stops the migration with an
// error that names it, and nothing is imported or recorded.
func TestMigrationUnreadable(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "mosquitto.db")
	raw := sample(6)
	if err := os.WriteFile(src, raw[:len(raw)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	var log bytes.Buffer
	m := mosqdb.Migration{Source: src, Marker: filepath.Join(dir, "m"), Store: st, Log: testLogger(&log)}
	done, err := m.Run(context.Background())
	if err == nil || done || !strings.HasPrefix(err.Error(), src+": truncated DB_CHUNK_RETAIN") {
		t.Fatalf("Run: %v, %v", done, err)
	}
	if _, err := os.Stat(m.Marker); err == nil {
		t.Error("marker written")
	}
	sessions := 0
	if err := st.Load(context.Background(), broker.Loader{MaxMessageID: func(uint64) error { return nil },
		Session: func(*broker.StoredSession) error { sessions++; return nil }}); err != nil || sessions != 0 {
		t.Errorf("store: %d sessions, %v", sessions, err)
	}
}

// TestImportSessionRecord checks the session record itself: username,
// listener (from the port, version 6), expiry and protocol version.
func TestImportSessionRecord(t *testing.T) {
	f, err := mosqdb.Parse(newBuilder(6).
		client("s1", "bob", 0, 0xFFFFFFFF, 8).
		client("s5", "", 2000003600, 3600, 1).
		sub("s1", "a/#", 1, 0, 0).bytes())
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	names := map[uint16]string{1883: "127.0.0.1:1883"}
	if _, err := mosqdb.Import(context.Background(), st, f, mosqdb.ImportOptions{Listener: func(p uint16) string { return names[p] }}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*broker.StoredSession{}
	if err := st.Load(context.Background(), broker.Loader{MaxMessageID: func(uint64) error { return nil },
		Session: func(s *broker.StoredSession) error { got[s.ClientID] = s; return nil }}); err != nil {
		t.Fatal(err)
	}
	s1, s5 := got["s1"], got["s5"]
	if s1 == nil || s1.Username != "bob" || !s1.HasUsername || s1.Listener != "127.0.0.1:1883" || s1.Expiry != 0xFFFFFFFF ||
		s1.Version != packet.Version311 || len(s1.Subscriptions) != 1 || s1.Subscriptions[0].QoS != 1 {
		t.Errorf("s1: %+v", s1)
	}
	if s5 == nil || s5.HasUsername || s5.Expiry != 3600 || s5.Version != packet.Version5 || !s5.OfflineSince.Equal(time.Unix(2000000000, 0)) {
		t.Errorf("s5: %+v", s5)
	}
}

// TestMigrationUnreadableFile: a source midge cannot read (here a
// directory, which even root cannot read as a file) stops the migration
// with the OS's error, which names it.
func TestMigrationUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "mosquitto.db")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	m := mosqdb.Migration{Source: src, Marker: filepath.Join(dir, "m"), Store: store.NewMemory(), Log: testLogger(&bytes.Buffer{})}
	if _, err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), src) {
		t.Fatalf("Run: %v", err)
	}
}
