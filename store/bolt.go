package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
)

var _ broker.Store = (*Bolt)(nil)

// FormatVersion is the version of the store file layout this midge writes
// and the newest it reads. It is kept in the meta bucket. Format 2 keeps
// each queued message once, in the messages bucket, where format 1 kept a
// copy in every delivery record. Format 3 adds the store id (keyStoreID),
// which the write-ahead log's header repeats, and the log's header; format
// 2 had a log without one. OpenBolt upgrades a file of format 1 or 2.
const FormatVersion = 3

// Buckets and meta keys of the store file.
var (
	bucketMeta     = []byte("meta")     // format, created-by, store-id, wal-applied, wal-size
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
	keyStoreID   = []byte("store-id")   // 16 random bytes, also in the write-ahead log's header
	keyWALSize   = []byte("wal-size")   // big-endian uint64: the log's length at the last checkpoint; absent until the log is made
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
	// Logger receives the warnings of OpenBolt: a torn final log record
	// dropped, a damaged meta page read past. If nil, they are discarded.
	Logger *slog.Logger
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
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
// log holds 2 MB or 4,096 batches not yet applied (on a goroutine of its
// own, while Commits go on appending; see checkpoint.go), before every read
// (Load, LoadQueue, Sync) and at Close; OpenBolt applies what a crash left
// in the log. A
// delivery put and deleted again between two checkpoints (a message its
// subscriber acknowledged) never reaches the B+tree. So a commit costs one
// sequential write, where a bbolt transaction costs two fdatasyncs and the
// pages it changes. bbolt's NoSync mode is never used, because a crash with
// it can leave a torn meta page and a corrupt file. Group commit, many
// clients' changes in one Commit, is the broker's job.
//
// The price is space: until a checkpoint, the logged data is on disk
// twice, and the log is given 10 MB of zeros when it is made (so that an
// append changes no file metadata); the batches not yet applied are also
// held in memory, up to the 8 MB of records the log holds before Commit
// checkpoints on the committer's goroutine. On a full disk, Commit fails with the
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
	// pending, or in the running background checkpoint, to be applied to
	// the B+tree. A background checkpoint's goroutine holds no wmu: it
	// takes mu (a write transaction) and closes its done channel, which
	// whoever holds wmu next reads (collectLocked).
	wmu          sync.Mutex
	wal          *wal             // guarded by wmu: nil until open, and once closed
	walSeq       uint64           // guarded by wmu: the sequence number of the last record
	pending      []*preparedBatch // guarded by wmu: the batches no checkpoint has taken yet
	pendingBytes int              // guarded by wmu: their size in the log
	running      *checkpoint      // guarded by wmu: the checkpoint applying older batches on its own goroutine, nil if none

	// ckptBytes and fullBytes are checkpointBytes and walFull, smaller in
	// tests; zero for those. Guarded by wmu.
	ckptBytes, fullBytes int
	// afterCheckpoint, if set (by tests), is called on a background
	// checkpoint's goroutine once its transaction is durable, before the
	// committer learns of it and may start the log again. Guarded by wmu,
	// and read by the goroutine that startCheckpointLocked starts.
	afterCheckpoint func()
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

// Path returns the path of the store file.
func (s *Bolt) Path() string { return s.path }

// view runs fn in a read transaction. A panic in bbolt (it panics on some
// damaged pages), or a fault reading the mapped file, becomes an error
// wrapping ErrCorrupt.
func (s *Bolt) view(fn func(*bolt.Tx) error) error { return s.inTx(false, fn) }

// update runs fn in a write transaction, as view does.
func (s *Bolt) update(fn func(*bolt.Tx) error) error { return s.inTx(true, fn) }

// inTx runs fn in a write transaction if write is set, else in a read
// transaction, for view and update.
func (s *Bolt) inTx(write bool, fn func(*bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return broker.ErrStoreClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverCorrupt(&err)
	if write {
		return s.db.Update(fn)
	}
	return s.db.View(fn)
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

// writeErr describes a failed write or sync.
func (s *Bolt) writeErr(what string, err error) error {
	hint := ""
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || strings.Contains(err.Error(), "no space left") {
		hint = " (free space on the device: the store is unchanged and usable again once there is room)"
	}
	return fmt.Errorf("store %s: %s: %w%s", s.path, what, err, hint)
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
