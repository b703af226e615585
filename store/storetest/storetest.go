package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// Factory opens the stores the suite runs against.
type Factory struct {
	// Open opens the store kept in dir, an empty directory the first time,
	// and registers its Close with tb.Cleanup (the suite closes some stores
	// itself, so Close must tolerate being called twice). It calls tb.Fatal
	// if it cannot.
	Open func(tb testing.TB, dir string) broker.Store
	// Persistent says the store outlives Close: then the suite checks what
	// it wrote a second time after closing the store and opening dir again.
	Persistent bool
}

// Run runs the conformance suite, each test with a new store in its own
// t.TempDir().
func Run(t *testing.T, f Factory) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{f: f, dir: t.TempDir()}
			h.s = f.Open(t, h.dir)
			tc.fn(t, h)
		})
	}
}

// harness is one test's store.
type harness struct {
	f   Factory
	dir string
	s   broker.Store
}

// commit commits what fill adds, failing the test on error.
func (h *harness) commit(t testing.TB, sync bool, fill func(b *broker.Batch)) {
	t.Helper()
	var b broker.Batch
	fill(&b)
	if err := h.s.Commit(context.Background(), &b, sync); err != nil {
		t.Fatalf("Commit of %d ops: %v", b.Len(), err)
	}
}

// check runs verify on the store and, for a persistent store, again after
// closing and reopening it.
func (h *harness) check(t *testing.T, verify func(t *testing.T, s broker.Store)) {
	t.Helper()
	verify(t, h.s)
	if h.f.Persistent && !t.Failed() {
		h.reopen(t)
		verify(t, h.s)
	}
}

// reopen closes the store and opens it again.
func (h *harness) reopen(t testing.TB) {
	t.Helper()
	if err := h.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h.s = h.f.Open(t, h.dir)
}

// state is everything Load returns, in the order it returned it.
type state struct {
	maxID    uint64 // what MaxMessageID reported
	retained []*broker.Message
	sessions []*broker.StoredSession
	inbound  []inbound
}

type inbound struct {
	id  string
	pid uint16
}

func load(t testing.TB, s broker.Store) state {
	t.Helper()
	var st state
	calls, others := 0, 0
	err := s.Load(context.Background(), broker.Loader{
		MaxMessageID: func(id uint64) error {
			if others > 0 {
				t.Errorf("Load called MaxMessageID after %d other functions", others)
			}
			st.maxID = id
			calls++
			return nil
		},
		Retained: func(m *broker.Message) error { others++; st.retained = append(st.retained, m); return nil },
		Session: func(ss *broker.StoredSession) error {
			others++
			st.sessions = append(st.sessions, ss)
			return nil
		},
		Inbound: func(id string, pid uint16) error {
			others++
			st.inbound = append(st.inbound, inbound{id, pid})
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if calls != 1 {
		t.Errorf("Load called MaxMessageID %d times, want once", calls)
	}
	return st
}

func (st state) retainedByTopic() map[string]*broker.Message {
	m := make(map[string]*broker.Message)
	for _, r := range st.retained {
		m[r.Topic] = r
	}
	return m
}

func (st state) sessionByID() map[string]*broker.StoredSession {
	m := make(map[string]*broker.StoredSession)
	for _, s := range st.sessions {
		m[s.ClientID] = s
	}
	return m
}

func (st state) inboundOf(id string) []uint16 {
	var ids []uint16
	for _, in := range st.inbound {
		if in.id == id {
			ids = append(ids, in.pid)
		}
	}
	return ids
}

func loadQueue(t testing.TB, s broker.Store, id string) []*broker.StoredDelivery {
	t.Helper()
	var ds []*broker.StoredDelivery
	err := s.LoadQueue(context.Background(), id, func(d *broker.StoredDelivery) error {
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		t.Fatalf("LoadQueue(%q): %v", id, err)
	}
	return ds
}

func seqs(ds []*broker.StoredDelivery) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.Seq
	}
	return out
}

// diffMessage describes how got differs from want, "" if it does not.
// Properties are compared by their MQTT 5 encoding, so that an absent and
// an empty set are alike, as are nil and empty byte slices.
func diffMessage(got, want *broker.Message) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil || want == nil:
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	var d []string
	if got.Topic != want.Topic {
		d = append(d, fmt.Sprintf("Topic %q, want %q", got.Topic, want.Topic))
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		d = append(d, fmt.Sprintf("Payload of %d bytes %.20q, want %d bytes %.20q",
			len(got.Payload), got.Payload, len(want.Payload), want.Payload))
	}
	if got.QoS != want.QoS || got.Retain != want.Retain {
		d = append(d, fmt.Sprintf("QoS %d Retain %v, want %d %v", got.QoS, got.Retain, want.QoS, want.Retain))
	}
	if got.Publisher != want.Publisher {
		d = append(d, fmt.Sprintf("Publisher %q, want %q", got.Publisher, want.Publisher))
	}
	if !got.Expiry.Equal(want.Expiry) || got.Expiry.IsZero() != want.Expiry.IsZero() {
		d = append(d, fmt.Sprintf("Expiry %v, want %v", got.Expiry, want.Expiry))
	}
	if !got.Received.Equal(want.Received) || got.Received.IsZero() != want.Received.IsZero() {
		d = append(d, fmt.Sprintf("Received %v, want %v", got.Received, want.Received))
	}
	gp, gerr := encodeProps(got.Properties)
	wp, werr := encodeProps(want.Properties)
	if gerr != nil || werr != nil || !bytes.Equal(gp, wp) {
		d = append(d, fmt.Sprintf("Properties %+v, want %+v (%v, %v)", got.Properties, want.Properties, gerr, werr))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func encodeProps(p *packet.Properties) ([]byte, error) {
	pub := &packet.Publish{Topic: "x"}
	if p != nil {
		pub.Properties = *p
	}
	return packet.Append(nil, pub, packet.Version5)
}

func diffSession(got, want *broker.StoredSession) string {
	var d []string
	if got.ClientID != want.ClientID || got.Version != want.Version || got.Expiry != want.Expiry ||
		got.WillDelay != want.WillDelay {
		d = append(d, fmt.Sprintf("ClientID %q Version %d Expiry %d WillDelay %d, want %q %d %d %d",
			got.ClientID, got.Version, got.Expiry, got.WillDelay, want.ClientID, want.Version, want.Expiry, want.WillDelay))
	}
	if !got.OfflineSince.Equal(want.OfflineSince) || got.OfflineSince.IsZero() != want.OfflineSince.IsZero() {
		d = append(d, fmt.Sprintf("OfflineSince %v, want %v", got.OfflineSince, want.OfflineSince))
	}
	if w := diffMessage(got.Will, want.Will); w != "" {
		d = append(d, "Will: "+w)
	}
	if !slices.Equal(got.Subscriptions, want.Subscriptions) {
		d = append(d, fmt.Sprintf("Subscriptions %+v, want %+v", got.Subscriptions, want.Subscriptions))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func diffDelivery(got, want *broker.StoredDelivery) string {
	var d []string
	if got.Seq != want.Seq || got.ID != want.ID || got.QoS != want.QoS || got.Retain != want.Retain ||
		got.Released != want.Released || got.Group != want.Group {
		d = append(d, fmt.Sprintf("Seq %d ID %d QoS %d Retain %v Released %v Group %q, want %d %d %d %v %v %q",
			got.Seq, got.ID, got.QoS, got.Retain, got.Released, got.Group,
			want.Seq, want.ID, want.QoS, want.Retain, want.Released, want.Group))
	}
	if !slices.Equal(got.SubIDs, want.SubIDs) {
		d = append(d, fmt.Sprintf("SubIDs %v, want %v", got.SubIDs, want.SubIDs))
	}
	if m := diffMessage(got.Msg, want.Msg); m != "" {
		d = append(d, "Msg: "+m)
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}
