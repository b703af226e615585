package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBenchTemplates(t *testing.T) {
	tm, err := parseTemplate("dev/%i/%c/%r/100%%", "icr")
	if err != nil {
		t.Fatal(err)
	}
	if got := tm.expand(tmplVars{num: 42, id: "cli-42", role: "pub"}); got != "dev/42/cli-42/pub/100%" {
		t.Errorf("expand: %q", got)
	}
	if !tm.varies() {
		t.Error("varies: false")
	}
	if tm, _ := parseTemplate("plain/100%%", "icr"); tm.varies() || tm.expand(tmplVars{}) != "plain/100%" {
		t.Errorf("plain template: varies %v, %q", tm.varies(), tm.expand(tmplVars{}))
	}
	for _, tc := range []struct{ topic, filter string }{
		{"bench/%i", "bench/+"},
		{"bench/fanout", "bench/fanout"},
		{"%r/x/dev-%i-%c/y", "+/x/+/y"},
		{"a/%%/b", "a/%/b"},
	} {
		if got, err := wildcardFilter(tc.topic); err != nil || got != tc.filter {
			t.Errorf("wildcardFilter(%q) = %q, %v; want %q", tc.topic, got, err, tc.filter)
		}
	}
}

// TestBenchHistError checks the histogram's promise: every reported
// quantile is within histErr of the exact one, over values spread across
// many powers of ten, and exact for small values.
func TestBenchHistError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 1000, 100000} {
		var h hist
		vals := make([]int64, n)
		for i := range vals {
			v := int64(math.Exp(rng.Float64() * math.Log(1e10))) // 1 ns to 10 s, log-uniform
			vals[i] = v
			h.add(v)
		}
		slices.Sort(vals)
		for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
			exact := vals[max(int(math.Ceil(q*float64(n)))-1, 0)]
			got := h.quantile(q)
			if d := math.Abs(float64(got - exact)); d > histErr*float64(exact) {
				t.Errorf("n=%d q=%v: got %d, exact %d, error %.4f%% > %.4f%%", n, q, got, exact, 100*d/float64(exact), 100*histErr)
			}
		}
		if h.max != vals[n-1] || h.min != vals[0] || h.count() != uint64(n) {
			t.Errorf("n=%d: min %d max %d count %d", n, h.min, h.max, h.count())
		}
	}

	var small hist
	for v := range int64(2 * histSub) {
		small.add(v)
	}
	for v := range int64(2 * histSub) {
		if got := small.quantile(float64(v+1) / float64(2*histSub)); got != v {
			t.Errorf("small value %d reported as %d", v, got)
		}
	}

	// Merging equals adding everything to one.
	var a, b, all hist
	for i := range 5000 {
		v := int64(rng.IntN(50_000_000))
		all.add(v)
		if i%3 == 0 {
			a.add(v)
		} else {
			b.add(v)
		}
	}
	a.merge(&b)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if a.quantile(q) != all.quantile(q) {
			t.Errorf("merged q%v = %d, want %d", q, a.quantile(q), all.quantile(q))
		}
	}
	if a.count() != all.count() || a.max != all.max || a.min != all.min || math.Abs(a.mean()-all.mean()) > 1e-6*all.mean() {
		t.Errorf("merged count/min/max/mean differ")
	}
	var empty hist
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Error("empty histogram")
	}
	a.reset()
	if a.count() != 0 || a.quantile(0.5) != 0 {
		t.Error("reset")
	}
	// Extremes do not panic and stay in range.
	var ext hist
	ext.add(-5)
	ext.add(math.MaxInt64)
	if ext.quantile(0.5) != 0 || ext.quantile(1) != math.MaxInt64 {
		t.Errorf("extremes: %d %d", ext.quantile(0.5), ext.quantile(1))
	}
}

func TestBenchSeqTrack(t *testing.T) {
	var tr seqTrack
	// 0 1 2 5 3 3 9 4 ; 6 7 8 never arrive.
	for _, s := range []uint32{0, 1, 2, 5, 3, 3, 9, 4} {
		tr.add(s)
	}
	if tr.unique != 7 || tr.dup != 1 || tr.ooo != 2 {
		t.Errorf("unique %d dup %d ooo %d, want 7 1 2", tr.unique, tr.dup, tr.ooo)
	}
	if l := tr.lostOf(10); l != 3 {
		t.Errorf("lost of 10: %d, want 3", l)
	}
	if l := tr.lostOf(6); l != 0 {
		t.Errorf("lost of 6: %d, want 0", l)
	}
	if l := tr.lostOf(200); l != 193 {
		t.Errorf("lost of 200: %d, want 193", l)
	}
	if g := tr.gaps(); g != 3 {
		t.Errorf("gaps: %d, want 3", g)
	}
	// Far apart numbers grow the bitmap.
	var far seqTrack
	far.add(1_000_000)
	far.add(10)
	if far.unique != 2 || far.ooo != 1 || far.gaps() != 1_000_000-10+1-2 || far.lostOf(11) != 10 {
		t.Errorf("far: unique %d ooo %d gaps %d lost %d", far.unique, far.ooo, far.gaps(), far.lostOf(11))
	}

	// A share group: two members split the messages, one got 4 twice.
	var m1, m2 seqTrack
	for _, s := range []uint32{0, 2, 4} {
		m1.add(s)
	}
	for _, s := range []uint32{1, 3, 4} {
		m2.add(s)
	}
	u := unionTracks([]*seqTrack{&m1, &m2})
	if u.unique != 5 || u.dup != 1 || u.lostOf(6) != 1 {
		t.Errorf("union: unique %d dup %d lost %d, want 5 1 1", u.unique, u.dup, u.lostOf(6))
	}
}

func TestBenchStamp(t *testing.T) {
	p := make([]byte, 64)
	in := stamp{run: 0xdeadbeef, pub: 7, seq: 123456, sent: 1_700_000_000_123_456_789}
	putStamp(p, in)
	out, ok := getStamp(p)
	if !ok || out != in {
		t.Errorf("round trip: %+v %v", out, ok)
	}
	if _, ok := getStamp(p[:stampSize-1]); ok {
		t.Error("short payload accepted")
	}
	if _, ok := getStamp(make([]byte, 64)); ok {
		t.Error("payload without magic accepted")
	}
}
