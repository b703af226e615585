package topic_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

// This file decides whether a result cache in front of the Index pays, the
// idea of nats-server's sublist: a map from topic name to the last match
// result, stamped with a generation that every Subscribe and Unsubscribe
// bumps (writers never touch the cache, so they are not serialized behind
// it; a result of an older generation is a miss). cachedIndex is the
// experiment, kept here and not in the package: the benchmark below says
// whether it should be.

// cachedIndex is an Index with a nats-style result cache.
type cachedIndex struct {
	ix  *topic.Index[*session]
	gen atomic.Uint64 // bumped after every change of ix

	mu    sync.RWMutex
	cache map[string]*cached // guarded by mu
	max   int
}

type cached struct {
	gen    uint64
	subs   []topic.Entry[*session]
	shared []*topic.Group[*session]
}

func newCachedIndex(ix *topic.Index[*session], max int) *cachedIndex {
	return &cachedIndex{ix: ix, cache: make(map[string]*cached, max), max: max}
}

func (c *cachedIndex) Subscribe(s *session, f string, o topic.Options) {
	c.ix.Subscribe(s, f, o)
	c.gen.Add(1)
}

func (c *cachedIndex) Unsubscribe(s *session, f string) {
	c.ix.Unsubscribe(s, f)
	c.gen.Add(1)
}

// Match answers from the cache when it holds a result of the current
// generation, else matches and caches the result. The generation is read
// before matching, so a result never claims a generation newer than what
// it saw.
func (c *cachedIndex) Match(name string, m *topic.Matches[*session]) (hit bool) {
	g := c.gen.Load()
	c.mu.RLock()
	e := c.cache[name]
	c.mu.RUnlock()
	if e != nil && e.gen == g {
		m.Subs = append(m.Subs[:0], e.subs...)
		m.Shared = append(m.Shared[:0], e.shared...)
		return true
	}
	c.ix.Match(name, m)
	e = &cached{gen: g, subs: slices.Clone(m.Subs), shared: slices.Clone(m.Shared)}
	c.mu.Lock()
	if len(c.cache) >= c.max {
		for k := range c.cache { // evict an arbitrary entry, as nats does
			delete(c.cache, k)
			break
		}
	}
	c.cache[name] = e
	c.mu.Unlock()
	return false
}

// manyFilters subscribes n distinct filters of the families "midge bench
// filters" uses (exact, a/+/c/d, a/b/c/#, +/b/c/d, a/b/+/#, a/+/+/d under
// bench/f, each level a number below 32), spread over 10 subscribers.
func manyFilters(tb testing.TB, ix *topic.Index[*session], n int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	subs := make([]*session, 10)
	for i := range subs {
		subs[i] = &session{id: i, online: true}
	}
	seen := make(map[string]bool, n)
	lv := func() string { return strconv.Itoa(rng.IntN(32)) }
	shapes := []struct {
		share int
		make  func() string
	}{
		{15, func() string { return lv() + "/+/" + lv() + "/" + lv() }},
		{15, func() string { return lv() + "/" + lv() + "/" + lv() + "/#" }},
		{15, func() string { return "+/" + lv() + "/" + lv() + "/" + lv() }},
		{1, func() string { return lv() + "/" + lv() + "/+/#" }},
		{1, func() string { return lv() + "/+/+/" + lv() }},
	}
	add := func(f string) bool {
		if seen[f] {
			return false
		}
		seen[f] = true
		if _, err := ix.Subscribe(subs[len(seen)%len(subs)], "bench/f/"+f, topic.Options{}); err != nil {
			tb.Fatal(err)
		}
		return true
	}
	for _, s := range shapes {
		for q := min(n*s.share/100, 512*max(1, s.share)); q > 0; {
			if add(s.make()) {
				q--
			}
		}
	}
	for len(seen) < n {
		add(lv() + "/" + lv() + "/" + lv() + "/" + lv())
	}
}

// randomTopics returns n topic names of the many-filters space.
func randomTopics(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		b.WriteString("bench/f")
		for range 4 {
			b.WriteByte('/')
			b.WriteString(strconv.Itoa(rng.IntN(32)))
		}
		out[i] = b.String()
	}
	return out
}

// BenchmarkManyFilters matches against 100,000 distinct filters (10,000
// with -short), without and with the result cache (1,024 entries, as
// nats-server's), for three publish streams: random topics over the whole
// space of a million names (the filters scenario of midge bench), 512 hot
// topics, and the hot topics while a writer subscribes and unsubscribes
// once per 64 matches.
func BenchmarkManyFilters(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	ix := topic.NewIndex[*session]()
	manyFilters(b, ix, n)
	random := randomTopics(1<<16, 7)
	hot := randomTopics(512, 9)
	churner := &session{id: -1}
	for _, stream := range []struct {
		name  string
		names []string
		churn bool
	}{
		{"random", random, false},
		{"hot", hot, false},
		{"hot+churn", hot, true},
	} {
		for _, withCache := range []bool{false, true} {
			b.Run(fmt.Sprintf("filters=%d/%s/cache=%v", n, stream.name, withCache), func(b *testing.B) {
				c := newCachedIndex(ix, 1024)
				var m topic.Matches[*session]
				for _, name := range stream.names { // warm both, and m
					c.Match(name, &m)
				}
				b.ReportAllocs()
				i, hits, fanout := 0, 0, 0
				for b.Loop() {
					name := stream.names[i%len(stream.names)]
					if stream.churn && i%64 == 0 {
						f := "bench/f/" + strconv.Itoa(i%32) + "/churn/+"
						c.Subscribe(churner, f, topic.Options{})
						c.Unsubscribe(churner, f)
					}
					if withCache {
						if c.Match(name, &m) {
							hits++
						}
					} else {
						ix.Match(name, &m)
					}
					fanout += len(m.Subs)
					i++
				}
				b.ReportMetric(float64(fanout)/float64(i), "matches/op")
				if withCache {
					b.ReportMetric(float64(hits)/float64(i), "hit-rate")
				}
			})
		}
	}
}

// TestCachedIndexAgrees checks the experiment's answers against the Index
// through subscriptions and unsubscriptions, so that the benchmark compares
// equals.
func TestCachedIndexAgrees(t *testing.T) {
	ix := topic.NewIndex[*session]()
	manyFilters(t, ix, 2000)
	c := newCachedIndex(ix, 64)
	names := randomTopics(200, 11)
	s := &session{id: -1}
	var want, got topic.Matches[*session]
	for round := range 5 {
		f := "bench/f/" + strconv.Itoa(round) + "/+/#"
		c.Subscribe(s, f, topic.Options{})
		for range 2 {
			for _, name := range names {
				ix.Match(name, &want)
				c.Match(name, &got)
				if len(want.Subs) != len(got.Subs) {
					t.Fatalf("%s after subscribing %s: %d matches, cached %d", name, f, len(want.Subs), len(got.Subs))
				}
			}
		}
		c.Unsubscribe(s, f)
	}
}
