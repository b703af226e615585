package store_test

import (
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/store"
	"github.com/midge-mqtt/midge/internal/store/storetest"
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
