package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
)

// Load calls l's functions, in this order: MaxMessageID once, with the
// highest message id in the store; then for every retained message in
// topic order, every session in client identifier order (with NextSeq and
// Queued computed from its queue; NextSeq is 0 for an empty queue), and
// every inbound packet identifier in client identifier, then identifier
// order. A nil function skips its kind. It stops at the first error a
// function returns and returns it. A damaged file or record yields an error
// wrapping ErrCorrupt.
func (s *Bolt) Load(ctx context.Context, l broker.Loader) error {
	if err := s.flush(); err != nil {
		return err
	}
	if l.MaxMessageID != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		var maxID uint64
		err := s.view(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketMessages, bucketRefs} {
				b := tx.Bucket(name)
				if b == nil {
					return s.damaged(fmt.Errorf("bucket %q missing", name))
				}
				k, _ := b.Cursor().Last()
				if k == nil {
					continue
				}
				if len(k) != 8 {
					return s.damaged(fmt.Errorf("%w: key %q in bucket %q", errRecord, k, name))
				}
				maxID = max(maxID, binary.BigEndian.Uint64(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := l.MaxMessageID(maxID); err != nil {
			return err
		}
	}
	if l.Retained != nil {
		if err := scan(ctx, s, bucketRetained, nil, retainedRecord, l.Retained); err != nil {
			return err
		}
	}
	if l.Session != nil {
		if err := scan(ctx, s, bucketSessions, nil, sessionRecord, l.Session); err != nil {
			return err
		}
	}
	if l.Inbound != nil {
		emit := func(in inboundID) error { return l.Inbound(in.clientID, in.packetID) }
		if err := scan(ctx, s, bucketInbound, nil, inboundRecord, emit); err != nil {
			return err
		}
	}
	return nil
}

// retainedRecord decodes the record of a retained message, under its topic
// in the retained bucket, for scan.
func retainedRecord(_ *bolt.Tx, k, v []byte) (*broker.Message, int, error) {
	m, err := decodeMessage(v)
	if err == nil && m.Topic != string(k) {
		err = fmt.Errorf("%w: topic %q in the record", errRecord, m.Topic)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("retained message %q: %w", k, err)
	}
	return m, len(k) + len(v), nil
}

// sessionRecord decodes the record of a session, under its client
// identifier in the sessions bucket, for scan, with NextSeq and Queued
// computed from its queue.
func sessionRecord(tx *bolt.Tx, k, v []byte) (*broker.StoredSession, int, error) {
	ss, err := decodeSession(string(k), v)
	if err != nil {
		return nil, 0, fmt.Errorf("session %q: %w", k, err)
	}
	ss.NextSeq, ss.Queued, err = queueStats(tx.Bucket(bucketQueue), ss.ClientID)
	if err != nil {
		return nil, 0, fmt.Errorf("session %q: %w", k, err)
	}
	return ss, len(k) + len(v), nil
}

// inboundID is an inbound packet identifier of a client.
type inboundID struct {
	clientID string
	packetID uint16
}

// inboundRecord decodes the key of an inbound packet identifier in the
// inbound bucket, for scan.
func inboundRecord(_ *bolt.Tx, k, v []byte) (inboundID, int, error) {
	id, pid, ok := splitInboundKey(k)
	if !ok {
		return inboundID{}, 0, fmt.Errorf("%w: inbound key %q", errRecord, k)
	}
	return inboundID{id, pid}, len(k) + len(v), nil
}

// queueStats returns one more than the highest sequence number queued for
// clientID (0 if none) and the number queued, reading only keys.
func queueStats(q *bolt.Bucket, clientID string) (next uint64, n int, err error) {
	prefix := prefixKey(clientID)
	c := q.Cursor()
	var last []byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			return 0, 0, fmt.Errorf("%w: queue key %q", errRecord, k)
		}
		last = k
		n++
	}
	if last != nil {
		next = seqOf(last) + 1
	}
	return next, n, nil
}

// LoadQueue calls fn for each delivery queued for clientID, in sequence
// order, with its message, and returns the first error fn returns.
// Consecutive deliveries of one message share one *Message. A damaged file
// or record, or a delivery whose message is missing, yields an error
// wrapping ErrCorrupt; a client identifier that cannot be stored (empty,
// or with NUL) one wrapping ErrInvalidOp.
func (s *Bolt) LoadQueue(ctx context.Context, clientID string, fn func(*broker.StoredDelivery) error) error {
	if err := checkClientID(clientID); err != nil {
		return fmt.Errorf("%w: LoadQueue: %w", ErrInvalidOp, err)
	}
	if err := s.flush(); err != nil {
		if errors.Is(err, broker.ErrStoreClosed) || errors.Is(err, ErrCorrupt) {
			return err
		}
		// The log holds batches the B+tree cannot take now (a full disk):
		// read the queue with them laid over it.
		return s.loadQueuePending(ctx, clientID, fn)
	}
	prefix := prefixKey(clientID)
	var mc messageCache
	var mr messageReader
	return scan(ctx, s, bucketQueue, prefix, func(tx *bolt.Tx, k, v []byte) (*broker.StoredDelivery, int, error) {
		if len(k) != len(prefix)+8 {
			return nil, 0, fmt.Errorf("%w: queue key %q", errRecord, k)
		}
		d, err := decodeDelivery(seqOf(k), v)
		if err != nil {
			return nil, 0, fmt.Errorf("delivery %d of %q: %w", seqOf(k), clientID, err)
		}
		size := len(k) + len(v)
		if d.Msg = mc.get(d.ID); d.Msg == nil {
			rec, err := mr.get(tx, d.ID)
			if err != nil {
				return nil, 0, err
			}
			if d.Msg, err = mc.decode(d.ID, rec); err != nil {
				return nil, 0, fmt.Errorf("delivery %d of %q: %w", d.Seq, clientID, err)
			}
			size += len(rec)
		}
		return d, size, nil
	}, fn)
}

// messageReader reads stored message records by id, in the read
// transactions of a scan.
type messageReader struct {
	tx  *bolt.Tx     // the transaction c belongs to
	c   *bolt.Cursor // a cursor of the messages bucket, reused: Get makes one for each call
	at  []byte       // the key c is at, nil if none
	key [8]byte
}

// get returns the record of message id in tx, nil if there is none.
// Deliveries queued in order name their messages in increasing id order,
// so it looks at the key after the last one before it seeks.
func (r *messageReader) get(tx *bolt.Tx, id uint64) ([]byte, error) {
	if tx != r.tx {
		b := tx.Bucket(bucketMessages)
		if b == nil {
			return nil, fmt.Errorf("bucket %q missing", bucketMessages)
		}
		r.tx, r.c, r.at = tx, b.Cursor(), nil
	}
	want := appendMessageID(r.key[:0], id)
	if r.at != nil && bytes.Compare(r.at, want) < 0 {
		k, v := r.c.Next()
		if r.at = k; bytes.Equal(k, want) {
			return v, nil
		}
		if k != nil && bytes.Compare(k, want) > 0 {
			return nil, nil
		}
	}
	k, v := r.c.Seek(want)
	if r.at = k; !bytes.Equal(k, want) {
		return nil, nil
	}
	return v, nil
}

// scan decodes the records of bucket whose keys start with prefix, in key
// order, in read transactions of at most chunkItems records or chunkBytes
// bytes (as decode counts them), and calls emit for each outside the
// transaction. Errors from decode wrap ErrCorrupt; errors from emit are
// returned as they are.
func scan[T any](ctx context.Context, s *Bolt, bucket, prefix []byte,
	decode func(tx *bolt.Tx, k, v []byte) (T, int, error), emit func(T) error) error {
	var after []byte // the last key decoded
	items := make([]T, 0, 16)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		items = items[:0]
		done := false
		err := s.view(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			if b == nil {
				return s.damaged(fmt.Errorf("bucket %q missing", bucket))
			}
			c := b.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.Seek(prefix)
			} else if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
			size := 0
			for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if len(items) == chunkItems || size >= chunkBytes {
					return nil
				}
				if v == nil {
					return s.damaged(fmt.Errorf("%w: nested bucket %q in %q", errRecord, k, bucket))
				}
				it, n, err := decode(tx, k, v)
				if err != nil {
					return s.damaged(err)
				}
				items = append(items, it)
				size += n
				after = append(after[:0], k...)
			}
			done = true
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := emit(it); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// loadQueuePending is LoadQueue for when a checkpoint fails: it reads the
// client's queue from the B+tree at once and applies the pending batches'
// changes to it in memory, as a checkpoint would.
func (s *Bolt) loadQueuePending(ctx context.Context, clientID string, fn func(*broker.StoredDelivery) error) error {
	prefix := prefixKey(clientID)
	type entry struct{ rec, msg []byte } // msg nil: in the B+tree
	queue := make(map[uint64]*entry)
	msgs := make(map[uint64][]byte)
	s.wmu.Lock()
	_ = s.collectLocked(true) // a failed checkpoint's batches are back in pending
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 || v == nil {
				return s.damaged(fmt.Errorf("%w: queue key %q", errRecord, k))
			}
			queue[seqOf(k)] = &entry{rec: bytes.Clone(v)}
		}
		return nil
	})
	for _, pb := range s.pending {
		for _, m := range pb.msgs {
			msgs[m.id] = bytes.Clone(pb.arena[m.r0:m.r1])
		}
		for i := range pb.ops {
			p := &pb.ops[i]
			key := pb.key(p)
			if p.kind == broker.OpDeleteSession {
				if bytes.Equal(key, prefix) {
					clear(queue)
				}
				continue
			}
			if len(key) != len(prefix)+8 || !bytes.HasPrefix(key, prefix) {
				continue
			}
			seq := seqOf(key)
			switch p.kind {
			case broker.OpPutDelivery:
				queue[seq] = &entry{rec: bytes.Clone(pb.rec(p)), msg: msgs[p.msg]}
			case broker.OpDeleteDelivery:
				delete(queue, seq)
			case broker.OpReleaseDelivery:
				if e := queue[seq]; e != nil {
					if r, rerr := releasedRecord(e.rec); rerr == nil {
						e.rec = r
					}
				}
			}
		}
	}
	s.wmu.Unlock()
	if err != nil {
		return err
	}
	seqs := slices.Sorted(maps.Keys(queue))
	var mc messageCache
	var mr messageReader
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := queue[seq]
		d, err := decodeDelivery(seq, e.rec)
		if err != nil {
			return s.damaged(fmt.Errorf("delivery %d of %q: %w", seq, clientID, err))
		}
		if d.Msg = mc.get(d.ID); d.Msg == nil {
			rec := e.msg
			if rec == nil {
				if rec = msgs[d.ID]; rec == nil {
					if err := s.view(func(tx *bolt.Tx) error {
						r, err := mr.get(tx, d.ID)
						rec = bytes.Clone(r)
						return err
					}); err != nil {
						return err
					}
				}
			}
			if d.Msg, err = mc.decode(d.ID, rec); err != nil {
				return s.damaged(fmt.Errorf("delivery %d of %q: %w", seq, clientID, err))
			}
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}
