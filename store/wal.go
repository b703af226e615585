package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/midge-mqtt/midge/broker"
)

// WALSuffix names the write-ahead log beside a store file: midge.db has
// midge.db-wal.
const WALSuffix = "-wal"

// The write-ahead log holds the batches committed since the last
// checkpoint, each made durable by one append and one fdatasync. A
// checkpoint applies them to the B+tree in one bbolt transaction, which
// also records the sequence number of the last batch applied (keyWALApplied
// in the meta bucket), and then empties the log. OpenBolt replays what the
// log holds beyond that number.
//
// A record is a 16-byte header, then the payload (an encoded
// preparedBatch):
//
//	[0:4]  payload length, little endian
//	[4:8]  CRC-32C of bytes 8 to the end of the payload
//	[8:16] sequence number, little endian, increasing by one per record
//
// Reading stops at the first record that is incomplete, fails its CRC or
// does not follow its predecessor's sequence number: the tail a crash
// during an append leaves. Such a batch was never acknowledged, since
// Commit returns only after the append is durable.
type wal struct {
	f     *os.File
	size  int64  // bytes of complete records
	alloc int64  // the file's length: written once with zeros (walPrealloc)
	buf   []byte // encode buffer, reused
}

// walPrealloc is the length the log is given, in zeros, when it is made:
// an append within it changes no file metadata, so its fdatasync writes the
// data alone (appending to a growing file also commits the file system's
// journal, several times slower). The log is not truncated after a
// checkpoint; new records overwrite old ones from the start, and reading
// stops where the sequence numbers stop following each other.
const walPrealloc = 2 * checkpointBytes

const walHeader = 16

// maxWALRecord bounds one record's payload: a length beyond it is a torn
// header, not a batch.
const maxWALRecord = 1 << 30

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openWAL opens (creating) the log of the store file at path.
func openWAL(path string, mode fs.FileMode) (*wal, error) {
	name := path + WALSuffix
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, mode)
	if err != nil {
		return nil, fmt.Errorf("store: write-ahead log: %w", err)
	}
	w := &wal{f: f}
	fi, err := f.Stat()
	if err == nil {
		w.alloc = fi.Size()
		if w.alloc < walPrealloc {
			if zerr := w.zero(walPrealloc); zerr != nil {
				// No room for it (a nearly full disk): the log grows
				// with its records instead.
				err = f.Truncate(w.alloc)
			}
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: write-ahead log: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// The new file's name must survive a crash as its records do.
		syncDir(filepath.Dir(name))
	}
	return w, nil
}

// zero extends the log to n bytes of zeros, durably. On an error w.alloc
// is unchanged.
func (w *wal) zero(n int64) error {
	chunk := make([]byte, 1<<20)
	for off := w.alloc; off < n; off += int64(len(chunk)) {
		if _, err := w.f.WriteAt(chunk[:min(int64(len(chunk)), n-off)], off); err != nil {
			return err
		}
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	w.alloc = n
	return nil
}

// replay calls fn with every complete record after the one numbered after,
// in order, and leaves the log positioned after the last complete record.
// It returns the sequence number of the last complete record (after if
// none).
func (w *wal) replay(after uint64, fn func(seq uint64, payload []byte) error) (uint64, error) {
	data, err := io.ReadAll(io.NewSectionReader(w.f, 0, 1<<62))
	if err != nil {
		return after, fmt.Errorf("store: write-ahead log: %w", err)
	}
	last := uint64(0)
	off := 0
	for len(data)-off >= walHeader {
		h := data[off : off+walHeader]
		n := int(binary.LittleEndian.Uint32(h[0:4]))
		if n > maxWALRecord || len(data)-off-walHeader < n {
			break
		}
		body := data[off+8 : off+walHeader+n]
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(h[4:8]) {
			break
		}
		seq := binary.LittleEndian.Uint64(h[8:16])
		if last != 0 && seq != last+1 {
			break
		}
		last = seq
		if seq > after {
			if err := fn(seq, data[off+walHeader:off+walHeader+n]); err != nil {
				return after, err
			}
		}
		off += walHeader + n
	}
	w.size = int64(off)
	return max(after, last), nil
}

// append writes one record and makes it durable. On an error the log is cut
// back to its size before, so that a later record does not follow a partial
// one.
func (w *wal) append(seq uint64, pb *preparedBatch) (int, error) {
	var header [walHeader]byte // filled in below
	b := append(w.buf[:0], header[:]...)
	b = pb.appendTo(b)
	n := len(b) - walHeader
	binary.LittleEndian.PutUint32(b[0:4], uint32(n))
	binary.LittleEndian.PutUint64(b[8:16], seq)
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crcTable))
	if cap(b) <= maxPooledArena {
		w.buf = b
	}
	end := w.size + int64(len(b))
	_, err := w.f.WriteAt(b, w.size)
	if err == nil {
		if end > w.alloc {
			err = w.f.Sync() // the file grew: its new length must be durable too
		} else {
			err = fdatasync(w.f)
		}
	}
	if err != nil {
		// A partial record must not be followed by a later one: cut it
		// off, or, within the zeroed length, zero it.
		if end > w.alloc {
			_ = w.f.Truncate(max(w.size, w.alloc))
		}
		if w.size < w.alloc {
			_, _ = w.f.WriteAt(make([]byte, min(end, w.alloc)-w.size), w.size)
		}
		return 0, err
	}
	w.size = end
	w.alloc = max(w.alloc, end)
	return len(b), nil
}

// reset starts the log again from its beginning after a checkpoint. The old
// records stay until new ones overwrite them: reading skips those the
// checkpoint applied, and stops at the first whose sequence number does not
// follow (see replay).
func (w *wal) reset() { w.size = 0 }

func (w *wal) close() error { return w.f.Close() }

// appendTo appends the encoding of pb's ops, messages and arena to b.
func (pb *preparedBatch) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(pb.ops)))
	for i := range pb.ops {
		p := &pb.ops[i]
		b = append(b, byte(p.kind))
		b = binary.AppendUvarint(b, uint64(p.k0))
		b = binary.AppendUvarint(b, uint64(p.k1))
		b = binary.AppendUvarint(b, uint64(p.r1))
		b = binary.AppendUvarint(b, p.msg)
	}
	b = binary.AppendUvarint(b, uint64(len(pb.msgs)))
	for _, m := range pb.msgs {
		b = binary.AppendUvarint(b, m.id)
		b = binary.AppendUvarint(b, uint64(m.r0))
		b = binary.AppendUvarint(b, uint64(m.r1))
	}
	b = binary.AppendUvarint(b, uint64(len(pb.arena)))
	return append(b, pb.arena...)
}

// decodeFrom fills pb from a record appendTo wrote, checking every span
// against the arena. (The record's CRC vouches for the rest: apply skips
// an op kind it does not know, as it would in a batch.)
func (pb *preparedBatch) decodeFrom(p []byte) error {
	d := decoder{b: p}
	// count reads a count, which cannot exceed the record's length.
	count := func(what string) int {
		v := d.uvarint(what)
		if v > uint64(len(p)) {
			d.fail(what)
			return 0
		}
		return int(v)
	}
	type span struct{ k0, k1, r1 uint64 }
	n := count("op count")
	pb.ops = pb.ops[:0]
	spans := make([]span, 0, n)
	for range n {
		kind := broker.OpKind(d.byte("op kind"))
		spans = append(spans, span{d.uvarint("key start"), d.uvarint("key end"), d.uvarint("record end")})
		pb.ops = append(pb.ops, prepared{kind: kind, msg: d.uvarint("message id")})
	}
	n = count("message count")
	pb.msgs = pb.msgs[:0]
	clear(pb.msgAt)
	for range n {
		id := d.uvarint("message id")
		pb.msgAt[id] = len(pb.msgs)
		spans = append(spans, span{d.uvarint("message start"), d.uvarint("message end"), 0})
		pb.msgs = append(pb.msgs, preparedMsg{id: id})
	}
	pb.arena = append(pb.arena[:0], d.raw("arena")...)
	if err := d.end(); err != nil {
		return fmt.Errorf("write-ahead log record: %w", err)
	}
	a := uint64(len(pb.arena))
	for i := range pb.ops {
		s := spans[i]
		if s.k0 > s.k1 || s.k1 > s.r1 || s.r1 > a {
			return fmt.Errorf("write-ahead log record: op %d out of range", i)
		}
		pb.ops[i].k0, pb.ops[i].k1, pb.ops[i].r1 = int(s.k0), int(s.k1), int(s.r1)
	}
	for i := range pb.msgs {
		s := spans[len(pb.ops)+i]
		if s.k0 > s.k1 || s.k1 > a {
			return fmt.Errorf("write-ahead log record: message %d out of range", i)
		}
		pb.msgs[i].r0, pb.msgs[i].r1 = int(s.k0), int(s.k1)
	}
	return nil
}
