package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the ceil(q·n)-th smallest of sorted, as Quantile ranks.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func within(got, want int64, rel float64) bool {
	return math.Abs(float64(got-want)) <= rel*float64(want)
}

func TestBucketsCoverEveryValue(t *testing.T) {
	f := func(v int64) {
		t.Helper()
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v >= hi {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
		if lo >= subCount && float64(hi-lo)/float64(lo) > 1.0/subCount {
			t.Fatalf("bucket [%d, %d) is wider than 1/%d of its lower bound", lo, hi, subCount)
		}
		if i >= numBuckets {
			t.Fatalf("value %d: bucket %d past the last (%d)", v, i, numBuckets)
		}
	}
	for v := int64(0); v < 5000; v++ {
		f(v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		f(r.Int64N(maxValue + 1))
	}
	f(maxValue)
}

func TestQuantilesWithinOnePercent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := map[string][]int64{}
	var uniform, lognormal, bimodal []int64
	for i := int64(1); i <= 100000; i++ {
		uniform = append(uniform, i*1000) // 1µs .. 100ms
	}
	for range 50000 {
		lognormal = append(lognormal, int64(math.Exp(r.NormFloat64()*1.5+13))) // around 0.5ms, long tail
	}
	for i := range 20000 {
		v := int64(200_000 + r.IntN(50_000)) // fast answers
		if i%50 == 0 {
			v = int64(2e9 + r.IntN(1e8)) // a 2% tail of 2 s stalls
		}
		bimodal = append(bimodal, v)
	}
	inputs["uniform"], inputs["lognormal"], inputs["bimodal"] = uniform, lognormal, bimodal
	for name, vals := range inputs {
		var h Histogram
		for _, v := range vals {
			h.Record(time.Duration(v))
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		for _, q := range []float64{0.01, 0.5, 0.9, 0.97, 0.99, 0.999, 1} {
			got, want := int64(h.Quantile(q)), exactQuantile(sorted, q)
			if !within(got, want, 0.01) {
				t.Errorf("%s p%g = %d; want %d within 1%%", name, q*100, got, want)
			}
		}
		if h.Max() != time.Duration(sorted[len(sorted)-1]) || h.Min() != time.Duration(sorted[0]) {
			t.Errorf("%s min/max = %v/%v; want exact %d/%d", name, h.Min(), h.Max(), sorted[0], sorted[len(sorted)-1])
		}
		if h.Count() != uint64(len(vals)) {
			t.Errorf("%s count = %d; want %d", name, h.Count(), len(vals))
		}
	}
}

func TestSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("p%g = %d; want %d", c.q*100, got, c.want)
		}
	}
}

func TestMergeEqualsRecordingAll(t *testing.T) {
	var a, b, all Histogram
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 10000 {
		v := time.Duration(r.Int64N(int64(time.Second)))
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		all.Record(v)
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merged histogram differs from one that recorded every value")
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Max() != 0 {
		t.Error("an empty histogram reports values")
	}
	a.Merge(&empty)
	if a != all {
		t.Error("merging an empty histogram changed it")
	}
}

func TestClampedValues(t *testing.T) {
	var h Histogram
	h.Record(-5)
	h.Record(time.Duration(math.MaxInt64))
	if h.Min() != 0 || h.Max() != time.Duration(maxValue) {
		t.Errorf("min/max = %d/%d; want 0/%d", h.Min(), h.Max(), maxValue)
	}
}
