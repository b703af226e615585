package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// event is something sent to every open page: a batch of changed topics or
// a statistics sample.
type event struct {
	name    string          // "topics" or "stats"
	data    json.RawMessage // stats
	updates []topicUpdate   // topics
	total   int
	dropped uint64
	refused uint64

	once   sync.Once
	shared []byte // the frame for subscribers who see every topic
}

// topicsEvent is the JSON of a "topics" event.
type topicsEvent struct {
	Updates []topicUpdate `json:"u"`
	Total   int           `json:"total"`   // topics tracked
	Dropped uint64        `json:"dropped"` // messages the dashboard missed (queue full)
	Refused uint64        `json:"refused"` // messages of topics beyond MaxTopics
}

// frame returns the event as a Server-Sent Events frame for a subscriber
// that sees the topics filter allows (nil: all), or nil if nothing is left
// for it.
func (ev *event) frame(filter func(string) bool) []byte {
	if ev.name != "topics" {
		ev.once.Do(func() { ev.shared = sseFrame(ev.name, ev.data) })
		return ev.shared
	}
	if filter == nil {
		ev.once.Do(func() { ev.shared = ev.encode(ev.updates) })
		return ev.shared
	}
	var ups []topicUpdate
	for _, u := range ev.updates {
		if filter(u.Topic) {
			ups = append(ups, u)
		}
	}
	if len(ups) == 0 {
		return nil
	}
	return ev.encode(ups)
}

func (ev *event) encode(ups []topicUpdate) []byte {
	b, err := json.Marshal(topicsEvent{Updates: ups, Total: ev.total, Dropped: ev.dropped, Refused: ev.refused})
	if err != nil {
		return nil
	}
	return sseFrame(ev.name, b)
}

func sseFrame(name string, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(name) + len(data) + 16)
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes()
}

// subscriber is one open page's event stream.
type subscriber struct {
	ch     chan []byte
	filter func(topic string) bool // nil: every topic
	lagged atomic.Bool             // frames were dropped: the page must reload the snapshot
	done   chan struct{}
	once   sync.Once
}

func (sub *subscriber) close() { sub.once.Do(func() { close(sub.done) }) }

// subscribe registers a new event stream.
func (s *Server) subscribe(filter func(string) bool) *subscriber {
	sub := &subscriber{ch: make(chan []byte, 32), filter: filter, done: make(chan struct{})}
	s.subsMu.Lock()
	s.subs[sub] = struct{}{}
	s.subsMu.Unlock()
	return sub
}

func (s *Server) unsubscribe(sub *subscriber) {
	s.subsMu.Lock()
	delete(s.subs, sub)
	s.subsMu.Unlock()
	sub.close()
}

// subscribers returns how many event streams are open.
func (s *Server) subscribers() int {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	return len(s.subs)
}

// broadcast hands ev to every subscriber without waiting: one whose queue
// is full misses it and is told to reload.
func (s *Server) broadcast(ev *event) {
	stats := ev.name == "stats"
	var sees map[*subscriber]bool // who may see statistics, asked outside subsMu
	if stats {
		s.subsMu.Lock()
		subs := make([]*subscriber, 0, len(s.subs))
		for sub := range s.subs {
			subs = append(subs, sub)
		}
		s.subsMu.Unlock()
		sees = make(map[*subscriber]bool, len(subs))
		var sys map[string]string // the $SYS topics, read once
		for _, sub := range subs {
			if sub.filter != nil && sys == nil {
				sys = s.broker.SysValues()
			}
			sees[sub] = sub.filter == nil || readsAll(sub.filter, sys)
		}
	}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for sub := range s.subs {
		if stats && !sees[sub] {
			continue
		}
		f := ev.frame(sub.filter)
		if f == nil {
			continue
		}
		select {
		case sub.ch <- f:
		default:
			sub.lagged.Store(true)
		}
	}
}

// heartbeat is how often an idle event stream gets a comment, so that
// proxies and the browser keep it open.
const heartbeat = 15 * time.Second

// serveEvents streams events to one page until it goes away, the server
// closes or valid reports false (the session ended).
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, filter func(string) bool, valid func() bool) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub := s.subscribe(filter)
	defer s.unsubscribe(sub)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := w.Write(b)
		return err == nil
	}
	if !write([]byte("event: hello\ndata: {}\n\n")) || rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		var ok bool
		select {
		case <-r.Context().Done():
			return
		case <-sub.done:
			return
		case f := <-sub.ch:
			ok = write(f)
		drain:
			for ok {
				select {
				case f := <-sub.ch:
					ok = write(f)
				default:
					break drain
				}
			}
		case <-tick.C:
			ok = write([]byte(": ping\n\n"))
		}
		if ok && sub.lagged.Swap(false) {
			ok = write([]byte("event: resync\ndata: {}\n\n"))
		}
		if ok && !valid() {
			write([]byte("event: logout\ndata: {}\n\n"))
			rc.Flush()
			return
		}
		if !ok || rc.Flush() != nil {
			return
		}
	}
}
