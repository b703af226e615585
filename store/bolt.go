package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/midge-mqtt/midge/broker"
)

var _ broker.Store = (*Bolt)(nil)

// FormatVersion is the version of the store file layout this midge writes
// and the newest it reads. It is kept in the meta bucket. Format 2 keeps
// each queued message once, in the messages bucket, where format 1 kept a
// copy in every delivery record; OpenBolt upgrades a format 1 file to 2.
const FormatVersion = 2

// Buckets and meta keys of the store file.
var (
	bucketMeta     = []byte("meta")     // format, created-by
	bucketRetained = []byte("retained") // topic → retained record
	bucketSessions = []byte("sessions") // client id → session record
	bucketQueue    = []byte("queue")    // client id, 0x00, big-endian seq → delivery record
	bucketInbound  = []byte("inbound")  // client id, 0x00, big-endian packet id → inbound record
	bucketMessages = []byte("messages") // big-endian message id → stored message record
	bucketRefs     = []byte("refs")     // big-endian message id → reference count record
	dataBucketsV1  = [][]byte{bucketRetained, bucketSessions, bucketQueue, bucketInbound}
	dataBuckets    = [][]byte{bucketRetained, bucketSessions, bucketQueue, bucketInbound, bucketMessages, bucketRefs}

	keyFormat    = []byte("format")     // FormatVersion in decimal
	keyCreatedBy = []byte("created-by") // BoltOptions.CreatedBy of the midge that made the file
)

// Scans read at most this much in one read transaction, then call the
// caller's functions outside it.
const (
	chunkItems = 256
	chunkBytes = 4 << 20
)

// BoltOptions configures OpenBolt. The zero value is valid.
type BoltOptions struct {
	// LockTimeout bounds the wait for the file lock another process holds.
	// If zero, 1s.
	LockTimeout time.Duration
	// CreatedBy is recorded in a new store file, such as "midge 1.2.0".
	// If empty, "midge".
	CreatedBy string
	// FileMode is the permission of a new store file. If zero, 0600.
	FileMode fs.FileMode
}

func (o BoltOptions) withDefaults() BoltOptions {
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.CreatedBy == "" {
		o.CreatedBy = "midge"
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	return o
}

// Bolt is the on-disk broker.Store: one bbolt file (a copy-on-write B+tree
// with two meta pages; a crash leaves the last committed transaction) and
// a write-ahead log beside it (the file's name with WALSuffix).
//
// Every Commit appends its batch to the log and makes it durable with one
// fdatasync before it returns, whatever Commit's sync argument says: sync
// is a hint this store does not need. A checkpoint applies the logged
// batches to the B+tree in one bbolt transaction, itself durable, when the
// log holds 2 MB or 4,096 batches, before every read (Load, LoadQueue,
// Sync) and at Close; OpenBolt applies what a crash left in the log. A
// delivery put and deleted again between two checkpoints (a message its
// subscriber acknowledged) never reaches the B+tree. So a commit costs one
// sequential write, where a bbolt transaction costs two fdatasyncs and the
// pages it changes. bbolt's NoSync mode is never used, because a crash with
// it can leave a torn meta page and a corrupt file. Group commit, many
// clients' changes in one Commit, is the broker's job.
//
// The price is space: until a checkpoint, the logged data is on disk
// twice, and the log is given 4 MB of zeros when it is made (so that an
// append changes no file metadata). On a full disk, Commit fails with the
// write error; LoadQueue then reads the B+tree with the logged changes laid
// over it in memory.
//
// A Bolt is safe for concurrent use. Load and LoadQueue read in short read
// transactions of up to 256 records and call the caller's functions between
// them, outside any transaction, so the functions may Commit; a record
// present for the whole scan is seen exactly once, in key order, and
// changes committed during the scan may or may not be seen.
type Bolt struct {
	path  string
	batch batchPool // encode buffers, reused between Commits

	mu sync.RWMutex // held for reading by every operation, for writing by Close
	db *bolt.DB     // guarded by mu: nil once closed

	// wmu orders Commits and checkpoints. The batches committed since the
	// last checkpoint are durable in the write-ahead log and wait in
	// pending to be applied to the B+tree.
	wmu          sync.Mutex
	wal          *wal             // guarded by wmu: nil until open, and once closed
	walSeq       uint64           // guarded by wmu: the sequence number of the last record
	pending      []*preparedBatch // guarded by wmu
	pendingBytes int              // guarded by wmu: their size in the log
}

// A checkpoint runs when the log holds this much, or this many batches, and
// before every read.
const (
	checkpointBytes   = 2 << 20
	checkpointBatches = 4096
)

// keyWALApplied in the meta bucket is the sequence number of the last
// write-ahead log record applied to the B+tree.
var keyWALApplied = []byte("wal-applied")

// OpenBolt opens the store file at path, creating it if it does not exist
// (its directory must). It returns an error that says what to do when:
//   - the directory is missing, not writable or not a directory, or path is
//     a directory (the error wraps the OS error, so errors.Is(err,
//     fs.ErrPermission) and the like work);
//   - another process holds the file for longer than opts.LockTimeout
//     (wraps ErrInUse);
//   - the file is damaged, not a midge store (Mosquitto's mosquitto.db is
//     recognized and named), or was written by a newer midge (wraps
//     ErrCorrupt). The file is left as it is; MoveAside moves
//     it out of the way.
//
// A file of an older format (FormatVersion 1) is upgraded in place, in one
// transaction, before OpenBolt returns: a crash during the upgrade leaves
// the old file, which the next OpenBolt upgrades again.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	opts = opts.withDefaults()
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if isMosquittoFile(path) {
			return nil, &corruptError{path: path, kind: mosquitto}
		}
		// Check an existing file read-only first: bbolt may write to a
		// file as it opens it for writing, and a file midge refuses must
		// be left as it is.
		db, err := openDB(path, opts, true)
		if err != nil {
			return nil, err
		}
		ro := &Bolt{path: path, db: db}
		_, err = ro.check()
		_ = ro.Close()
		if err != nil {
			return nil, err
		}
	}
	db, err := openDB(path, opts, false)
	if err != nil {
		return nil, err
	}
	s := &Bolt{path: path, db: db}
	version, err := s.check()
	switch {
	case err != nil:
	case version == 0:
		// A new store has no log: one left beside a deleted file belongs
		// to that file.
		if rerr := os.Remove(path + WALSuffix); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("store: %w", rerr)
			break
		}
		err = s.create(opts)
	case version < FormatVersion:
		err = s.upgrade()
	}
	if err == nil {
		err = s.openWAL(opts)
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// openWAL opens the write-ahead log and applies the records a crash left
// in it, in one transaction, before the store is used.
func (s *Bolt) openWAL(opts BoltOptions) error {
	w, err := openWAL(s.path, opts.FileMode)
	if err != nil {
		return err
	}
	var applied uint64
	if err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyWALApplied); v != nil {
			if len(v) != 8 {
				return s.damaged(fmt.Errorf("%w: %s %x", errRecord, keyWALApplied, v))
			}
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		w.close()
		return err
	}
	var replay []*preparedBatch
	last, err := w.replay(applied, func(seq uint64, payload []byte) error {
		pb := s.batch.get()
		if err := pb.decodeFrom(payload); err != nil {
			return &corruptError{path: s.path + WALSuffix, kind: damaged, detail: fmt.Sprintf("record %d: %v", seq, err)}
		}
		replay = append(replay, pb)
		return nil
	})
	if err != nil {
		w.close()
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wal, s.walSeq, s.pending = w, last, replay
	return s.checkpointLocked()
}

// mosquittoMagic starts Mosquitto's persistence file (mosquitto.db), which
// a mosquitto.conf used as it is points midge at.
var mosquittoMagic = []byte("\x00\xb5\x00mosquitto db")

// isMosquittoFile reports whether the file at path is Mosquitto's.
func isMosquittoFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(mosquittoMagic))
	_, err = io.ReadFull(f, b)
	return err == nil && bytes.Equal(b, mosquittoMagic)
}

// Path returns the path of the store file.
func (s *Bolt) Path() string { return s.path }

// checkPath gives a clear error for the usual mistakes with the location.
func checkPath(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return locationErr(dir, false, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store: persistence_location %s: %w: it must be a directory", dir, syscall.ENOTDIR)
	}
	fi, err = os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("store: %s: %w: the store is a file in persistence_location, named by persistence_file",
			path, syscall.EISDIR)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("store: %s is not a regular file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return locationErr(path, true, err)
	}
	return nil
}

// locationErr describes err, from stat or open of the store's directory
// (file false) or file, with a hint.
func locationErr(name string, file bool, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	hint := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hint = ": create the directory, or set persistence_location to one that exists"
	case errors.Is(err, syscall.EROFS):
		hint = ": the file system is mounted read-only; set persistence_location to a writable one"
	case errors.Is(err, fs.ErrPermission):
		hint = fmt.Sprintf(": let the user midge runs as (uid %d) read and write it, or set persistence_location elsewhere",
			os.Getuid())
	}
	if file {
		return fmt.Errorf("store %s: %w%s", name, err, hint)
	}
	return fmt.Errorf("store: persistence_location %s: %w%s", name, err, hint)
}

// openDB opens the bbolt file. bbolt may panic on a damaged file; that
// becomes an error, and the lock taken before the panic is released (the
// file stays mapped, and so its lock held, until the process ends
// otherwise).
func openDB(path string, opts BoltOptions, readOnly bool) (db *bolt.DB, err error) {
	var files []*os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			for _, f := range files {
				unlock(f)
				_ = f.Close()
			}
			db, err = nil, &corruptError{path: path, kind: damaged, detail: fmt.Sprint(r)}
		}
	}()
	db, err = bolt.Open(path, opts.FileMode, &bolt.Options{
		Timeout:      opts.LockTimeout,
		ReadOnly:     readOnly,
		FreelistType: bolt.FreelistMapType,
		// The freelist is written with every transaction (the default).
		// Without it bbolt rebuilds the freelist at open by walking the
		// file in a goroutine that panics, killing the process, if a
		// page is damaged.
		NoFreelistSync: false,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			if err == nil {
				files = append(files, f)
			}
			return f, err
		},
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("store %s is in use by another process (is another midge running with the same persistence_location?): stop it, or set persistence_location elsewhere: %w",
			path, ErrInUse)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, &corruptError{path: path, kind: damaged, err: err}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.EROFS):
		return nil, locationErr(path, true, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	// Other errors come from reading the file's first pages.
	return nil, &corruptError{path: path, kind: damaged, err: err}
}

// check checks the layout and format version of the store file, and
// returns the version, 0 for a new, empty bbolt file.
func (s *Bolt) check() (version int, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			var names []string
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				names = append(names, strconv.Quote(string(name)))
				return nil
			})
			if len(names) > 0 {
				return &corruptError{path: s.path, kind: foreign,
					detail: "it is a bbolt file with buckets " + strings.Join(names, ", ")}
			}
			return nil
		}
		v := meta.Get(keyFormat)
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return &corruptError{path: s.path, kind: damaged, detail: fmt.Sprintf("format version %q", v)}
		}
		if n > FormatVersion {
			return &corruptError{path: s.path, kind: newer, detail: fmt.Sprintf(
				"store format %d, created by %q; this midge reads format %d", n, meta.Get(keyCreatedBy), FormatVersion)}
		}
		need := dataBuckets
		if n == 1 {
			need = dataBucketsV1
		}
		for _, name := range need {
			if tx.Bucket(name) == nil {
				return &corruptError{path: s.path, kind: damaged, detail: fmt.Sprintf("bucket %q missing", name)}
			}
		}
		version = n
		return nil
	})
	return version, err
}

// create lays out a new store in an empty bbolt file.
func (s *Bolt) create(opts BoltOptions) error {
	return s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		if err := meta.Put(keyCreatedBy, []byte(opts.CreatedBy)); err != nil {
			return err
		}
		for _, name := range dataBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// view runs fn in a read transaction. A panic in bbolt (it panics on some
// damaged pages), or a fault reading the mapped file, becomes an error
// wrapping ErrCorrupt.
func (s *Bolt) view(fn func(*bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return broker.ErrStoreClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverCorrupt(&err)
	return s.db.View(fn)
}

// update runs fn in a write transaction, as view does.
func (s *Bolt) update(fn func(*bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return broker.ErrStoreClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverCorrupt(&err)
	return s.db.Update(fn)
}

// recoverCorrupt turns a panic into an error wrapping ErrCorrupt. bbolt
// rolls back the transaction as the panic passes.
func (s *Bolt) recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = &corruptError{path: s.path, kind: damaged, detail: fmt.Sprint(r)}
	}
}

// damaged returns an error wrapping ErrCorrupt for a bad record.
func (s *Bolt) damaged(err error) error {
	return &corruptError{path: s.path, kind: damaged, err: err}
}

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
	n, err := s.wal.append(s.walSeq+1, pb)
	if err != nil {
		s.batch.put(pb)
		return s.writeErr("commit", err)
	}
	s.walSeq++
	s.pending = append(s.pending, pb)
	s.pendingBytes += n
	if s.pendingBytes >= checkpointBytes || len(s.pending) >= checkpointBatches {
		// The batch is durable in the log: a failed checkpoint is tried
		// again at the next one, and reads report it.
		_ = s.checkpointLocked()
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

// checkpointLocked applies the pending batches to the B+tree in one
// transaction, which also records the last one's sequence number, and then
// empties the log. A delivery put and deleted again within them is not
// written at all. s.wmu must be held.
func (s *Bolt) checkpointLocked() error {
	if len(s.pending) == 0 {
		return nil
	}
	skipCancelledPuts(s.pending)
	seq := binary.BigEndian.AppendUint64(nil, s.walSeq)
	err := s.update(func(tx *bolt.Tx) error {
		for _, pb := range s.pending {
			if err := s.apply(tx, pb); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyWALApplied, seq)
	})
	if err != nil {
		for _, pb := range s.pending {
			pb.refs.reset()
		}
		if !errors.Is(err, broker.ErrStoreClosed) && !errors.Is(err, ErrCorrupt) {
			err = s.writeErr("checkpoint", err)
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

// writeErr describes a failed write or sync.
func (s *Bolt) writeErr(what string, err error) error {
	hint := ""
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || strings.Contains(err.Error(), "no space left") {
		hint = " (free space on the device: the store is unchanged and usable again once there is room)"
	}
	return fmt.Errorf("store %s: %s: %w%s", s.path, what, err, hint)
}

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
		err := scan(ctx, s, bucketRetained, nil, func(_ *bolt.Tx, k, v []byte) (*broker.Message, int, error) {
			m, err := decodeMessage(v)
			if err == nil && m.Topic != string(k) {
				err = fmt.Errorf("%w: topic %q in the record", errRecord, m.Topic)
			}
			if err != nil {
				return nil, 0, fmt.Errorf("retained message %q: %w", k, err)
			}
			return m, len(k) + len(v), nil
		}, l.Retained)
		if err != nil {
			return err
		}
	}
	if l.Session != nil {
		err := scan(ctx, s, bucketSessions, nil, func(tx *bolt.Tx, k, v []byte) (*broker.StoredSession, int, error) {
			ss, err := decodeSession(string(k), v)
			if err != nil {
				return nil, 0, fmt.Errorf("session %q: %w", k, err)
			}
			ss.NextSeq, ss.Queued, err = queueStats(tx.Bucket(bucketQueue), ss.ClientID)
			if err != nil {
				return nil, 0, fmt.Errorf("session %q: %w", k, err)
			}
			return ss, len(k) + len(v), nil
		}, l.Session)
		if err != nil {
			return err
		}
	}
	if l.Inbound != nil {
		type inbound struct {
			id  string
			pid uint16
		}
		err := scan(ctx, s, bucketInbound, nil, func(_ *bolt.Tx, k, v []byte) (inbound, int, error) {
			id, pid, ok := splitInboundKey(k)
			if !ok {
				return inbound{}, 0, fmt.Errorf("%w: inbound key %q", errRecord, k)
			}
			return inbound{id, pid}, len(k) + len(v), nil
		}, func(in inbound) error { return l.Inbound(in.id, in.pid) })
		if err != nil {
			return err
		}
	}
	return nil
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

// Sync makes committed batches durable; as every Commit already is, it
// only flushes the file once more. After Close it returns
// broker.ErrStoreClosed.
func (s *Bolt) Sync(ctx context.Context) error {
	if err := s.flush(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return broker.ErrStoreClosed
	}
	if err := s.db.Sync(); err != nil {
		return s.writeErr("sync", err)
	}
	return nil
}

// Close releases the file and its lock; every committed batch is durable
// already. It waits for running operations; later ones return
// broker.ErrStoreClosed. Closing again does nothing and returns nil.
func (s *Bolt) Close() error {
	s.wmu.Lock()
	var werr error
	if s.wal != nil {
		// Leave the B+tree complete and the log empty; if that fails,
		// the log keeps the batches for the next open.
		werr = s.checkpointLocked()
		if err := s.wal.close(); werr == nil {
			werr = err
		}
		s.wal = nil
		for _, pb := range s.pending {
			s.batch.put(pb)
		}
		s.pending, s.pendingBytes = nil, 0
	}
	s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("store %s: close: %w", s.path, err)
	}
	return nil
}
