package bench

import (
	"encoding/binary"
	"math/bits"
)

// The first stampSize bytes of every payload midge bench publishes:
//
//	0  4  magic "mdgb", so that foreign messages on the topic are told apart
//	4  4  run: a random number per invocation of midge bench
//	8  4  publisher: the publisher's client number (%i)
//	12 4  sequence number of the message, from 0, per publisher
//	16 8  send time, Unix nanoseconds (the wall clock, so that a "sub" in one
//	      process can time a "pub" in another on the same machine)
//
// Integers are little-endian. The rest of the payload is zeros.
const (
	stampSize  = 24
	stampMagic = 0x6267646d // "mdgb" read little-endian
)

// stamp is the decoded head of a payload.
type stamp struct {
	run, pub, seq uint32
	sent          int64
}

func putStamp(p []byte, s stamp) {
	binary.LittleEndian.PutUint32(p[0:], stampMagic)
	binary.LittleEndian.PutUint32(p[4:], s.run)
	binary.LittleEndian.PutUint32(p[8:], s.pub)
	binary.LittleEndian.PutUint32(p[12:], s.seq)
	binary.LittleEndian.PutUint64(p[16:], uint64(s.sent))
}

// getStamp decodes the stamp of p; ok is false if p is not a payload of
// midge bench.
func getStamp(p []byte) (s stamp, ok bool) {
	if len(p) < stampSize || binary.LittleEndian.Uint32(p) != stampMagic {
		return s, false
	}
	s.run = binary.LittleEndian.Uint32(p[4:])
	s.pub = binary.LittleEndian.Uint32(p[8:])
	s.seq = binary.LittleEndian.Uint32(p[12:])
	s.sent = int64(binary.LittleEndian.Uint64(p[16:]))
	return s, true
}

// seqTrack follows the sequence numbers one subscriber receives from one
// publisher: which arrived (a bitmap, grown as needed), how many more than
// once, and how many after a higher number had already arrived. The zero
// value is ready. It is not safe for concurrent use.
type seqTrack struct {
	seen   []uint64 // bit s: sequence number s arrived
	unique int64    // distinct sequence numbers
	dup    int64    // arrivals of a number already seen
	ooo    int64    // first arrivals of a number below the highest seen so far
	lo, hi uint32   // lowest and highest number seen (valid if unique > 0)
}

// maxTrackedSeq bounds the bitmap (128 MiB of bits would be 2^30); numbers
// above it are counted as unique without duplicate detection.
const maxTrackedSeq = 1 << 30

// add records the arrival of seq and reports whether it is the first.
func (t *seqTrack) add(seq uint32) bool {
	if seq < maxTrackedSeq {
		w := int(seq >> 6)
		if w >= len(t.seen) {
			n := max(w+1, 2*len(t.seen), 16)
			t.seen = append(t.seen, make([]uint64, n-len(t.seen))...)
		}
		bit := uint64(1) << (seq & 63)
		if t.seen[w]&bit != 0 {
			t.dup++
			return false
		}
		t.seen[w] |= bit
	}
	switch {
	case t.unique == 0:
		t.lo, t.hi = seq, seq
	case seq > t.hi:
		t.hi = seq
	default:
		t.ooo++
		t.lo = min(t.lo, seq)
	}
	t.unique++
	return true
}

// lostOf returns how many of the numbers 0..expected-1 never arrived.
func (t *seqTrack) lostOf(expected int64) int64 {
	return max(expected-t.uniqueBelow(expected), 0)
}

// uniqueBelow counts the distinct numbers below n that arrived.
func (t *seqTrack) uniqueBelow(n int64) int64 {
	if n >= maxTrackedSeq {
		return t.unique
	}
	var c int64
	full := min(int(n>>6), len(t.seen))
	for _, w := range t.seen[:full] {
		c += int64(bits.OnesCount64(w))
	}
	if r := n & 63; r != 0 && full < len(t.seen) {
		c += int64(bits.OnesCount64(t.seen[full] & (1<<r - 1)))
	}
	return c
}

// gaps returns the numbers missing between the lowest and the highest that
// arrived: the loss a subscriber can see when it does not know how many
// were sent (midge bench sub).
func (t *seqTrack) gaps() int64 {
	if t.unique == 0 {
		return 0
	}
	return int64(t.hi-t.lo) + 1 - t.unique
}

// unionTracks combines the tracks of the members of a share group, which
// between them should receive each message once: the numbers any of them
// saw, and as duplicates every arrival beyond the first across all of them.
func unionTracks(ts []*seqTrack) seqTrack {
	var u seqTrack
	var arrivals int64
	have := false // u.lo and u.hi are set
	for _, t := range ts {
		if len(t.seen) > len(u.seen) {
			u.seen = append(u.seen, make([]uint64, len(t.seen)-len(u.seen))...)
		}
		for i, w := range t.seen {
			u.seen[i] |= w
		}
		arrivals += t.unique + t.dup
		u.ooo += t.ooo
		if t.unique > 0 {
			if !have {
				u.lo, u.hi, have = t.lo, t.hi, true
			}
			u.lo, u.hi = min(u.lo, t.lo), max(u.hi, t.hi)
		}
	}
	for _, w := range u.seen {
		u.unique += int64(bits.OnesCount64(w))
	}
	u.dup = max(arrivals-u.unique, 0)
	return u
}
