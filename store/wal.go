package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// WALSuffix names the write-ahead log beside a store file: midge.db has
// midge.db-wal.
const WALSuffix = "-wal"

// The write-ahead log holds the batches committed since the last
// checkpoint, each made durable by one write and one fdatasync. A
// checkpoint applies them to the B+tree in one bbolt transaction, which
// also records the sequence number of the last batch applied (keyWALApplied
// in the meta bucket), and then starts the log again from its first record.
// OpenBolt replays what the log holds beyond that number. See doc.go for
// how damage is told from the tail a crash leaves.
//
// The file starts with a header of walHeaderSize bytes, written once when
// the log is made:
//
//	[0:8]   walMagic
//	[8:12]  walVersion, little endian
//	[12:28] the store id, also kept in the store file (keyStoreID)
//	[28:32] CRC-32C of bytes 0 to 28
//
// Then come the records, each a 16-byte header and the payload (an encoded
// preparedBatch):
//
//	[0:4]  payload length, little endian
//	[4:8]  CRC-32C of bytes 8 to the end of the payload
//	[8:16] sequence number, little endian, increasing by one per record
type wal struct {
	f     *os.File
	name  string // the file's name, for errors
	size  int64  // offset after the last complete record
	alloc int64  // the file's length, in zeros where nothing was written: a record always ends before it
	buf   []byte // encode buffer, reused
}

// walPrealloc is the length the log is given, in zeros, when it is made:
// an append within it changes no file metadata, so its fdatasync writes the
// data alone (appending to a growing file also commits the file system's
// journal, several times slower). The log is not truncated after a
// checkpoint; new records overwrite old ones from the start, and reading
// stops where the sequence numbers stop following each other. A record
// that would reach the end of the file first extends it with zeros,
// durably: so a record never reaches the end of the file, and a log that
// ends within or right after a record was cut short.
const walPrealloc = walFull + checkpointBytes + walHeaderSize

// walMinAlloc is the length a log is given when there is no room for
// walPrealloc, and the least it grows by.
const walMinAlloc = 64 << 10

const (
	walHeaderSize = 4096 // the file header, one page, so no record shares its page
	walRecHeader  = 16   // a record's header
	walVersion    = 1
	storeIDLen    = 16
)

var walMagic = []byte("midgewal")

// maxWALRecord bounds one record's payload: a length beyond it is a torn
// header, not a batch.
const maxWALRecord = 1 << 30

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// newStoreID returns a random store id.
func newStoreID() ([]byte, error) {
	id := make([]byte, storeIDLen)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("store: store id: %w", err)
	}
	return id, nil
}

// walHeaderBytes returns the header of a log of the store with id.
func walHeaderBytes(id []byte) []byte {
	h := make([]byte, walHeaderSize)
	copy(h, walMagic)
	binary.LittleEndian.PutUint32(h[8:12], walVersion)
	copy(h[12:28], id)
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(h[:28], crcTable))
	return h
}

// createWAL makes a new, empty log for the store with id at path, in place
// of any file there: it is written whole under a temporary name and renamed,
// so that a crash leaves either no log or a complete one.
func createWAL(path string, id []byte, mode fs.FileMode) (*wal, error) {
	name := path + WALSuffix
	tmp := name + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return nil, fmt.Errorf("store: write-ahead log: %w", err)
	}
	w := &wal{f: f, name: name}
	fail := func(err error) (*wal, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("store: write-ahead log %s: %w", name, err)
	}
	if _, err := f.WriteAt(walHeaderBytes(id), 0); err != nil {
		return fail(err)
	}
	w.alloc, w.size = walHeaderSize, walHeaderSize
	if err := w.zero(walPrealloc); err != nil {
		// No room for it (a nearly full disk): a smaller log, which
		// grows when it must.
		if err := w.zero(walHeaderSize + walMinAlloc); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, name); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(name))
	return w, nil
}

// openWALFile opens the existing log of the store file at path and checks
// that its header names the store id. It returns an error wrapping
// fs.ErrNotExist if there is no log, and a corruptError if the header is
// not the store's.
func openWALFile(path string, id []byte) (*wal, error) {
	name := path + WALSuffix
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	w := &wal{f: f, name: name}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: write-ahead log %s: %w", name, err)
	}
	w.alloc = fi.Size()
	h := make([]byte, 32)
	if n, _ := f.ReadAt(h, 0); n < len(h) || w.alloc < walHeaderSize {
		f.Close()
		return nil, &corruptError{path: name, store: path, kind: damaged,
			detail: fmt.Sprintf("truncated: %d bytes, shorter than its header", w.alloc)}
	}
	switch {
	case !bytes.Equal(h[:8], walMagic) ||
		binary.LittleEndian.Uint32(h[28:32]) != crc32.Checksum(h[:28], crcTable):
		f.Close()
		return nil, &corruptError{path: name, store: path, kind: damaged, detail: "its header is damaged, or it is not a midge write-ahead log"}
	case binary.LittleEndian.Uint32(h[8:12]) != walVersion:
		f.Close()
		return nil, &corruptError{path: name, store: path, kind: newer, detail: fmt.Sprintf("log version %d", binary.LittleEndian.Uint32(h[8:12]))}
	case !bytes.Equal(h[12:28], id):
		f.Close()
		return nil, &corruptError{path: name, store: path, kind: damaged, detail: fmt.Sprintf(
			"it is the log of another store (store id %x, where %s has %x): the store file was replaced or restored from a copy without its log",
			h[12:28], filepath.Base(path), id)}
	}
	w.size = walHeaderSize
	return w, nil
}

// zero extends the log to n bytes of zeros, durably. On an error w.alloc
// is unchanged and the file is cut back to it.
func (w *wal) zero(n int64) error {
	chunk := make([]byte, min(1<<20, n-w.alloc))
	var err error
	for off := w.alloc; off < n && err == nil; off += int64(len(chunk)) {
		_, err = w.f.WriteAt(chunk[:min(int64(len(chunk)), n-off)], off)
	}
	if err == nil {
		err = w.f.Sync() // the new length must be durable too
	}
	if err != nil {
		_ = w.f.Truncate(w.alloc)
		return err
	}
	w.alloc = n
	return nil
}

// append writes one record and makes it durable. On an error the log is as
// it was before: a partial record is zeroed, so that no later record
// follows it.
func (w *wal) append(seq uint64, pb *preparedBatch) (int, error) {
	var header [walRecHeader]byte // filled in below
	b := append(w.buf[:0], header[:]...)
	b = pb.appendTo(b)
	n := len(b) - walRecHeader
	binary.LittleEndian.PutUint32(b[0:4], uint32(n))
	binary.LittleEndian.PutUint64(b[8:16], seq)
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crcTable))
	if cap(b) <= maxPooledArena {
		w.buf = b
	}
	end := w.size + int64(len(b))
	if end >= w.alloc {
		// Room first, durably, so that the record ends before the end
		// of the file (see walPrealloc).
		if err := w.zero(max(end+walMinAlloc, min(2*w.alloc, end+walPrealloc))); err != nil {
			if err := w.zero(end + 1); err != nil {
				return 0, err
			}
		}
	}
	_, err := w.f.WriteAt(b, w.size)
	if err == nil {
		err = fdatasync(w.f)
	}
	if err != nil {
		_, _ = w.f.WriteAt(make([]byte, len(b)), w.size)
		return 0, err
	}
	w.size = end
	return len(b), nil
}

// reset starts the log again from its first record after a checkpoint. The
// old records stay until new ones overwrite them: reading skips those the
// checkpoint applied, and stops at the first whose sequence number does not
// follow (see scan).
func (w *wal) reset() { w.size = walHeaderSize }

func (w *wal) close() error { return w.f.Close() }
