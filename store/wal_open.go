package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"

	bolt "go.etcd.io/bbolt"
)

// walState is what the store file says of its log.
type walState struct {
	id      []byte // the store id
	applied uint64 // the sequence number of the last record applied
	size    int64  // the log's length at the last checkpoint, 0 until the log is made
}

// walState reads the store id, the last record applied and the log's
// recorded length from the meta bucket.
func (s *Bolt) walState() (walState, error) {
	var st walState
	err := s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st.id = bytes.Clone(meta.Get(keyStoreID))
		for _, key := range [][]byte{keyWALApplied, keyWALSize} {
			v := meta.Get(key)
			if v == nil {
				continue
			}
			if len(v) != 8 {
				return s.damaged(fmt.Errorf("%w: %s %x", errRecord, key, v))
			}
			if n := binary.BigEndian.Uint64(v); bytes.Equal(key, keyWALApplied) {
				st.applied = n
			} else {
				st.size = int64(min(n, 1<<62))
			}
		}
		return nil
	})
	return st, err
}

// openWAL opens the write-ahead log of a store of the current format,
// checks that it belongs to the store file and is whole, and applies the
// records a crash left in it, in one transaction, before the store is used.
// A store file whose log was never made (a crash while the store was made
// or upgraded) gets a new one.
func (s *Bolt) openWAL(opts BoltOptions) error {
	st, err := s.walState()
	if err != nil {
		return err
	}
	if len(st.id) != storeIDLen {
		return s.damaged(fmt.Errorf("%w: store id %x", errRecord, st.id))
	}
	w, err := openWALFile(s.path, st.id)
	if errors.Is(err, fs.ErrNotExist) && st.size == 0 {
		// The store was made, or upgraded, and the log not yet: the
		// log's length is recorded once it is made.
		return s.newWAL(st.id, st.applied, opts)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return &corruptError{path: s.path + WALSuffix, store: s.path, kind: damaged, detail: fmt.Sprintf(
			"it is missing: %s was written with it, and it holds the batches committed since the last checkpoint", s.path)}
	}
	if err != nil {
		return err
	}
	res, err := w.scan(st.applied, st.size, s.path)
	if err != nil {
		w.close()
		return err
	}
	if err := s.installWAL(w, res); err != nil {
		return err
	}
	if t := res.torn; t != nil {
		opts.Logger.Warn(fmt.Sprintf("Warning: store %s: dropped the torn final record of its write-ahead log "+
			"(record %d at offset %d): the write a crash interrupted, of a batch never acknowledged.", s.path, t.seq, t.off))
		// Zeroed, so that a shorter record written over it does not
		// leave its end to be read as a torn record again.
		s.wmu.Lock()
		err := w.zeroRange(t.off, t.end)
		s.wmu.Unlock()
		if err != nil {
			return s.writeErr("write-ahead log", err)
		}
	}
	return nil
}

// installWAL makes w the store's log, positioned after its last complete
// record, and applies the records res found beyond the last checkpoint.
func (s *Bolt) installWAL(w *wal, res *walScan) error {
	var replay []*preparedBatch
	for _, r := range res.replay {
		pb := s.batch.get()
		if err := pb.decodeFrom(r.payload); err != nil {
			w.close()
			return &corruptError{path: w.name, store: s.path, kind: damaged, detail: fmt.Sprintf("record %d: %v", r.seq, err)}
		}
		replay = append(replay, pb)
	}
	w.size = res.end
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wal, s.walSeq, s.pending = w, res.last, replay
	return s.checkpointLocked()
}

// newWAL makes the store's log, in place of any file there, and records its
// length, which says the log exists. Its records are numbered on from
// applied, the last record the store file applied: a record numbered at or
// below it would be taken for one applied already.
func (s *Bolt) newWAL(id []byte, applied uint64, opts BoltOptions) error {
	w, err := createWAL(s.path, id, opts.FileMode)
	if err != nil {
		return err
	}
	size := binary.BigEndian.AppendUint64(nil, uint64(w.alloc))
	if err := s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyFormat, []byte("3")); err != nil {
			return err
		}
		if err := meta.Put(keyStoreID, id); err != nil {
			return err
		}
		return meta.Put(keyWALSize, size)
	}); err != nil {
		w.close()
		return err
	}
	return s.installWAL(w, &walScan{end: walHeaderSize, last: applied})
}

// upgradeWAL upgrades a store of format 2, whose log had no header: it
// applies the old log's records, then gives the store an id and a new log.
func (s *Bolt) upgradeWAL(opts BoltOptions) error {
	st, err := s.walState()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(s.path + WALSuffix)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: write-ahead log: %w", err)
	}
	if bytes.HasPrefix(data, walMagic) {
		// The transaction that made the store format 3 is lost (a
		// damaged meta page): the log may hold records it cannot tell.
		return &corruptError{path: s.path, kind: damaged, detail: fmt.Sprintf(
			"it is of store format 2, but its write-ahead log %s is of format 3: the store file is older than its log", s.path+WALSuffix)}
	}
	res := legacyScan(data, st.applied)
	var replay []*preparedBatch
	for _, r := range res.replay {
		pb := s.batch.get()
		if err := pb.decodeFrom(r.payload); err != nil {
			return &corruptError{path: s.path + WALSuffix, store: s.path, kind: damaged, detail: fmt.Sprintf("record %d: %v", r.seq, err)}
		}
		replay = append(replay, pb)
	}
	if len(replay) > 0 {
		// Applied with a stand-in log, which the checkpoint resets.
		s.wmu.Lock()
		s.wal, s.walSeq, s.pending = &wal{alloc: int64(len(data))}, res.last, replay
		err := s.checkpointLocked()
		s.wal = nil
		s.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	id, err := newStoreID()
	if err != nil {
		return err
	}
	return s.newWAL(id, res.last, opts)
}

// walRecord is a record found in the log.
type walRecord struct {
	seq     uint64
	payload []byte
}

// walScan is what scan found in a log.
type walScan struct {
	replay []walRecord // the records after the last one applied, in order
	last   uint64      // the sequence number of the last complete record (the last applied if none)
	end    int64       // the offset after it
	torn   *tornRecord // a torn final record, dropped; nil if none
}

// tornRecord is where a torn final record lies.
type tornRecord struct {
	seq      uint64 // the sequence number it was written with
	off, end int64  // its bytes: from off up to end, which holds zeros or older records
}

// record reads the record at off of data: its sequence number, payload
// length, and whether it is whole (its checksum holds, and it ends before
// the end of data).
func record(data []byte, off int64) (seq uint64, n int64, ok bool) {
	if int64(len(data))-off < walRecHeader {
		return 0, 0, false
	}
	h := data[off : off+walRecHeader]
	n = int64(binary.LittleEndian.Uint32(h[0:4]))
	seq = binary.LittleEndian.Uint64(h[8:16])
	if n > maxWALRecord || off+walRecHeader+n >= int64(len(data)) {
		return seq, n, false
	}
	body := data[off+8 : off+walRecHeader+n]
	return seq, n, crc32.Checksum(body, crcTable) == binary.LittleEndian.Uint32(h[4:8])
}

// maxDamagedRecords is how many records a damaged stretch of the log may
// cover: a record numbered up to this many after the last good one,
// anywhere beyond it, shows that the log goes on after the damage.
const maxDamagedRecords = 16

// scan reads the whole log and returns its records after the one numbered
// applied. minSize is the log's length at the last checkpoint, and path
// the store file's, for errors. See doc.go for the rules.
func (w *wal) scan(applied uint64, minSize int64, path string) (*walScan, error) {
	data := make([]byte, w.alloc)
	if _, err := w.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("store: write-ahead log %s: %w", w.name, err)
	}
	size := int64(len(data))
	bad := func(format string, args ...any) error {
		return &corruptError{path: w.name, store: path, kind: damaged, detail: fmt.Sprintf(format, args...)}
	}
	if size < minSize {
		return nil, bad("truncated: %d bytes, where it had %d at the last checkpoint", size, minSize)
	}
	res := &walScan{last: applied}
	off := int64(walHeaderSize)
	first := true
	for {
		seq, n, ok := record(data, off)
		if !ok || !first && seq != res.last+1 {
			break
		}
		if first && seq > applied+1 {
			return nil, bad("it begins at record %d at offset %d, but %s holds only the records up to %d: "+
				"the records between are lost (the store file is older than its log: restored from a copy, or its newest transaction is damaged)",
				seq, off, path, applied)
		}
		first = false
		res.last = seq
		if seq > applied {
			res.replay = append(res.replay, walRecord{seq, data[off+walRecHeader : off+walRecHeader+n]})
		}
		off += walRecHeader + n
	}
	res.end = off
	if off >= size {
		return nil, bad("truncated: it ends with a record, where midge always leaves room after the last")
	}
	if res.last < applied {
		// The records run up to the last one applied, unless a later
		// run of records has started over them from the start.
		return nil, bad("record %d at offset %d is damaged or missing (the log holds the records up to %d, which %s applied)",
			res.last+1, off, applied, path)
	}
	seq, n, ok := record(data, off)
	if ok {
		if seq <= applied {
			return res, nil // an older run of records, applied
		}
		return nil, bad("record %d is missing: record %d follows record %d at offset %d", res.last+1, seq, res.last, off)
	}
	// Not a record: the end of the log, a torn record, or damage with the
	// log going on beyond it.
	next := seq == res.last+1 // its header names the record that would come next
	from := off + 1
	if next && n <= maxWALRecord && off+walRecHeader+n < size {
		from = off + walRecHeader + n // its header is whole: look beyond its body
	}
	for p := from; p+walRecHeader < size; p++ {
		s := binary.LittleEndian.Uint64(data[p+8 : p+16])
		if s <= res.last+1 || s > res.last+1+maxDamagedRecords {
			continue
		}
		if _, _, ok := record(data, p); ok {
			return nil, bad("record %d at offset %d is damaged, and record %d follows at offset %d: "+
				"the records from %d on are lost", res.last+1, off, s, p, res.last+1)
		}
	}
	if !next {
		// Zeros; or the rest of older, applied records, which the last
		// run of records has overwritten in part; or the first bytes of
		// a record torn within its header. None holds a batch that was
		// acknowledged.
		return res, nil
	}
	// A torn record: zero what follows it up to the last byte written.
	end := size
	for end > off && data[end-1] == 0 {
		end--
	}
	res.torn = &tornRecord{seq: res.last + 1, off: off, end: end}
	return res, nil
}

// zeroRange writes zeros from off up to end, durably.
func (w *wal) zeroRange(off, end int64) error {
	if end <= off {
		return nil
	}
	if _, err := w.f.WriteAt(make([]byte, end-off), off); err != nil {
		return err
	}
	return fdatasync(w.f)
}

// legacyScan reads a log of store format 2, which had no header: reading
// stops at the first record that is incomplete, fails its checksum or does
// not follow its predecessor.
func legacyScan(data []byte, applied uint64) *walScan {
	data = append(data, 0) // a record may end at the end of the file
	res := &walScan{last: applied}
	var last uint64
	for off := int64(0); ; {
		seq, n, ok := record(data, off)
		if !ok || last != 0 && seq != last+1 {
			break
		}
		last = seq
		if seq > applied {
			res.replay = append(res.replay, walRecord{seq, data[off+walRecHeader : off+walRecHeader+n]})
		}
		off += walRecHeader + n
	}
	res.last = max(applied, last)
	return res
}
