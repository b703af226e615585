package mosqdb_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/mosqdb"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const real2011 = "testdata/mosquitto-2.0.11.db"

// TestDumpMosquitto2011 reads the file Mosquitto 2.0.11 wrote and compares
// its dumps with the golden files.
func TestDumpMosquitto2011(t *testing.T) {
	f, err := mosqdb.ReadFile(real2011)
	if err != nil {
		t.Fatal(err)
	}
	var text, warn, js bytes.Buffer
	if err := f.WriteText(&text, &warn); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %s", warn.String())
	}
	golden(t, "testdata/mosquitto-2.0.11.dump.golden", text.Bytes())
	golden(t, "testdata/mosquitto-2.0.11.json.golden", js.Bytes())
	for _, want := range []string{
		"DB version: 6\n",
		"DB_CHUNK_CLIENT:\n\tLength: 30\n\tClient ID: sub311\n\tListener port: 18835\n",
		"\tSession expiry interval: 4294967295\n",
		"\tTopic: v5/#\n\tQoS: 1\n\tSubscription ID: 7\n\tOptions: 0x0C\n",
		"\tSubscription identifier: 7\n",
		"\tTopic: b/x\n\tQoS: 2\n\tRetain: 1\n\tPayload Length: 10\n\tExpiry Time: 0\n\tPayload: retained-b\n",
		"\tProperties:\n\t\tContent type: text/plain\n\t\tResponse topic: resp/t\n\t\tCorrelation data: 30313032\n\t\tUser property: k , v\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("dump lacks %q", want)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s", path, got)
	}
}

// TestVersions reads the same content in each format version.
func TestVersions(t *testing.T) {
	for _, v := range []uint32{2, 3, 4, 5, 6} {
		f, err := mosqdb.Parse(sample(v))
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if f.Version != v || len(f.Chunks) != 14 {
			t.Fatalf("version %d: got version %d, %d chunks", v, f.Version, len(f.Chunks))
		}
		c := f.Chunks
		if c[0].Cfg == nil || c[0].Cfg.LastDBID != 10 || !c[0].Cfg.Shutdown {
			t.Errorf("version %d: cfg %+v", v, c[0].Cfg)
		}
		m := c[1].BaseMsg
		if m == nil || m.StoreID != 1 || m.Topic != "r/t" || string(m.Payload) != "kept" || !m.Retain || m.QoS != 1 || m.SourceID != "pub" {
			t.Errorf("version %d: message %+v", v, m)
		}
		if v >= 4 && (m.SourceUsername != "alice" || m.SourcePort != 1883) {
			t.Errorf("version %d: message source %q:%d", v, m.SourceUsername, m.SourcePort)
		}
		cl := c[6].Client
		if cl == nil || cl.ClientID != "s1" || cl.LastMID != 8 || cl.SessionExpiryInterval != 0xFFFFFFFF {
			t.Errorf("version %d: client %+v", v, cl)
		}
		if v == 6 && cl.Username != "bob" {
			t.Errorf("version 6: username %q", cl.Username)
		}
		cm := c[8].ClientMsg
		if cm == nil || cm.ClientID != "s1" || cm.StoreID != 2 || cm.MID != 7 || cm.QoS != 2 || cm.Direction != mosqdb.Out || cm.State != mosqdb.StateWaitForPubrec {
			t.Errorf("version %d: client message %+v", v, cm)
		}
		s := c[11].Sub
		if s == nil || s.ClientID != "s1" || s.Topic != "a/#" || s.QoS != 2 {
			t.Errorf("version %d: sub %+v", v, s)
		}
		if r := c[13].Retain; r == nil || r.StoreID != 1 {
			t.Errorf("version %d: retain %+v", v, r)
		}
	}
}

// TestResponseTopicWildcard refuses a Response Topic with a wildcard, as
// the MQTT decoder does [MQTT-3.3.2-14]: such a message could be neither
// forwarded nor stored (found by FuzzParse).
func TestResponseTopicWildcard(t *testing.T) {
	props := []byte{0, 0x08, 0, 3, 'r', '/', '#'}
	props[0] = byte(len(props) - 1)
	b := newBuilder(6).cfg(1, true).
		msg(msg{id: 1, topic: "t", qos: 1, payload: "p", props: props}).bytes()
	_, err := mosqdb.Parse(b)
	var e *mosqdb.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "response topic") {
		t.Fatalf("Parse = %v, want an *Error about the response topic", err)
	}
}

// TestProperties reads a version 6 message's properties and a client
// message's subscription identifier.
func TestProperties(t *testing.T) {
	props := []byte{0, 0x01, 1, 0x03, 0, 2, 't', 'x', 0x08, 0, 1, 'r', 0x09, 0, 2, 0xAB, 0xCD, 0x26, 0, 1, 'k', 0, 1, 'v'}
	props[0] = byte(len(props) - 1)
	b := newBuilder(6).cfg(1, true).
		msg(msg{id: 1, topic: "t", qos: 1, payload: "p", expiry: 1700000000, props: props}).
		cmsg(cmsg{client: "c", id: 1, mid: 1, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued, subID: 9}).
		sub("c", "t", 1, 0x0C, 9).bytes()
	f, err := mosqdb.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Chunks[1].BaseMsg
	p := m.Properties
	if p == nil || p.PayloadFormat != 1 || p.ContentType != "tx" || p.ResponseTopic != "r" ||
		!bytes.Equal(p.CorrelationData, []byte{0xAB, 0xCD}) || len(p.User) != 1 || p.User[0] != (packet.UserProperty{Key: "k", Value: "v"}) {
		t.Errorf("properties %+v", p)
	}
	if m.ExpiryTime != 1700000000 {
		t.Errorf("expiry %d", m.ExpiryTime)
	}
	if id := f.Chunks[2].ClientMsg.SubscriptionID; id != 9 {
		t.Errorf("subscription identifier %d", id)
	}
	if s := f.Chunks[3].Sub; !s.NoLocal() || !s.RetainAsPublished() || s.Identifier != 9 {
		t.Errorf("sub %+v", s)
	}
}

// TestUnknownChunk skips a chunk of an unknown type, as Mosquitto does, and
// says so in the dump.
func TestUnknownChunk(t *testing.T) {
	b := newBuilder(6).cfg(1, true).chunk(99, []byte("future")).retain(1).bytes()
	f, err := mosqdb.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Chunks) != 3 || f.Chunks[2].Retain == nil {
		t.Fatalf("chunks %+v", f.Chunks)
	}
	var out, warn bytes.Buffer
	if err := f.WriteText(&out, &warn); err != nil {
		t.Fatal(err)
	}
	if want := "Warning: Unsupported chunk \"99\" of length 6 in persistent database file at position 55. Ignoring.\n"; warn.String() != want {
		t.Errorf("warning %q, want %q", warn.String(), want)
	}
}

// TestErrors: a file midge cannot read is an *Error that names the file and
// says what is wrong.
func TestErrors(t *testing.T) {
	good := sample(6)
	setVersion := func(v uint32) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint32(b[19:], v)
		return b
	}
	badCRC := bytes.Clone(good)
	badCRC[18] = 1
	badQoS := newBuilder(6).msg(msg{id: 1, topic: "t", qos: 3}).bytes()
	longTopic := newBuilder(6).msg(msg{id: 1, topic: "t", qos: 1}).bytes()
	binary.BigEndian.PutUint16(longTopic[23+8+26:], 200) // topic_len past the chunk
	badSub := newBuilder(5).sub("c", "", 1, 0, 0).bytes()
	badState := newBuilder(6).cmsg(cmsg{client: "c", id: 1, mid: 1, qos: 1, dir: mosqdb.Out, state: 12}).bytes()
	badUTF8 := newBuilder(4).sub("c", "a/\xff", 1, 0, 0).bytes()
	badProps := newBuilder(6).msg(msg{id: 1, topic: "t", qos: 1, props: []byte{2, 0x11, 0}}).bytes()
	dbid4 := newBuilder(6).chunk(mosqdb.ChunkCfg, append(le64(nil, 1), 1, 4, 0, 0, 0, 0, 0, 0)).bytes()
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"empty", "bad magic", nil},
		{"not mosquitto", "bad magic", []byte("SQLite format 3\x00 and so on and so on")},
		{"midge", "bad magic", []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"header cut", "truncated header", good[:20]},
		{"bad CRC", "bad CRC field 0x00000001", badCRC},
		{"version 1", "unknown format version 1", setVersion(1)},
		{"version 7", "unknown format version 7", setVersion(7)},
		{"chunk header cut", "truncated chunk header", good[:len(good)-13]},
		{"chunk cut", "truncated DB_CHUNK_RETAIN", good[:len(good)-1]},
		{"chunk body cut", "truncated DB_CHUNK_BASE_MSG", good[:60]},
		{"qos 3", "has QoS 3", badQoS},
		{"topic past chunk", "topic of 200 bytes runs past the end of the chunk", longTopic},
		{"empty filter", "without a topic filter", badSub},
		{"state 12", "has state 12", badState},
		{"not utf-8", "topic is not UTF-8", badUTF8},
		{"session expiry property", "property 0x11 is not a PUBLISH property", badProps},
		{"4-byte ids", "store ids of 4 bytes", dbid4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mosquitto.db")
			if err := os.WriteFile(path, tc.b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := mosqdb.ReadFile(path)
			var e *mosqdb.Error
			if !errors.As(err, &e) || !errors.Is(err, mosqdb.ErrFormat) {
				t.Fatalf("error %v (%T), want a *mosqdb.Error", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want %q: ... %q", msg, path, tc.want)
			}
		})
	}
}

// FuzzParse: no input makes Parse panic, and whatever it parses can be
// dumped and imported.
func FuzzParse(f *testing.F) {
	for _, v := range []uint32{2, 3, 4, 5, 6} {
		f.Add(sample(v))
	}
	if b, err := os.ReadFile(real2011); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := mosqdb.Parse(b)
		if err != nil {
			var e *mosqdb.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		var out bytes.Buffer
		if err := file.WriteText(&out, &out); err != nil {
			t.Fatal(err)
		}
		if err := file.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := mosqdb.Import(context.Background(), store.NewMemory(), file, mosqdb.ImportOptions{}); err != nil {
			t.Fatalf("parsed but cannot import: %v", err)
		}
	})
}
