package explore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
	bolt "go.etcd.io/bbolt"
)

// historyLimits bound the history kept on disk.
type historyLimits struct {
	count      int           // messages kept per topic
	age        time.Duration // older messages are removed
	maxPayload int           // bytes of one payload kept
	maxTopics  int           // topics kept; messages of further topics are not stored
}

// record is one stored message, the value under its key (the big-endian
// unix nanoseconds of its receipt and a sequence number) in the topic's
// bucket.
type record struct {
	Payload   []byte       `json:"p"`
	Size      int          `json:"n"` // the payload's size before it was cut
	QoS       byte         `json:"q,omitempty"`
	Retain    bool         `json:"r,omitempty"`
	Publisher string       `json:"f,omitempty"`
	Props     *storedProps `json:"x,omitempty"`
}

// storedProps are the MQTT 5 properties kept with a message.
type storedProps struct {
	PayloadFormat   *byte       `json:"pf,omitempty"`
	ContentType     string      `json:"ct,omitempty"`
	ResponseTopic   string      `json:"rt,omitempty"`
	CorrelationData []byte      `json:"cd,omitempty"`
	User            [][2]string `json:"up,omitempty"`
}

func propsOf(p *packet.Properties) *storedProps {
	if p == nil || p.Empty() {
		return nil
	}
	sp := &storedProps{ContentType: p.ContentType, ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData}
	if p.Has(packet.PropPayloadFormat) {
		v := p.PayloadFormat
		sp.PayloadFormat = &v
	}
	for _, u := range p.User {
		sp.User = append(sp.User, [2]string{u.Key, u.Value})
	}
	return sp
}

func (sp *storedProps) properties() *packet.Properties {
	if sp == nil {
		return nil
	}
	p := &packet.Properties{}
	if sp.PayloadFormat != nil {
		p.SetUint(packet.PropPayloadFormat, uint32(*sp.PayloadFormat))
	}
	if sp.ContentType != "" {
		p.SetString(packet.PropContentType, sp.ContentType)
	}
	if sp.ResponseTopic != "" {
		p.SetString(packet.PropResponseTopic, sp.ResponseTopic)
	}
	if sp.CorrelationData != nil {
		p.CorrelationData = sp.CorrelationData
		p.Set(packet.PropCorrelationData)
	}
	for _, u := range sp.User {
		p.User = append(p.User, packet.UserProperty{Key: u[0], Value: u[1]})
	}
	return p
}

// store keeps the messages a connection received in a bbolt file: one
// bucket per topic, bounded by historyLimits. bbolt commits each
// transaction with fsync and copy-on-write pages, so a killed explore loses
// at most the last batch, never the file. Messages are written by one
// goroutine in batches so that receiving never waits for the disk.
type store struct {
	db     *bolt.DB
	lim    historyLimits
	log    *slog.Logger
	now    func() time.Time
	queue  chan *broker.Message
	done   chan struct{}
	closed sync.Once

	mu      sync.Mutex // guards seq and dropped
	seq     uint16
	dropped uint64 // messages the queue had no room for

	topics int // topics stored; only the writer goroutine (or openStore before it starts) uses it
}

// openStore opens (creating) the history file at path and removes what is
// beyond the limits.
func openStore(path string, lim historyLimits, log *slog.Logger) (*store, error) {
	return openStoreAt(path, lim, log, time.Now)
}

// openStoreAt is openStore with a clock.
func openStoreAt(path string, lim historyLimits, log *slog.Logger, now func() time.Time) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s is in use by another midge explore", path)
		}
		return nil, err
	}
	s := &store{db: db, lim: lim, log: log, now: now, queue: make(chan *broker.Message, 4096), done: make(chan struct{})}
	if err := s.prune(); err != nil {
		db.Close()
		return nil, err
	}
	go s.run()
	return s, nil
}

// add queues m to be stored without waiting; it is dropped, and counted, if
// the writer is that far behind.
func (s *store) add(m *broker.Message) {
	select {
	case s.queue <- m:
	default:
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
	}
}

// close writes what is queued and closes the file.
func (s *store) close() error {
	var err error
	s.closed.Do(func() {
		close(s.queue)
		<-s.done
		err = s.db.Close()
		s.mu.Lock()
		if s.dropped > 0 {
			s.log.Warn(fmt.Sprintf("explore: %d messages were not stored: the disk could not keep up", s.dropped))
		}
		s.mu.Unlock()
	})
	return err
}

// run writes queued messages in batches, and prunes by age once a minute.
func (s *store) run() {
	defer close(s.done)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-s.queue:
			if !ok {
				return
			}
			batch := []*broker.Message{m}
		more:
			for len(batch) < 512 {
				select {
				case m, ok := <-s.queue:
					if !ok {
						break more
					}
					batch = append(batch, m)
				default:
					break more
				}
			}
			if err := s.write(batch); err != nil {
				s.log.Error("explore: storing history: " + err.Error())
			}
		case <-tick.C:
			if err := s.prune(); err != nil {
				s.log.Error("explore: pruning history: " + err.Error())
			}
		}
	}
}

func (s *store) key(at time.Time) []byte {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	k := make([]byte, 10)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	binary.BigEndian.PutUint16(k[8:], seq)
	return k
}

func keyTime(k []byte) time.Time {
	if len(k) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)))
}

// write stores a batch in one transaction, trimming each topic it touches
// to the count limit.
func (s *store) write(batch []*broker.Message) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		touched := map[string]*bolt.Bucket{}
		for _, m := range batch {
			name := []byte(m.Topic)
			if len(name) == 0 || len(name) > bolt.MaxKeySize {
				continue
			}
			b := tx.Bucket(name)
			if b == nil {
				if s.lim.maxTopics > 0 && s.topics >= s.lim.maxTopics {
					continue
				}
				var err error
				if b, err = tx.CreateBucket(name); err != nil {
					return err
				}
				s.topics++
			}
			at := m.Received
			if at.IsZero() {
				at = s.now()
			}
			n := min(len(m.Payload), s.lim.maxPayload)
			v, err := json.Marshal(record{Payload: m.Payload[:n], Size: len(m.Payload), QoS: m.QoS, Retain: m.Retain,
				Publisher: m.Publisher, Props: propsOf(m.Properties)})
			if err != nil {
				return err
			}
			if err := b.Put(s.key(at), v); err != nil {
				return err
			}
			touched[m.Topic] = b
		}
		for _, b := range touched {
			if err := trim(b, s.lim.count); err != nil {
				return err
			}
		}
		return nil
	})
}

// trim removes the oldest entries of b beyond count. (Bucket.Stats does
// not count what the transaction has just put, so the keys are counted.)
func trim(b *bolt.Bucket, count int) error {
	if count <= 0 {
		return nil
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	if n <= count {
		return nil
	}
	for k, _ := c.First(); k != nil && n > count; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
		n--
	}
	return nil
}

// prune removes the messages older than the age limit, and the topics left
// empty.
func (s *store) prune() error {
	cut := make([]byte, 8) // all zero: nothing is too old without an age limit
	if s.lim.age > 0 {
		binary.BigEndian.PutUint64(cut, uint64(s.now().Add(-s.lim.age).UnixNano()))
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		var empty [][]byte
		n := 0
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n++
			c := b.Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cut) < 0; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
			if k, _ := b.Cursor().First(); k == nil {
				empty = append(empty, append([]byte(nil), name...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range empty {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		s.topics = n - len(empty)
		return nil
	})
}

// storedMessage is one message read back.
type storedMessage struct {
	at  time.Time
	rec record
}

func (sm *storedMessage) message(topic string) *broker.Message {
	return &broker.Message{Topic: topic, Payload: sm.rec.Payload, QoS: sm.rec.QoS, Retain: sm.rec.Retain,
		Publisher: sm.rec.Publisher, Received: sm.at, Properties: sm.rec.Props.properties()}
}

// each calls fn with every stored message, topic by topic, oldest first,
// until fn returns false.
func (s *store) each(fn func(topic string, sm *storedMessage) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		stop := errors.New("stop")
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				sm := &storedMessage{at: keyTime(k)}
				if json.Unmarshal(v, &sm.rec) != nil {
					return nil // skip what cannot be read
				}
				if !fn(string(name), sm) {
					return stop
				}
				return nil
			})
		})
		if err == stop {
			return nil
		}
		return err
	})
}

// topic returns the stored messages of one topic, oldest first.
func (s *store) topic(name string) ([]storedMessage, error) {
	var out []storedMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(name))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			sm := storedMessage{at: keyTime(k)}
			if json.Unmarshal(v, &sm.rec) == nil {
				out = append(out, sm)
			}
			return nil
		})
	})
	return out, err
}
