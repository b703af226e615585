package web

import (
	"container/list"
	"encoding/hex"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// entryOverhead approximates the memory of one history entry beside its
// payload, for the history budget.
const entryOverhead = 96

// previewLen bounds the value shown in tree rows and update batches.
const previewLen = 160

// entry is one message kept in a topic's history. Its payload is a copy,
// cut at the configured maximum.
type entry struct {
	at        time.Time
	payload   []byte // at most maxPayload bytes; previewLen once evicted
	size      int    // the message's payload size
	qos       byte
	retain    bool
	evicted   bool // the payload was cut to stay within the history budget
	publisher string
	props     *packet.Properties // shared with the broker's Message, which is immutable
}

// topicState is what the dashboard knows of one topic name.
type topicState struct {
	name     string
	count    uint64 // messages seen since the dashboard started
	retained bool   // a retained message is held for it, as far as seen
	// hist is a ring of the latest entries, oldest at head once full.
	hist  []entry
	head  int
	bytes int           // memory charged for hist
	lru   *list.Element // in topics.lru (front: most recently updated); nil once evicted
	dirty bool          // changed since the last batch
}

// last returns the newest entry; ok is false if there is none.
func (t *topicState) last() (e *entry, ok bool) {
	if len(t.hist) == 0 {
		return nil, false
	}
	i := t.head - 1
	if i < 0 {
		i = len(t.hist) - 1
	}
	return &t.hist[i], true
}

// history returns the entries oldest first.
func (t *topicState) history() []entry {
	out := make([]entry, 0, len(t.hist))
	out = append(out, t.hist[t.head:]...)
	return append(out, t.hist[:t.head]...)
}

// topics aggregates observed messages by topic name within fixed bounds: at
// most maxTopics topics, depth entries each, payloads cut at maxPayload, and
// about maxBytes of history in all (the least recently updated topics lose
// their payloads first). It is not safe for concurrent use: Server guards it.
type topics struct {
	byName     map[string]*topicState
	lru        list.List
	dirty      []*topicState
	depth      int
	maxTopics  int
	maxPayload int
	maxBytes   int
	bytes      int    // charged for all histories
	refused    uint64 // messages of new topics beyond maxTopics
}

func newTopics(depth, maxTopics, maxPayload, maxBytes int) *topics {
	return &topics{byName: make(map[string]*topicState), depth: depth, maxTopics: maxTopics,
		maxPayload: maxPayload, maxBytes: maxBytes}
}

// add records m, published by publisher (which may differ from m.Publisher
// for the dashboard's own messages). seed is for retained messages found at
// start: they set the value without counting as a message seen.
func (ts *topics) add(m *broker.Message, publisher string, seed bool) {
	t := ts.byName[m.Topic]
	if t == nil {
		if len(ts.byName) >= ts.maxTopics {
			ts.refused++
			return
		}
		t = &topicState{name: m.Topic}
		ts.byName[m.Topic] = t
	}
	if t.lru == nil {
		t.lru = ts.lru.PushFront(t)
	} else {
		ts.lru.MoveToFront(t.lru)
	}
	if !seed {
		t.count++
	}
	if m.Retain {
		t.retained = len(m.Payload) > 0
	}
	n := min(len(m.Payload), ts.maxPayload)
	e := entry{at: m.Received, payload: append([]byte(nil), m.Payload[:n]...), size: len(m.Payload), qos: m.QoS,
		retain: m.Retain, publisher: publisher, props: m.Properties}
	if e.at.IsZero() {
		e.at = time.Now()
	}
	cost := n + entryOverhead
	if len(t.hist) < ts.depth {
		t.hist = append(t.hist, e)
	} else {
		old := &t.hist[t.head]
		t.bytes -= len(old.payload) + entryOverhead
		ts.bytes -= len(old.payload) + entryOverhead
		*old = e
		t.head = (t.head + 1) % len(t.hist)
	}
	t.bytes += cost
	ts.bytes += cost
	if !t.dirty {
		t.dirty = true
		ts.dirty = append(ts.dirty, t)
	}
	ts.evict(t)
}

// evict cuts the payloads of the least recently updated topics to their
// first previewLen bytes, keeping only their newest entry, until the
// histories fit in maxBytes. A topic cut so is out of the LRU list until it
// is updated again, so each call only visits topics it cuts. If keep alone is
// over the budget, its older entries are cut.
func (ts *topics) evict(keep *topicState) {
	for ts.bytes > ts.maxBytes {
		el := ts.lru.Back()
		if el == nil || el.Value == keep {
			break
		}
		t := el.Value.(*topicState)
		ts.lru.Remove(el)
		t.lru = nil
		last, _ := t.last()
		e := *last
		e.cut()
		ts.bytes -= t.bytes
		t.hist, t.head = []entry{e}, 0
		t.bytes = len(e.payload) + entryOverhead
		ts.bytes += t.bytes
	}
	for i := 0; ts.bytes > ts.maxBytes && i < len(keep.hist)-1; i++ {
		e := &keep.hist[(keep.head+i)%len(keep.hist)]
		before := len(e.payload)
		e.cut()
		ts.bytes -= before - len(e.payload)
		keep.bytes -= before - len(e.payload)
	}
}

// cut shortens the payload to previewLen bytes, in a copy of its own.
func (e *entry) cut() {
	if len(e.payload) > previewLen {
		e.payload = append([]byte(nil), e.payload[:previewLen]...)
		e.evicted = true
	}
}

// takeDirty returns up to max topics changed since the last call, as
// updates, and forgets them.
func (ts *topics) takeDirty(max int) []topicUpdate {
	n := min(len(ts.dirty), max)
	out := make([]topicUpdate, 0, n)
	for _, t := range ts.dirty[:n] {
		t.dirty = false
		out = append(out, t.update())
	}
	rest := copy(ts.dirty, ts.dirty[n:])
	clear(ts.dirty[rest:])
	ts.dirty = ts.dirty[:rest]
	return out
}

// topicUpdate is a topic's row in the tree: what the snapshot and each
// batch send to the page.
type topicUpdate struct {
	Topic     string `json:"t"`
	Count     uint64 `json:"n"`
	At        int64  `json:"at,omitempty"` // unix milliseconds of the last message
	Value     string `json:"v"`            // a preview: text, or hex when binary
	Binary    bool   `json:"b,omitempty"`
	Size      int    `json:"s"`
	Retained  bool   `json:"r,omitempty"`
	QoS       byte   `json:"q"`
	Publisher string `json:"p,omitempty"`
}

func (t *topicState) update() topicUpdate {
	u := topicUpdate{Topic: t.name, Count: t.count, Retained: t.retained}
	if e, ok := t.last(); ok {
		u.At, u.Size, u.QoS, u.Publisher = e.at.UnixMilli(), e.size, e.qos, e.publisher
		u.Value, u.Binary = preview(e.payload)
	}
	return u
}

// preview returns the start of a payload as text, or in hex if it is not
// UTF-8 text.
func preview(p []byte) (string, bool) {
	if isText(p) {
		if len(p) > previewLen {
			p = p[:previewLen]
			for len(p) > 0 && !utf8.Valid(p) {
				p = p[:len(p)-1]
			}
			return string(p) + "…", false
		}
		return string(p), false
	}
	if len(p) > previewLen/2 {
		return hex.EncodeToString(p[:previewLen/2]) + "…", true
	}
	return hex.EncodeToString(p), true
}

// isText reports whether p is UTF-8 without control characters other than
// tab, newline and carriage return. A payload cut inside a character still
// counts as text.
func isText(p []byte) bool {
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n <= 1 {
			if len(p)-i < utf8.UTFMax && !utf8.FullRune(p[i:]) {
				return true // cut at the end
			}
			return false
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		i += n
	}
	return true
}
