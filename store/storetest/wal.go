package storetest

import (
	"encoding/binary"
	"testing"
)

// WALRecords reads the write-ahead log of package store (the bytes of a
// *-wal file) as its recovery does: a 4096-byte header, then records of a
// 16-byte header (length first, sequence number last) and a body, up to the
// first that is cut short or whose sequence number does not follow the one
// before. It returns the offsets of those records and the offset just after
// the last, and fails tb if the log holds no record.
func WALRecords(tb testing.TB, log []byte) (offs []int, end int) {
	tb.Helper()
	off, last := 4096, uint64(0)
	for len(log)-off >= 16 {
		n := int(binary.LittleEndian.Uint32(log[off:]))
		seq := binary.LittleEndian.Uint64(log[off+8:])
		if n == 0 || off+16+n > len(log) || last != 0 && seq != last+1 {
			break
		}
		offs = append(offs, off)
		last = seq
		off += 16 + n
	}
	if len(offs) == 0 {
		tb.Fatal("no records in the log")
	}
	return offs, off
}
