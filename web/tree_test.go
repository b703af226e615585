package web

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

func msg(topic string, payload []byte) *broker.Message {
	return &broker.Message{Topic: topic, Payload: payload, Publisher: "dev", Received: time.Unix(1700000000, 0)}
}

func TestTopicsHistoryRing(t *testing.T) {
	t.Parallel()
	ts := newTopics(3, 10, 1<<10, 1<<20)
	for i := range 5 {
		ts.add(msg("a/b", []byte{byte('0' + i)}), "dev", false)
	}
	st := ts.byName["a/b"]
	if st.count != 5 || len(st.hist) != 3 {
		t.Fatalf("count %d, %d entries", st.count, len(st.hist))
	}
	var got []byte
	for _, e := range st.history() {
		got = append(got, e.payload...)
	}
	if string(got) != "234" {
		t.Errorf("history %q, want 234 oldest first", got)
	}
	if last, _ := st.last(); string(last.payload) != "4" {
		t.Errorf("last %q", last.payload)
	}
	if ups := ts.takeDirty(10); len(ups) != 1 || ups[0].Count != 5 || ups[0].Value != "4" || ups[0].Publisher != "dev" {
		t.Errorf("updates %+v", ups)
	}
	if ups := ts.takeDirty(10); len(ups) != 0 {
		t.Errorf("dirty again: %+v", ups)
	}
	// A retained message marks the topic; an empty retained one clears it.
	ts.add(&broker.Message{Topic: "r", Payload: []byte("x"), Retain: true}, "", false)
	if !ts.byName["r"].retained {
		t.Error("not retained")
	}
	ts.add(&broker.Message{Topic: "r", Retain: true}, "", false)
	if ts.byName["r"].retained {
		t.Error("still retained after an empty retained message")
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     []byte
		want   string
		binary bool
	}{
		{[]byte("21.5"), "21.5", false},
		{[]byte(`{"t":1}`), `{"t":1}`, false},
		{[]byte{0, 1, 0xff}, "0001ff", true},
		{[]byte("héllo\n"), "héllo\n", false},
		{bytes.Repeat([]byte("é"), 100), string(bytes.Repeat([]byte("é"), previewLen/2)) + "…", false},
		{bytes.Repeat([]byte{0xfe}, 100), fmt.Sprintf("%x…", bytes.Repeat([]byte{0xfe}, previewLen/2)), true},
	}
	for _, tt := range tests {
		if got, bin := preview(tt.in); got != tt.want || bin != tt.binary {
			t.Errorf("preview(%q) = %q, %v; want %q, %v", tt.in, got, bin, tt.want, tt.binary)
		}
	}
}

// TestTopicsBounded feeds 10,000 topics of 20 messages each into a table
// allowed 4 MiB of history: memory stays within the budget, recently
// updated topics keep their history, and topics beyond the limit are
// refused and counted.
func TestTopicsBounded(t *testing.T) {
	t.Parallel()
	const topicsN, perTopic, budget = 10_000, 20, 4 << 20
	ts := newTopics(50, topicsN, 1<<10, budget)
	payload := bytes.Repeat([]byte("x"), 200)
	for round := range perTopic {
		for i := range topicsN {
			ts.add(msg(fmt.Sprintf("site/%d/dev/%d", i%100, i), payload), "dev", false)
		}
		if ts.bytes > budget {
			t.Fatalf("round %d: %d bytes charged, budget %d", round, ts.bytes, budget)
		}
		if len(ts.dirty) != topicsN {
			t.Fatalf("%d dirty topics", len(ts.dirty))
		}
		for len(ts.takeDirty(maxBatch)) > 0 {
		}
	}
	real := 0
	for _, st := range ts.byName {
		n := 0
		for _, e := range st.hist {
			real += len(e.payload) + entryOverhead
			n += len(e.payload)
		}
		if st.count != perTopic {
			t.Fatalf("%s: count %d", st.name, st.count)
		}
		if n == 0 {
			t.Fatalf("%s lost its value entirely", st.name)
		}
	}
	if real != ts.bytes {
		t.Errorf("accounting: %d charged, %d held", ts.bytes, real)
	}
	// A topic updated often keeps its whole history.
	hot := fmt.Sprintf("site/%d/dev/%d", 7, 7)
	for range 30 {
		ts.add(msg(hot, payload), "dev", false)
	}
	if st := ts.byName[hot]; len(st.hist) != 31 || st.hist[len(st.hist)-1].evicted || ts.bytes > budget {
		t.Errorf("hot topic: %d entries, %d bytes charged", len(st.hist), ts.bytes)
	}
	ts.add(msg("one/too/many", payload), "dev", false)
	if len(ts.byName) != topicsN || ts.refused != 1 {
		t.Errorf("%d topics, %d refused", len(ts.byName), ts.refused)
	}
}

func BenchmarkTopicsAdd(b *testing.B) {
	ts := newTopics(50, 100_000, 64<<10, 64<<20)
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("site/%d/dev/%d/temperature", i%100, i)
	}
	m := msg("", []byte(`{"temperature":21.5,"humidity":40}`))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Topic = names[i%len(names)]
		ts.add(m, "dev", false)
		if i%1000 == 0 {
			ts.takeDirty(maxBatch)
		}
		i++
	}
}
