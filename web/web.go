package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/systree"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. Broker or Source is required; every other
// field has a default, applied to a copy.
type Config struct {
	// Broker is the server the dashboard shows and acts on.
	Broker *broker.Server
	// Source, if set instead of Broker, is what the dashboard shows and
	// acts on: a client of another broker (midge explore).
	Source Source
	// History is how many messages of each topic are kept (http_api_history,
	// default 50).
	History int
	// MaxTopics bounds the topics tracked (default 100,000). Messages of
	// further topics are counted (Server.Refused) and not shown.
	MaxTopics int
	// MaxPayload is the most bytes of one payload kept (default 64 KiB).
	MaxPayload int
	// MaxHistoryBytes bounds the memory of all histories (default 64 MiB):
	// beyond it the least recently updated topics keep only the start of
	// their newest message. It is raised to at least 256 bytes a topic
	// (MaxTopics), what each keeps at the least.
	MaxHistoryBytes int
	// QueueLen is the capacity of the queue between the broker's publishing
	// goroutines and the aggregator (default 8192). When it is full,
	// messages are dropped from the dashboard (not from delivery) and
	// counted (Server.Dropped).
	QueueLen int
	// BatchInterval is how often changed topics are sent to the pages
	// (default 250ms).
	BatchInterval time.Duration
	// StatsInterval is how often broker statistics are sampled for the
	// graphs (default 2s), and StatsPoints how many samples are kept
	// (default 900: 30 minutes).
	StatsInterval time.Duration
	StatsPoints   int
	// Logger receives the dashboard's logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Bridges, if set, returns the bridges' statuses, for /metrics and
	// GET /api/v1/bridges. It is called at each scrape and request and
	// must be safe for concurrent use.
	Bridges func() []bridge.Status
	// Cluster, if set, returns this node's view of its cluster
	// (cluster.Node.Status), and false when the broker is not a cluster
	// node: for the midge_cluster_* series of /metrics and GET
	// /api/v1/cluster. It is called at each scrape and request and must be
	// safe for concurrent use.
	Cluster func() (cluster.Status, bool)
	// ClusterClients, if set, returns, sorted, at most max of the client
	// identifiers a cluster node owns, and how many it owns in all
	// (cluster.Node.Clients): GET /api/v1/cluster/clients. It must be
	// safe for concurrent use.
	ClusterClients func(node string, max int) (ids []string, total int)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.History, 50)
	def(&c.MaxTopics, 100_000)
	def(&c.MaxPayload, 64<<10)
	def(&c.MaxHistoryBytes, 64<<20)
	c.MaxHistoryBytes = max(c.MaxHistoryBytes, c.MaxTopics*(previewLen+entryOverhead))
	def(&c.QueueLen, 8192)
	def(&c.StatsPoints, 900)
	if c.BatchInterval <= 0 {
		c.BatchInterval = 250 * time.Millisecond
	}
	if c.StatsInterval <= 0 {
		c.StatsInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Server aggregates what the broker routes for the dashboard: topics with
// their counts and histories, statistics over time, and the live updates
// sent to open pages. Handler serves it over HTTP; several handlers (one per
// listener) may share a Server. It is safe for concurrent use.
type Server struct {
	cfg    Config
	broker Source // Config.Source, or Config.Broker
	log    *slog.Logger

	queue   chan *broker.Message
	dropped atomic.Uint64 // messages the queue had no room for
	seen    atomic.Uint64 // messages observed
	applied atomic.Uint64 // messages added to the topics

	mu     sync.Mutex // guards topics and stats
	topics *topics
	stats  []statsSample // ring of StatsPoints, oldest at statsHead once full
	head   int

	subsMu sync.Mutex // guards subs
	subs   map[*subscriber]struct{}

	registry *prometheus.Registry

	remove func()
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// New starts a Server for cfg.Broker: it registers an observer with the
// broker, loads the retained messages as the topics' first values and starts
// the aggregating goroutine. Close stops it.
func New(cfg Config) (*Server, error) {
	var src Source = cfg.Source
	if src == nil {
		if cfg.Broker == nil {
			return nil, errors.New("web: Config.Broker and Config.Source are nil")
		}
		src = cfg.Broker
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg: cfg, broker: src, log: cfg.Logger,
		queue:  make(chan *broker.Message, cfg.QueueLen),
		topics: newTopics(cfg.History, cfg.MaxTopics, cfg.MaxPayload, cfg.MaxHistoryBytes),
		subs:   make(map[*subscriber]struct{}),
		stop:   make(chan struct{}), done: make(chan struct{}),
	}
	s.registry = newRegistry(s)
	s.remove = s.broker.Observe(s.observe)
	s.mu.Lock()
	if hs, ok := src.(HistorySource); ok {
		hs.History(func(m *broker.Message) bool {
			s.topics.add(m, m.Publisher, true)
			return true
		})
	} else {
		for _, f := range []string{"#", "$SYS/#"} {
			s.broker.RetainedMessages(f, func(m *broker.Message) bool {
				s.topics.add(m, m.Publisher, true)
				return true
			})
		}
	}
	s.topics.dirty = s.topics.dirty[:0] // the first snapshot has them
	for _, t := range s.topics.byName {
		t.dirty = false
	}
	s.mu.Unlock()
	s.sample()
	go s.run()
	return s, nil
}

// Close stops the aggregator, removes the observer and ends the live
// update streams. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.remove()
		close(s.stop)
		<-s.done
		s.subsMu.Lock()
		for sub := range s.subs {
			sub.close()
		}
		s.subsMu.Unlock()
	})
	return nil
}

// Dropped returns how many routed messages the dashboard missed because its
// queue was full.
func (s *Server) Dropped() uint64 { return s.dropped.Load() }

// observe runs on the broker's publishing goroutines: it hands m to the
// aggregator without blocking (a Message is immutable, so the pointer is
// enough).
func (s *Server) observe(m *broker.Message) {
	s.seen.Add(1)
	select {
	case s.queue <- m:
	default:
		s.dropped.Add(1)
	}
}

// publishAs publishes m for the dashboard user who ("web:alice"), so that
// the topic's history names them as its publisher.
func (s *Server) publishAs(ctx context.Context, m *broker.Message, who string) error {
	m.Publisher = who
	return s.broker.Publish(ctx, m)
}

// run is the aggregator: it applies queued messages to the topics, sends
// batches of changed topics every BatchInterval and samples statistics
// every StatsInterval.
func (s *Server) run() {
	defer close(s.done)
	batch := time.NewTicker(s.cfg.BatchInterval)
	defer batch.Stop()
	stats := time.NewTicker(s.cfg.StatsInterval)
	defer stats.Stop()
	for {
		select {
		case <-s.stop:
			return
		case m := <-s.queue:
			s.mu.Lock()
			s.apply(m)
			// Take what else is queued under the same lock, up to a bound
			// so that readers are not kept waiting.
		drain:
			for range 256 {
				select {
				case m := <-s.queue:
					s.apply(m)
				default:
					break drain
				}
			}
			s.mu.Unlock()
		case <-batch.C:
			s.flush()
		case <-stats.C:
			s.sample()
			s.broadcast(&event{name: "stats", data: s.lastSample()})
		}
	}
}

// apply adds a message to the topics. s.mu must be held.
func (s *Server) apply(m *broker.Message) {
	s.topics.add(m, m.Publisher, false)
	s.applied.Add(1)
}

// maxBatch bounds the topics of one batch; the rest wait for the next.
const maxBatch = 4000

// flush sends the topics changed since the last batch to the pages.
func (s *Server) flush() {
	s.mu.Lock()
	ups := s.topics.takeDirty(maxBatch)
	total := len(s.topics.byName)
	refused := s.topics.refused
	s.mu.Unlock()
	if len(ups) == 0 {
		return
	}
	s.broadcast(&event{name: "topics", updates: ups, total: total, dropped: s.dropped.Load(), refused: refused})
}

// statsSample is one point of the statistics graphs.
type statsSample struct {
	At               int64  `json:"at"` // unix milliseconds
	ClientsConnected int64  `json:"connected"`
	Sessions         int    `json:"sessions"`
	Subscriptions    int    `json:"subscriptions"`
	Retained         int    `json:"retained"`
	PublishIn        uint64 `json:"publishIn"`
	PublishOut       uint64 `json:"publishOut"`
	BytesIn          uint64 `json:"bytesIn"`
	BytesOut         uint64 `json:"bytesOut"`
	MessagesIn       uint64 `json:"messagesIn"`
	MessagesOut      uint64 `json:"messagesOut"`
	Dropped          uint64 `json:"dropped"`
	Heap             uint64 `json:"heap"`
	Topics           int    `json:"topics"`
	WebDropped       uint64 `json:"webDropped"`
}

// sample records the broker's counters.
func (s *Server) sample() {
	st := s.broker.Stats()
	smp := statsSample{
		At: s.cfg.Now().UnixMilli(), ClientsConnected: st.ClientsConnected, Sessions: st.Sessions,
		Subscriptions: st.Subscriptions, Retained: st.Retained, PublishIn: st.PublishIn, PublishOut: st.PublishOut,
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut,
		Dropped: st.Dropped, Heap: systree.HeapBytes(), WebDropped: s.dropped.Load(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	smp.Topics = len(s.topics.byName)
	if len(s.stats) < s.cfg.StatsPoints {
		s.stats = append(s.stats, smp)
		return
	}
	s.stats[s.head] = smp
	s.head = (s.head + 1) % len(s.stats)
}

// series returns the samples oldest first.
func (s *Server) series() []statsSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]statsSample, 0, len(s.stats))
	out = append(out, s.stats[s.head:]...)
	return append(out, s.stats[:s.head]...)
}

func (s *Server) lastSample() json.RawMessage {
	s.mu.Lock()
	i := s.head - 1
	if i < 0 {
		i = len(s.stats) - 1
	}
	smp := s.stats[i]
	s.mu.Unlock()
	b, _ := json.Marshal(smp)
	return b
}
