package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/store/storetest"
)

func openMemory(tb testing.TB, dir string) broker.Store {
	s := store.NewMemory()
	tb.Cleanup(func() { s.Close() })
	return s
}

func openBolt(tb testing.TB, dir string) broker.Store {
	tb.Helper()
	s, err := store.OpenBolt(filepath.Join(dir, "midge.db"), store.BoltOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Factory{Open: openMemory})
}

func TestBolt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Factory{Open: openBolt, Persistent: true})
}

func BenchmarkMemory(b *testing.B) {
	storetest.Bench(b, storetest.Factory{Open: openMemory})
}

func BenchmarkBolt(b *testing.B) {
	storetest.Bench(b, storetest.Factory{Open: openBolt, Persistent: true})
}

// FuzzMessageTable runs scripts of queue changes (see storetest.CheckScript)
// against both stores and compares them with a model of what they hold.
func FuzzMessageTable(f *testing.F) {
	f.Add([]byte{0, 0x00, 0, 0x01, 4, 0, 1, 0x00, 4, 0, 0, 0x01})
	f.Add([]byte{0, 0x10, 0, 0x11, 0, 0x12, 2, 0x11, 4, 0, 3, 0x01, 0, 0x11, 4, 0, 1, 0x10, 1, 0x12, 0, 0x13})
	f.Add([]byte{0, 0x35, 0, 0x36, 4, 0, 1, 0x35, 0, 0x36, 4, 0, 3, 0x02, 0, 0x35})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 400 {
			return
		}
		for name, s := range map[string]broker.Store{"memory": openMemory(t, ""), "bolt": openBolt(t, t.TempDir())} {
			if err := storetest.CheckScript(context.Background(), s, script); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}
