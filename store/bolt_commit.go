package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
)

// Commit applies b in one bbolt transaction, made durable before Commit
// returns whatever sync says. It returns an error wrapping ErrInvalidOp,
// having applied nothing, if an op of b cannot be stored; the error of the
// write if the transaction failed (such as no space left on the device),
// after which the store is unchanged and still usable; and
// broker.ErrStoreClosed after Close.
func (s *Bolt) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Len() == 0 {
		// Nothing to write, and every earlier commit is durable already.
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.db == nil {
			return broker.ErrStoreClosed
		}
		return nil
	}
	pb := s.batch.get()
	if err := pb.prepare(b); err != nil {
		s.batch.put(pb)
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wal == nil {
		s.batch.put(pb)
		return broker.ErrStoreClosed
	}
	// A finished checkpoint first: if it left no record unapplied, this
	// batch starts the log again.
	_ = s.collectLocked(false)
	n, err := s.wal.append(s.walSeq+1, pb)
	if err != nil {
		s.batch.put(pb)
		return s.writeErr("commit", err)
	}
	s.walSeq++
	s.pending = append(s.pending, pb)
	s.pendingBytes += n
	// The batch is durable in the log: a failed checkpoint is tried again
	// at the next one, and reads report it.
	switch {
	case s.wal.size-walHeaderSize >= int64(cmp.Or(s.fullBytes, walFull)) || len(s.pending) >= 4*checkpointBatches:
		// The log is full: wait for the running checkpoint, apply the
		// rest, and start the log again.
		_ = s.checkpointLocked()
	case s.running == nil && (s.pendingBytes >= cmp.Or(s.ckptBytes, checkpointBytes) || len(s.pending) >= checkpointBatches):
		s.startCheckpointLocked()
	}
	return nil
}

// flush applies the batches waiting in the write-ahead log to the B+tree,
// for a read to see them.
func (s *Bolt) flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.checkpointLocked()
}

// skipCancelledPuts marks the PutDelivery ops of pbs that a later
// DeleteDelivery of the same key undoes. The delete stays: it removes an
// older record under the key, if there is one, as it would have.
func skipCancelledPuts(pbs []*preparedBatch) {
	type pos struct{ b, o int }
	deleted := make(map[string]pos)
	for bi, pb := range pbs {
		for oi := range pb.ops {
			if p := &pb.ops[oi]; p.kind == broker.OpDeleteDelivery {
				deleted[string(pb.key(p))] = pos{bi, oi}
			}
		}
	}
	if len(deleted) == 0 {
		return
	}
	for bi, pb := range pbs {
		for oi := range pb.ops {
			p := &pb.ops[oi]
			if p.kind != broker.OpPutDelivery {
				continue
			}
			if d, ok := deleted[string(pb.key(p))]; ok && (d.b > bi || d.b == bi && d.o > oi) {
				p.skip = true
			}
		}
	}
}

// apply applies prepared ops in tx, in order, then the reference count
// changes they add up to.
func (s *Bolt) apply(tx *bolt.Tx, pb *preparedBatch) error {
	ret, sess, q, in := tx.Bucket(bucketRetained), tx.Bucket(bucketSessions), tx.Bucket(bucketQueue), tx.Bucket(bucketInbound)
	msgs, refs := tx.Bucket(bucketMessages), tx.Bucket(bucketRefs)
	if ret == nil || sess == nil || q == nil || in == nil || msgs == nil || refs == nil {
		return &corruptError{path: s.path, kind: damaged, detail: "a bucket is missing"}
	}
	// One cursor for every look-up of a queue record: Seek starts from the
	// root each time and sees this transaction's changes, and a reused
	// cursor does not allocate.
	qc := q.Cursor()
	lookup := func(key []byte) []byte {
		k, v := qc.Seek(key)
		if !bytes.Equal(k, key) {
			return nil
		}
		return v
	}
	rc := &pb.refs
	for i := range pb.ops {
		p := &pb.ops[i]
		key := pb.key(p)
		var err error
		switch p.kind {
		case broker.OpPutRetained:
			err = ret.Put(key, pb.rec(p))
		case broker.OpDeleteRetained:
			err = ret.Delete(key)
		case broker.OpPutSession:
			err = sess.Put(key, pb.rec(p))
		case broker.OpDeleteSession:
			err = sess.Delete(key[:len(key)-1])
			if err == nil {
				err = deleteQueue(q, key, rc)
			}
			if err == nil {
				err = deletePrefix(in, key)
			}
		case broker.OpPutDelivery:
			if p.skip {
				continue
			}
			if old := lookup(key); old != nil {
				// A record that cannot be read names no message we can
				// tell; its count is left as it is.
				if id, rerr := deliveryMessageID(old); rerr == nil {
					rc.add(id, -1)
				}
			}
			err = q.Put(key, pb.rec(p))
			rc.add(p.msg, 1)
		case broker.OpDeleteDelivery:
			if old := lookup(key); old != nil {
				if id, rerr := deliveryMessageID(old); rerr == nil {
					rc.add(id, -1)
				}
				err = qc.Delete()
			}
		case broker.OpReleaseDelivery:
			if v := lookup(key); v != nil {
				// A malformed record is left for LoadQueue to report.
				if r, rerr := releasedRecord(v); rerr == nil {
					err = q.Put(key, r)
				}
			}
		case broker.OpPutInbound:
			err = in.Put(key, pb.rec(p))
		case broker.OpDeleteInbound:
			err = in.Delete(key)
		}
		if err != nil {
			return fmt.Errorf("op %d (%s): %w", i, kindName(p.kind), err)
		}
	}
	// Keys and records must stay valid until the transaction ends: they
	// are appended to the arena, which is not written over before then.
	return rc.each(func(id uint64, delta int64) error {
		k0 := len(pb.arena)
		pb.arena = appendMessageID(pb.arena, id)
		key := pb.arena[k0:len(pb.arena):len(pb.arena)]
		var n int64
		if v := refs.Get(key); v != nil {
			// A count that cannot be read is taken as 0: the message
			// goes unless this batch adds references, and a delivery
			// left without it is reported by LoadQueue.
			if c, err := decodeRefs(v); err == nil && c <= 1<<62 {
				n = int64(c)
			}
		}
		n += delta
		if n <= 0 {
			if err := refs.Delete(key); err != nil {
				return fmt.Errorf("message %d: %w", id, err)
			}
			if err := msgs.Delete(key); err != nil {
				return fmt.Errorf("message %d: %w", id, err)
			}
			return nil
		}
		r0 := len(pb.arena)
		pb.arena = appendRefs(pb.arena, uint64(n))
		if err := refs.Put(key, pb.arena[r0:len(pb.arena):len(pb.arena)]); err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		if msgs.Get(key) == nil {
			if rec := pb.message(id); rec != nil {
				if err := msgs.Put(key, rec); err != nil {
					return fmt.Errorf("message %d: %w", id, err)
				}
			}
		}
		return nil
	})
}

// deleteQueue deletes every queue record whose key starts with prefix,
// dropping the references they hold.
func deleteQueue(q *bolt.Bucket, prefix []byte, rc *refChanges) error {
	var keys [][]byte
	c := q.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if id, err := deliveryMessageID(v); err == nil {
			rc.add(id, -1)
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := q.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deletePrefix deletes every key of b that starts with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
