package bench

import (
	"math"
	"math/bits"
)

// Latency histogram for midge bench: log-linear buckets over nanoseconds.
// Values below 2·histSub are counted exactly; above, every power of two
// [2^k, 2^(k+1)) is cut into histSub equal buckets, so a bucket is at most
// 1/histSub of the values in it wide. Quantiles report the middle of their
// bucket, which is within 1/(2·histSub) (0.39 %) of every value the bucket
// holds. The buckets of one power of two are allocated on first use, so a
// histogram whose values stay within a few powers of two (the usual case)
// costs a few kilobytes, not the 58 KB of the whole range.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two
	// histGroups is the number of bucket groups: group 0 holds the exact
	// values [0, 2·histSub), group g ≥ 1 the values [2^(g+histSubBits),
	// 2^(g+histSubBits+1)), up to 2^63.
	histGroups = 64 - histSubBits
)

// histErr is the largest relative error of a reported quantile.
const histErr = 1.0 / (2 * histSub)

// hist counts values (latencies in nanoseconds). The zero value is empty
// and ready. It is not safe for concurrent use.
type hist struct {
	groups [histGroups][]uint64 // group 0: 2·histSub exact buckets; others histSub each
	n      uint64
	min    int64
	max    int64
	sum    float64
}

// histIndex returns the group and the bucket within it for v ≥ 0.
func histIndex(v uint64) (g, b int) {
	if v < 2*histSub {
		return 0, int(v)
	}
	// v has bits.Len64(v) ≥ histSubBits+2 significant bits; keep the top
	// histSubBits+1 of them (the leading 1 and histSubBits more).
	shift := bits.Len64(v) - histSubBits - 1
	return shift, int(v>>uint(shift)) - histSub
}

// histBounds returns the smallest and largest value of bucket b of group g.
func histBounds(g, b int) (lo, hi uint64) {
	if g == 0 {
		return uint64(b), uint64(b)
	}
	lo = uint64(b+histSub) << uint(g)
	return lo, lo + (1 << uint(g)) - 1
}

// add counts v; negative values count as 0.
func (h *hist) add(v int64) {
	if v < 0 {
		v = 0
	}
	g, b := histIndex(uint64(v))
	if h.groups[g] == nil {
		n := histSub
		if g == 0 {
			n = 2 * histSub
		}
		h.groups[g] = make([]uint64, n)
	}
	h.groups[g][b]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// merge adds the counts of o to h.
func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	for g, src := range o.groups {
		if src == nil {
			continue
		}
		if h.groups[g] == nil {
			h.groups[g] = make([]uint64, len(src))
		}
		for b, c := range src {
			h.groups[g][b] += c
		}
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// reset empties h, keeping its buckets allocated.
func (h *hist) reset() {
	for _, gr := range h.groups {
		clear(gr)
	}
	h.n, h.min, h.max, h.sum = 0, 0, 0, 0
}

// count returns the number of values added.
func (h *hist) count() uint64 { return h.n }

// mean returns the arithmetic mean, 0 if h is empty.
func (h *hist) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// quantile returns the q-quantile (0 < q ≤ 1) of the values: the middle of
// the bucket holding the value of rank ⌈q·n⌉, clamped to the smallest and
// largest value seen, so within histErr of the exact value; the largest
// rank gives the largest value itself. It returns 0 if h is empty.
func (h *hist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return h.max
	}
	var seen uint64
	for g, gr := range h.groups {
		for b, c := range gr {
			if c == 0 {
				continue
			}
			if seen += c; seen >= rank {
				lo, hi := histBounds(g, b)
				mid := int64(lo + (hi-lo)/2)
				return min(max(mid, h.min), h.max)
			}
		}
	}
	return h.max
}
