package mosqdb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/mosqdb"
	"github.com/midge-mqtt/midge/store"
)

// bigFile is a version 6 file with n messages of 100 bytes queued for 10
// sessions (n/10 each) and n/10 retained messages.
func bigFile(n int) []byte {
	w := newBuilder(6).cfg(uint64(n), true)
	payload := string(make([]byte, 100))
	for i := 1; i <= n; i++ {
		w.msg(msg{id: uint64(i), sourceID: "pub", topic: fmt.Sprintf("t/%d", i), qos: 1, retain: i%10 == 0, payload: payload})
	}
	for c := range 10 {
		id := fmt.Sprintf("client-%d", c)
		w.client(id, "", 0, 0xFFFFFFFF, 0)
		w.sub(id, "t/#", 1, 0, 0)
		for i := c + 1; i <= n; i += 10 {
			w.cmsg(cmsg{client: id, id: uint64(i), mid: i % 65535, qos: 1, dir: mosqdb.Out, state: mosqdb.StateQueued})
		}
	}
	for i := 10; i <= n; i += 10 {
		w.retain(uint64(i))
	}
	return w.bytes()
}

func BenchmarkParse(b *testing.B) {
	raw := bigFile(10000)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mosqdb.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImport(b *testing.B) {
	raw := bigFile(10000)
	f, err := mosqdb.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range []string{"memory", "bolt"} {
		b.Run("store="+kind, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				var st broker.Store = store.NewMemory()
				if kind == "bolt" {
					s, err := store.OpenBolt(filepath.Join(b.TempDir(), "midge.db"), store.BoltOptions{})
					if err != nil {
						b.Fatal(err)
					}
					st = s
				}
				b.StartTimer()
				if _, err := mosqdb.Import(context.Background(), st, f, mosqdb.ImportOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
		})
	}
}
