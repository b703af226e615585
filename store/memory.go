package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/midge-mqtt/midge/broker"
)

var _ broker.Store = (*Memory)(nil)

// Memory is a broker.Store that keeps everything in memory, for tests and
// for programs that embed the broker and persist nothing across restarts.
// It behaves as the disk store does: it keeps records encoded as the disk
// store writes them, so it accepts and refuses the same batches and returns
// the same values, and nothing it returns aliases what was committed or
// what another call returned. Sync is a no-op; Close empties it.
//
// A Memory is safe for concurrent use. Load and LoadQueue call their
// functions with no lock held, so the functions may Commit; they see a
// snapshot taken when the call began.
type Memory struct {
	batch batchPool // encode buffers, reused between Commits

	mu       sync.RWMutex
	closed   bool                         // guarded by mu
	retained map[string][]byte            // guarded by mu: topic → retained record
	sessions map[string][]byte            // guarded by mu: client id → session record
	queues   map[string]map[uint64][]byte // guarded by mu: client id → seq → delivery record
	inbound  map[string]map[uint16]bool   // guarded by mu: client id → packet ids
	messages map[uint64]*memMessage       // guarded by mu: message id → stored message
}

// memMessage is a stored message and the number of delivery records that
// name it.
type memMessage struct {
	rec  []byte // stored message record; never changed in place
	refs int64
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{
		retained: make(map[string][]byte),
		sessions: make(map[string][]byte),
		queues:   make(map[string]map[uint64][]byte),
		inbound:  make(map[string]map[uint16]bool),
		messages: make(map[uint64]*memMessage),
	}
}

// Commit applies b atomically: it validates and encodes every op first, and
// returns an error wrapping ErrInvalidOp, having applied nothing, if one
// cannot be stored. sync is ignored. After Close it returns
// broker.ErrStoreClosed.
func (s *Memory) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pb := s.batch.get()
	defer s.batch.put(pb)
	if err := pb.prepare(b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return broker.ErrStoreClosed
	}
	for i := range pb.ops {
		s.applyLocked(pb, &pb.ops[i], &b.Ops[i])
	}
	_ = pb.refs.each(func(id uint64, delta int64) error {
		m := s.messages[id]
		var n int64
		if m != nil {
			n = m.refs
		}
		switch n += delta; {
		case n <= 0:
			delete(s.messages, id)
		case m != nil:
			m.refs = n
		default:
			if rec := pb.message(id); rec != nil {
				s.messages[id] = &memMessage{rec: clone(rec), refs: n}
			}
		}
		return nil
	})
	return nil
}

// applyLocked applies one prepared op, p of op, collecting its changes to
// reference counts in pb.refs. s.mu must be held for writing. Records are
// copied out of the batch's arena, which is reused.
func (s *Memory) applyLocked(pb *preparedBatch, p *prepared, op *broker.Op) {
	switch p.kind {
	case broker.OpPutRetained:
		s.retained[op.Msg.Topic] = clone(pb.rec(p))
	case broker.OpDeleteRetained:
		delete(s.retained, op.Topic)
	case broker.OpPutSession:
		s.sessions[op.ClientID] = clone(pb.rec(p))
	case broker.OpDeleteSession:
		for _, rec := range s.queues[op.ClientID] {
			if id, err := deliveryMessageID(rec); err == nil {
				pb.refs.add(id, -1)
			}
		}
		delete(s.sessions, op.ClientID)
		delete(s.queues, op.ClientID)
		delete(s.inbound, op.ClientID)
	case broker.OpPutDelivery:
		q := s.queues[op.ClientID]
		if q == nil {
			q = make(map[uint64][]byte)
			s.queues[op.ClientID] = q
		}
		if old, ok := q[op.Seq]; ok {
			if id, err := deliveryMessageID(old); err == nil {
				pb.refs.add(id, -1)
			}
		}
		q[op.Seq] = clone(pb.rec(p))
		pb.refs.add(p.msg, 1)
	case broker.OpDeleteDelivery:
		if q := s.queues[op.ClientID]; q != nil {
			if old, ok := q[op.Seq]; ok {
				if id, err := deliveryMessageID(old); err == nil {
					pb.refs.add(id, -1)
				}
				delete(q, op.Seq)
			}
			if len(q) == 0 {
				delete(s.queues, op.ClientID)
			}
		}
	case broker.OpReleaseDelivery:
		q := s.queues[op.ClientID]
		if rec, ok := q[op.Seq]; ok {
			// Records are never changed in place: a Load may be decoding
			// this one.
			if r, err := releasedRecord(rec); err == nil {
				q[op.Seq] = r
			}
		}
	case broker.OpPutInbound:
		ids := s.inbound[op.ClientID]
		if ids == nil {
			ids = make(map[uint16]bool)
			s.inbound[op.ClientID] = ids
		}
		ids[op.PacketID] = true
	case broker.OpDeleteInbound:
		if ids := s.inbound[op.ClientID]; ids != nil {
			delete(ids, op.PacketID)
			if len(ids) == 0 {
				delete(s.inbound, op.ClientID)
			}
		}
	}
}

// Load calls l's functions, in this order: MaxMessageID once, with the
// highest message id in the store; then for every retained message in
// topic order, every session in client identifier order (with NextSeq and
// Queued computed from its queue), and every inbound packet identifier in
// client identifier, then identifier order. A nil function skips its kind.
// It stops at the first error a function returns and returns it.
func (s *Memory) Load(ctx context.Context, l broker.Loader) error {
	type sess struct {
		id      string
		rec     []byte
		next    uint64
		queued  int
		inbound []uint16
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return broker.ErrStoreClosed
	}
	var maxID uint64
	for id := range s.messages {
		maxID = max(maxID, id)
	}
	var retained [][]byte
	if l.Retained != nil {
		for _, t := range slices.Sorted(maps.Keys(s.retained)) {
			retained = append(retained, s.retained[t])
		}
	}
	var sessions []sess
	if l.Session != nil {
		for _, id := range slices.Sorted(maps.Keys(s.sessions)) {
			ss := sess{id: id, rec: s.sessions[id], queued: len(s.queues[id])}
			for seq := range s.queues[id] {
				ss.next = max(ss.next, seq+1)
			}
			sessions = append(sessions, ss)
		}
	}
	var inbound []sess
	if l.Inbound != nil {
		for _, id := range slices.Sorted(maps.Keys(s.inbound)) {
			inbound = append(inbound, sess{id: id, inbound: slices.Sorted(maps.Keys(s.inbound[id]))})
		}
	}
	s.mu.RUnlock()

	if l.MaxMessageID != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.MaxMessageID(maxID); err != nil {
			return err
		}
	}
	for _, rec := range retained {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := decodeMessage(rec)
		if err != nil {
			return fmt.Errorf("store: retained message: %w", err)
		}
		if err := l.Retained(m); err != nil {
			return err
		}
	}
	for _, ss := range sessions {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := decodeSession(ss.id, ss.rec)
		if err != nil {
			return fmt.Errorf("store: session %q: %w", ss.id, err)
		}
		st.NextSeq, st.Queued = ss.next, ss.queued
		if err := l.Session(st); err != nil {
			return err
		}
	}
	for _, ss := range inbound {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, id := range ss.inbound {
			if err := l.Inbound(ss.id, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadQueue calls fn for each delivery queued for clientID, in sequence
// order, with its message, and returns the first error fn returns.
// Consecutive deliveries of one message share one *Message. A client
// identifier that cannot be stored (empty, or with NUL) yields an error
// wrapping ErrInvalidOp.
func (s *Memory) LoadQueue(ctx context.Context, clientID string, fn func(*broker.StoredDelivery) error) error {
	if err := checkClientID(clientID); err != nil {
		return fmt.Errorf("%w: LoadQueue: %w", ErrInvalidOp, err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return broker.ErrStoreClosed
	}
	q := s.queues[clientID]
	seqs := slices.Sorted(maps.Keys(q))
	recs := make([][]byte, len(seqs))
	msgs := make([][]byte, len(seqs)) // the message records the deliveries name, as they are now
	for i, seq := range seqs {
		recs[i] = q[seq]
		if id, err := deliveryMessageID(recs[i]); err == nil {
			if m := s.messages[id]; m != nil {
				msgs[i] = m.rec
			}
		}
	}
	s.mu.RUnlock()

	var mc messageCache
	for i, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := decodeDelivery(seq, recs[i])
		if err == nil && mc.get(d.ID) == nil {
			_, err = mc.decode(d.ID, msgs[i])
		}
		if err != nil {
			return fmt.Errorf("store: delivery %d of %q: %w", seq, clientID, err)
		}
		d.Msg = mc.get(d.ID)
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// Sync does nothing; after Close it returns broker.ErrStoreClosed.
func (s *Memory) Sync(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return broker.ErrStoreClosed
	}
	return nil
}

// Close empties the store; later calls of its other methods return
// broker.ErrStoreClosed. Closing again does nothing.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.retained, s.sessions, s.queues, s.inbound, s.messages = nil, nil, nil, nil, nil
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
