package main

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is HDR-style log-linear: values below 2^subBits are
// counted exactly; above, every power of two is split into 2^subBits equal
// buckets, so a bucket is at most 1/128 of its lower bound wide. A value is
// reported as its bucket's midpoint: within 1/256 (0.4%) of the truth.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxExp     = 42 // values are clamped to 2^43-1 ns (about 2.4 hours)
	numBuckets = subCount + (maxExp-subBits+1)*subCount
	maxValue   = int64(1)<<(maxExp+1) - 1
)

// Histogram counts latencies in nanoseconds. The zero value is empty and
// ready; it is not safe for concurrent use (the recorder shards it).
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	min    int64
	max    int64
}

func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 1 // v in [2^e, 2^(e+1)), e >= subBits
	shift := e - subBits
	return subCount + shift*subCount + int(v>>shift) - subCount
}

// bucketRange is the half-open value range [lo, hi) of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i) + 1
	}
	shift := (i - subCount) / subCount
	sub := int64((i-subCount)%subCount) + subCount
	return sub << shift, (sub + 1) << shift
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.n++
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Quantile returns the value at quantile q (0..1): the midpoint of the
// bucket holding the ceil(q·n)-th smallest value, clamped to [min, max]
// so p100 is the exact maximum. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-1-lo)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
