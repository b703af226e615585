package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// bbolt's meta page: a 16-byte page header, then magic, version, page
// size, flags (4 bytes each), the root bucket (8+8), the freelist page, the
// high-water page, the transaction id (8 each) and an FNV-64a checksum of
// the 56 bytes before it.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltMetaOff     = 16
	boltMetaSumLen  = 56
	boltMetaPageMin = 1024
)

// checkMetaPages reads the two meta pages at the start of the bbolt file at
// path and returns which of them is damaged, -1 if neither. bbolt, which
// falls back to the other, an older transaction, without a word, reports
// only both damaged.
func checkMetaPages(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, locationErr(path, true, err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10+boltMetaOff+boltMetaSumLen+8)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return -1, &corruptError{path: path, kind: damaged, err: err}
	}
	buf = buf[:n]
	// meta reports whether a valid meta page is at off, and its page size.
	meta := func(off int) (uint32, bool) {
		m := buf[min(off+boltMetaOff, len(buf)):]
		if len(m) < boltMetaSumLen+8 {
			return 0, false
		}
		h := fnv.New64a()
		h.Write(m[:boltMetaSumLen])
		return binary.LittleEndian.Uint32(m[8:12]), binary.LittleEndian.Uint32(m[0:4]) == boltMagic &&
			binary.LittleEndian.Uint32(m[4:8]) == boltVersion &&
			binary.LittleEndian.Uint64(m[boltMetaSumLen:]) == h.Sum64()
	}
	if size, ok := meta(0); ok {
		if _, ok := meta(int(size)); ok || size < boltMetaPageMin {
			return -1, nil // (bbolt refuses a page size it cannot use)
		}
		return 1, nil
	}
	// Page 0 is damaged: find page 1 at a page size bbolt can have
	// written, as bbolt does.
	for size := boltMetaPageMin; size <= 64<<10; size *= 2 {
		if s, ok := meta(size); ok && int(s) == size {
			return 0, nil
		}
	}
	return -1, nil // both damaged: bbolt says so
}

// checkPages reads every key of every bucket, in a read transaction, and
// checks that each bucket's keys are in order: a page bbolt cannot read, or
// one whose keys are out of order, makes an error wrapping ErrCorrupt. (bbolt's own
// tx.Check runs in a goroutine of its own, where a panic on a damaged page
// would end the process.) It reads every branch and leaf page: on a 309 MB
// store (200,000 queued 500-byte messages, 10,000 retained) that takes 40
// to 60 ms with the file in the page cache (BenchmarkOpen), but 5.5 s
// from a virtio disk with the cache empty, where OpenBolt takes 7 ms
// without it. So OpenBolt runs it only on a file whose meta page is
// damaged; damage elsewhere is found where it is read (the root pages at
// every open; the rest by Load and LoadQueue, as ErrCorrupt).
func (s *Bolt) checkPages() error {
	return s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			var prev []byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if prev != nil && bytes.Compare(prev, k) >= 0 {
					return s.damaged(fmt.Errorf("bucket %q: key %q after %q", name, k, prev))
				}
				prev = append(prev[:0], k...)
			}
			return nil
		})
	})
}
