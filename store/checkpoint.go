package store

import (
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
)

// A checkpoint applies logged batches to the B+tree. Commit starts one on
// its own goroutine when the batches no checkpoint has taken reach
// checkpointBytes (or checkpointBatches), so that the committer goes on
// appending to the log while the B+tree is updated; the log keeps every
// record until a checkpoint that leaves none unapplied is durable (see
// collectLocked). When the log itself holds walFull bytes, Commit waits
// for the running checkpoint and applies the rest itself, and the log
// starts again from its first record.
//
// Reads (Load, LoadQueue, Sync) and Close wait for the running checkpoint
// and apply the rest before they go on (checkpointLocked).

// walFull is how many bytes of records the log may hold before Commit
// checkpoints on the committer's goroutine and starts the log again. It
// leaves room for background checkpoints of checkpointBytes each to run
// while the committer appends.
const walFull = 4 * checkpointBytes

// checkpoint is a checkpoint running on its own goroutine.
type checkpoint struct {
	batches []*preparedBatch // the batches it applies, its own until done is closed
	bytes   int              // their size in the log
	done    chan struct{}    // closed when it has finished
	err     error            // its result, set before done is closed
}

// startCheckpointLocked hands the pending batches to a checkpoint on its own
// goroutine. s.wmu must be held, and no checkpoint be running.
func (s *Bolt) startCheckpointLocked() {
	c := &checkpoint{batches: s.pending, bytes: s.pendingBytes, done: make(chan struct{})}
	seq, alloc, after := s.walSeq, s.wal.alloc, s.afterCheckpoint
	s.pending, s.pendingBytes = make([]*preparedBatch, 0, len(c.batches)), 0
	s.running = c
	go func() {
		defer close(c.done)
		c.err = s.applyBatches(c.batches, seq, alloc)
		if after != nil && c.err == nil {
			after()
		}
	}()
}

// collectLocked ends the running checkpoint, if it has finished, or once it
// has if wait is set. If it failed, its batches go back to the front of
// pending, for the next checkpoint, and its error is returned. If it
// succeeded and no batch was committed since it started, every record of
// the log is applied and the log starts again. s.wmu must be held.
func (s *Bolt) collectLocked(wait bool) error {
	c := s.running
	if c == nil {
		return nil
	}
	if wait {
		<-c.done
	} else {
		select {
		case <-c.done:
		default:
			return nil
		}
	}
	s.running = nil
	if c.err != nil {
		for _, pb := range c.batches {
			pb.refs.reset()
		}
		s.pending = append(c.batches, s.pending...)
		s.pendingBytes += c.bytes
		return c.err
	}
	for _, pb := range c.batches {
		s.batch.put(pb)
	}
	if len(s.pending) == 0 {
		s.wal.reset()
	}
	return nil
}

// checkpointLocked waits for the running checkpoint, applies the pending
// batches to the B+tree in one transaction, and then starts the log again
// from its first record: every record in it is applied. s.wmu must be
// held.
func (s *Bolt) checkpointLocked() error {
	// A failed background checkpoint's batches are back in pending, and
	// are tried again here.
	_ = s.collectLocked(true)
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.applyBatches(s.pending, s.walSeq, s.wal.alloc); err != nil {
		for _, pb := range s.pending {
			pb.refs.reset()
		}
		return err
	}
	for _, pb := range s.pending {
		s.batch.put(pb)
	}
	clear(s.pending)
	s.pending, s.pendingBytes = s.pending[:0], 0
	s.wal.reset()
	return nil
}

// applyBatches applies pbs to the B+tree in one transaction, which also
// records seq, the sequence number of the last of them, and the log's
// length alloc. A delivery put and deleted again within them is not
// written at all. It touches nothing guarded by s.wmu, so it runs on a
// background checkpoint's goroutine as well as under s.wmu.
func (s *Bolt) applyBatches(pbs []*preparedBatch, seq uint64, alloc int64) error {
	skipCancelledPuts(pbs)
	seqb := binary.BigEndian.AppendUint64(nil, seq)
	size := binary.BigEndian.AppendUint64(nil, uint64(alloc))
	err := s.update(func(tx *bolt.Tx) error {
		for _, pb := range pbs {
			if err := s.apply(tx, pb); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyWALApplied, seqb); err != nil {
			return err
		}
		return meta.Put(keyWALSize, size)
	})
	if err != nil && !errors.Is(err, broker.ErrStoreClosed) && !errors.Is(err, ErrCorrupt) {
		err = s.writeErr("checkpoint", err)
	}
	return err
}
