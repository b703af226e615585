package store_test

import (
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

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Factory{Open: openMemory})
}
