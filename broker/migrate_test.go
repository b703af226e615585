package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// migrationPair runs f for a pair of servers without a store, and for a
// pair each persisting to its own memory store.
func migrationPair(t *testing.T, f func(t *testing.T, a, b *testutil.Broker)) {
	t.Run("nostore", func(t *testing.T) {
		f(t, start(t, open()), start(t, open()))
	})
	t.Run("store", func(t *testing.T) {
		f(t, startStore(t, store.NewMemory()), startStore(t, store.NewMemory()))
	})
}

// moveSession exports the session of id from a, imports it in b and
// drops a's copy.
func moveSession(t *testing.T, a, b *testutil.Broker, id string) *broker.SessionExport {
	t.Helper()
	ctx := context.Background()
	exp, err := a.ExportSession(ctx, id)
	if err != nil {
		t.Fatalf("ExportSession: %v", err)
	}
	if _, ok := a.Session(id); ok {
		t.Fatal("the exporting server still lists the session")
	}
	if err := b.ImportSession(ctx, exp); err != nil {
		t.Fatalf("ImportSession: %v", err)
	}
	if err := a.DropExported(ctx, id); err != nil {
		t.Fatalf("DropExported: %v", err)
	}
	return exp
}

// An offline session moves with its subscriptions and queue: its client
// resumes it on the other server (session present), gets the queued
// messages in order, and what is published there afterwards; the old
// server no longer routes to it.
func TestMigrateOfflineSession(t *testing.T) {
	migrationPair(t, func(t *testing.T, a, b *testutil.Broker) {
		cp := offline(t, a, "x", "m/#", 1)
		p := connect(t, a, 5, "p")
		for i := range 5 {
			pub(t, p, uint16(i+1), fmt.Sprintf("m/%d", i), fmt.Sprint(i), 1, false)
		}
		testutil.WaitFor(t, "5 messages queued", func() bool {
			si, ok := a.Session("x")
			return ok && si.Queued == 5
		})
		exp := moveSession(t, a, b, "x")
		if len(exp.Deliveries) != 5 || len(exp.Session.Subscriptions) != 1 {
			t.Fatalf("export: %d deliveries, %d subscriptions; want 5 and 1", len(exp.Deliveries), len(exp.Session.Subscriptions))
		}
		// Published on the old server after the export: no longer routed to x.
		pub(t, p, 9, "m/old", "old", 1, false)
		si, ok := b.Session("x")
		if !ok || si.Connected || len(si.Subscriptions) != 1 || si.Queued != 5 {
			t.Fatalf("imported session: %+v, %v", si, ok)
		}
		x, ack := connectWith(t, b, cp)
		if !ack.SessionPresent {
			t.Fatal("CONNACK session present 0 after the import")
		}
		for i := range 5 {
			ackAll(t, x, expectPublish(t, x, fmt.Sprintf("m/%d", i), fmt.Sprint(i)))
		}
		q := connect(t, b, 5, "q")
		pub(t, q, 1, "m/new", "new", 1, false)
		ackAll(t, x, expectPublish(t, x, "m/new", "new"))
		expectNoMore(t, x, "a message published on the old server after the export arrived")
	})
}

// A connected session is taken over by the export (DISCONNECT 0x8E), and
// its QoS 2 state moves: the message whose PUBREC came gets PUBREL with
// its packet identifier, the one not acknowledged is resent with its
// identifier and DUP.
func TestMigrateConnectedSession(t *testing.T) {
	migrationPair(t, func(t *testing.T, a, b *testutil.Broker) {
		cp, s := hourSubscriber(t, a, "sub", "x/#", 2)
		rel, pend := inFlight(t, a, s, 2)
		exp := moveSession(t, a, b, "sub")
		expectDisconnect(t, s, packet.SessionTakenOver)
		if len(exp.Deliveries) != 2 {
			t.Fatalf("export has %d deliveries, want 2", len(exp.Deliveries))
		}
		s, ack := connectWith(t, b, cp)
		if !ack.SessionPresent {
			t.Fatal("CONNACK session present 0 after the import")
		}
		expectResent(t, s, rel, pend)
	})
}

// With a store, the exporter keeps its copy until DropExported: a restart
// before it brings the session back there (a duplicate, never a loss); an
// imported session survives the importer's restart.
func TestMigrateDurable(t *testing.T) {
	stA, stB := store.NewMemory(), store.NewMemory()
	a, b := startStore(t, stA), startStore(t, stB)
	cp := offline(t, a, "x", "m/#", 1)
	p := connect(t, a, 5, "p")
	pub(t, p, 1, "m/1", "one", 1, false)
	waitOffline(t, a, "x")
	ctx := context.Background()
	exp, err := a.ExportSession(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ImportSession(ctx, exp); err != nil {
		t.Fatal(err)
	}
	a.Stop(t)
	a = startStore(t, stA)
	testutil.WaitFor(t, "the exporter's copy restored (no DropExported yet)", func() bool {
		si, ok := a.Session("x")
		return ok && si.Queued == 1
	})
	if err := a.DropExported(ctx, "x"); err == nil {
		// A session of x exists again here (restored): DropExported keeps it.
		if _, ok := a.Session("x"); !ok {
			t.Fatal("DropExported deleted a live session")
		}
	}
	b.Stop(t)
	b = startStore(t, stB)
	x, ack := connectWith(t, b, cp)
	if !ack.SessionPresent {
		t.Fatal("the imported session did not survive a restart")
	}
	ackAll(t, x, expectPublish(t, x, "m/1", "one"))
}

// Export refuses what cannot move; import refuses to replace a connected
// client.
func TestMigrateErrors(t *testing.T) {
	a, b := start(t, open()), start(t, open())
	ctx := context.Background()
	if _, err := a.ExportSession(ctx, "nobody"); !errors.Is(err, broker.ErrNoSession) {
		t.Errorf("export of no session: %v, want ErrNoSession", err)
	}
	connect(t, a, 5, "clean") // Session Expiry 0: ends with its connection
	if _, err := a.ExportSession(ctx, "clean"); !errors.Is(err, broker.ErrNoSession) {
		t.Errorf("export of a session that ends with its connection: %v, want ErrNoSession", err)
	}
	offline(t, a, "x", "m/#", 1)
	exp, err := a.ExportSession(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	connect(t, b, 5, "x")
	if err := b.ImportSession(ctx, exp); !errors.Is(err, broker.ErrSessionConnected) {
		t.Errorf("import over a connected client: %v, want ErrSessionConnected", err)
	}
}

// An MQTT 3.1.1 session (Clean Session 0) moves too, and the session
// present flag of its CONNACK says so.
func TestMigrateV311(t *testing.T) {
	migrationPair(t, func(t *testing.T, a, b *testutil.Broker) {
		cp := &packet.Connect{ProtocolVersion: packet.Version311, ClientID: "old", KeepAlive: 60}
		c, _ := connectWith(t, a, cp)
		c.Subscribe(1, "v/#", 1)
		disconnect(c)
		waitOffline(t, a, "old")
		p := connect(t, a, 5, "p")
		pub(t, p, 1, "v/1", "one", 1, false)
		testutil.WaitFor(t, "a message queued", func() bool {
			si, ok := a.Session("old")
			return ok && si.Queued == 1
		})
		moveSession(t, a, b, "old")
		c, ack := connectWith(t, b, cp)
		if !ack.SessionPresent {
			t.Fatal("CONNACK session present 0 after the import")
		}
		ackAll(t, c, expectPublish(t, c, "v/1", "one"))
	})
}
