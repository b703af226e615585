package topic

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Subscription is one subscription: a topic filter and its subscription
// options (MQTT 5.0 §3.8.3.1; for MQTT 3.1.1 only QoS is meaningful) with
// its Subscription Identifier. It is the one declaration of subscription
// options: packet.Subscription, client.Subscription,
// broker.StoredSubscription and broker.SubscriptionInfo are this type.
type Subscription struct {
	// Filter is the topic filter, including any "$share/{ShareName}/"
	// prefix.
	Filter string
	// QoS is the maximum QoS (0, 1 or 2) at which messages are sent to the
	// subscriber.
	QoS byte
	// NoLocal asks that messages published by the subscribing session are
	// not sent back to it [MQTT-3.8.3-3] (MQTT 5).
	NoLocal bool
	// RetainAsPublished keeps the RETAIN flag of forwarded messages as the
	// publisher set it [MQTT-3.3.1-12] [MQTT-3.3.1-13] (MQTT 5).
	RetainAsPublished bool
	// RetainHandling says when retained messages are sent on subscribe
	// (MQTT 5): 0 always, 1 only for a new subscription, 2 never.
	RetainHandling byte
	// ID is the Subscription Identifier (MQTT 5.0 §3.8.2.1.2), or 0 for
	// none. In a SUBSCRIBE packet it travels once, as a property: see
	// packet.Subscribe.
	ID uint32
}

// Options are the options of one subscription as granted by the broker: the
// Index takes the filter beside them and ignores Options.Filter (an Entry's
// Filter is the filter as subscribed).
type Options = Subscription

// Entry is one subscription: a subscriber, the filter it subscribed with and
// its options. Entries are values; the Index hands out copies.
type Entry[S comparable] struct {
	// Sub is the subscriber handle given to Subscribe.
	Sub S
	// Filter is the filter as subscribed, including any "$share/{ShareName}/"
	// prefix. Entries of the same filter share one string.
	Filter string
	Options
}

// Matches receives the result of Index.Match. Reuse one Matches per goroutine
// (or from a sync.Pool): once its slices have grown to the fan-out of the
// topics routed, Match fills it without allocating. It is not safe for
// concurrent use. Between calls it keeps references to the entries and groups
// of the last match.
type Matches[S comparable] struct {
	// Subs holds one Entry per matching non-shared subscription. A subscriber
	// with several overlapping matching filters ("a/+" and "a/#") appears
	// once per filter; merging them (maximum QoS, all subscription
	// identifiers, [MQTT-3.3.4-2] [MQTT-3.3.4-3]) is the broker's job.
	Subs []Entry[S]
	// Shared holds each matching shared-subscription group once. The broker
	// delivers the message to one member of each, see Group.Next.
	Shared []*Group[S]
	// Stamp, if not nil, receives the Index's generation (see
	// SubscribeGen), stored atomically while Match holds the Index's lock:
	// a subscription added at a generation up to the stamp was matched;
	// one added later was not. Read it with atomic.LoadUint64.
	Stamp *uint64
}

// Index is the subscription index: a trie over topic levels that finds every
// subscription whose filter matches a topic name. S is the broker's
// subscriber handle, typically a session pointer; each (S, filter) pair is one
// subscription.
//
// Shared subscriptions ("$share/{ShareName}/{filter}") are kept as groups:
// one Group per ShareName and filter, whose members are the subscribers that
// subscribed to it. A subscriber's non-shared subscription to "a/b" and its
// shared subscription to "$share/g/a/b" are distinct subscriptions.
//
// The zero Index is not usable; call NewIndex. An Index is safe for concurrent
// use. Match holds a read lock, so matches proceed in parallel; Subscribe,
// Unsubscribe and UnsubscribeAll hold the write lock for a time proportional
// to the number of levels (and for UnsubscribeAll, filters) involved. No
// method calls out to the caller while holding the lock.
type Index[S comparable] struct {
	mu     sync.RWMutex
	root   node[S]           // guarded by mu
	owners map[S]*subscriber // guarded by mu; the filters each subscriber holds
	count  atomic.Int64      // number of subscriptions; written with mu held

	gen     uint64         // guarded by mu; new subscriptions so far
	track   bool           // guarded by mu; TrackFilters was called
	changes []FilterChange // guarded by mu; recorded, not yet taken
	pending atomic.Int64   // len(changes); written with mu held
}

// NewIndex returns an empty Index.
func NewIndex[S comparable]() *Index[S] {
	return &Index[S]{owners: make(map[S]*subscriber)}
}

// Subscribe adds the subscription of sub to filter with options o. If sub
// already has a subscription to the identical filter, its options are
// replaced and existed is true [MQTT-3.8.4-3]. A "$share/{ShareName}/{filter}"
// filter makes sub a member of that group. The filter is validated with
// ValidFilter and its error returned, in which case nothing changes.
//
// The Index keeps its own copy of filter, so filter may alias a buffer the
// caller reuses.
func (ix *Index[S]) Subscribe(sub S, filter string, o Options) (existed bool, err error) {
	existed, _, err = ix.SubscribeGen(sub, filter, o)
	return existed, err
}

// SubscribeGen is Subscribe, and also returns the generation at which a
// new subscription was added (each new one counts one; a replaced one
// leaves it unchanged). A Match whose Matches.Stamp received a generation
// of at least gen saw the subscription; one that received less did not.
func (ix *Index[S]) SubscribeGen(sub S, filter string, o Options) (existed bool, gen uint64, err error) {
	group, inner, shared, err := ParseShared(filter) // validates a shared filter
	if err == nil && !shared {
		err = ValidFilter(filter) // the depth limit too
	}
	if err != nil {
		return false, 0, err
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	var own string // the Index's copy of filter, made on first need
	n := ix.root.pathLocked(filter, inner, &own)
	if shared {
		g := n.group(group)
		if g == nil {
			if own == "" {
				own = strings.Clone(filter)
			}
			g = &Group[S]{name: own[len(SharePrefix) : len(SharePrefix)+len(group)], filter: own}
			if n.more == nil {
				n.more = new(extra[S])
			}
			n.more.groups = append(n.more.groups, g)
		}
		if g.join(Entry[S]{Sub: sub, Filter: g.filter, Options: o}) {
			return true, ix.gen, nil
		}
		if len(g.Members()) == 1 {
			ix.noteLocked(g.filter, true)
		}
		ix.ownLocked(sub, g.filter)
		ix.gen++
		return false, ix.gen, nil
	}
	if i := n.find(sub); i >= 0 {
		n.subs[i].Options = o // [MQTT-3.8.4-3]
		return true, ix.gen, nil
	}
	f := own
	switch {
	case len(n.subs) > 0:
		f = n.subs[0].Filter // the same filter: share the string
	case f == "":
		f = strings.Clone(filter)
	}
	if len(n.subs) == 0 {
		ix.noteLocked(f, true)
	}
	n.add(Entry[S]{Sub: sub, Filter: f, Options: o})
	ix.ownLocked(sub, f)
	ix.gen++
	return false, ix.gen, nil
}

// ownLocked records that sub holds a new subscription to filter. ix.mu must
// be held for writing.
func (ix *Index[S]) ownLocked(sub S, filter string) {
	rec := ix.owners[sub]
	if rec == nil {
		rec = new(subscriber)
		ix.owners[sub] = rec
	}
	rec.add(filter)
	ix.count.Add(1)
}

// Unsubscribe removes the subscription of sub to filter, compared byte for
// byte with the filter it subscribed with [MQTT-3.10.4-1], and reports
// whether there was one. Trie nodes left empty are freed.
func (ix *Index[S]) Unsubscribe(sub S, filter string) (existed bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	rec := ix.owners[sub]
	if rec == nil {
		return false
	}
	i := rec.find(filter)
	if i < 0 {
		return false
	}
	ix.removeLocked(sub, rec.filters[i])
	rec.removeAt(i)
	if len(rec.filters) == 0 {
		delete(ix.owners, sub)
	}
	ix.count.Add(-1)
	return true
}

// UnsubscribeAll removes every subscription of sub, as when its session
// ends. It costs time proportional to the number of sub's subscriptions, not
// to the size of the Index.
func (ix *Index[S]) UnsubscribeAll(sub S) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	rec := ix.owners[sub]
	if rec == nil {
		return
	}
	for _, f := range rec.filters {
		ix.removeLocked(sub, f)
	}
	delete(ix.owners, sub)
	ix.count.Add(-int64(len(rec.filters)))
}

// removeLocked removes sub's subscription to the valid filter f, which the
// owners record says exists. ix.mu must be held for writing.
func (ix *Index[S]) removeLocked(sub S, f string) {
	group, inner, shared, _ := ParseShared(f)
	ix.root.remove(inner, sub, group, shared)
	if !ix.track {
		return
	}
	n := ix.root.lookup(inner)
	if shared && n.group(group) == nil || !shared && (n == nil || len(n.subs) == 0) {
		ix.noteLocked(f, false)
	}
}

// FilterChange is a change of the set of distinct filters an Index holds
// (see TrackFilters).
type FilterChange struct {
	// Filter is the filter as subscribed, "$share/{ShareName}/{filter}"
	// for a shared subscription group.
	Filter string
	// Added is true when the first subscription to Filter appeared, false
	// when the last one went.
	Added bool
}

// TrackFilters makes the Index record, from now on, every change of the
// set of distinct filters it holds: a filter (a shared group's, with its
// "$share/{ShareName}/" prefix) is added when its first subscriber
// subscribes and removed when its last one goes. The filters held at the
// time of the call are recorded as added. TakeFilterChanges hands the
// changes out; until they are taken the Index keeps them.
func (ix *Index[S]) TrackFilters() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.track {
		return
	}
	ix.track = true
	seen := make(map[string]bool)
	for _, rec := range ix.owners {
		for _, f := range rec.filters {
			if !seen[f] {
				seen[f] = true
				ix.noteLocked(f, true)
			}
		}
	}
}

// noteLocked records a filter change if the Index tracks them. ix.mu must
// be held for writing.
func (ix *Index[S]) noteLocked(f string, added bool) {
	if !ix.track {
		return
	}
	ix.changes = append(ix.changes, FilterChange{Filter: f, Added: added})
	ix.pending.Store(int64(len(ix.changes)))
}

// TakeFilterChanges appends the filter changes recorded since the last
// call to buf, in the order they happened, and forgets them. It costs one
// atomic load when there are none.
func (ix *Index[S]) TakeFilterChanges(buf []FilterChange) []FilterChange {
	if ix.pending.Load() == 0 {
		return buf
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	buf = append(buf, ix.changes...)
	clear(ix.changes)
	ix.changes = ix.changes[:0]
	if cap(ix.changes) > 1024 {
		ix.changes = nil
	}
	ix.pending.Store(0)
	return buf
}

// Subscriptions returns a copy of every subscription of sub, in no particular
// order, or nil if it has none. It is meant for inspection and persistence,
// not for the publish path.
func (ix *Index[S]) Subscriptions(sub S) []Entry[S] {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	rec := ix.owners[sub]
	if rec == nil {
		return nil
	}
	out := make([]Entry[S], 0, len(rec.filters))
	for _, f := range rec.filters {
		group, inner, shared, _ := ParseShared(f)
		n := ix.root.lookup(inner)
		if shared {
			for _, e := range n.group(group).Members() {
				if e.Sub == sub {
					out = append(out, e)
					break
				}
			}
			continue
		}
		out = append(out, n.subs[n.find(sub)])
	}
	return out
}

// Len returns the number of subscriptions, counting each member of a shared
// group once. It does not take the lock.
func (ix *Index[S]) Len() int {
	return int(ix.count.Load())
}

// Match finds the subscriptions whose filters match the topic name and puts
// them in m, which it resets first. name should be a valid topic name; an
// empty name matches nothing. Match does not allocate once m's slices have
// grown large enough, and it does not call out to the caller.
//
// The Entries in m.Subs are copies. The Groups in m.Shared are live: their
// membership follows later Subscribe and Unsubscribe calls.
func (ix *Index[S]) Match(name string, m *Matches[S]) {
	m.Subs = m.Subs[:0]
	m.Shared = m.Shared[:0]
	if name == "" {
		return
	}
	ix.mu.RLock()
	matchLocked(&ix.root, name, name[0] == '$', m)
	if m.Stamp != nil {
		atomic.StoreUint64(m.Stamp, ix.gen)
	}
	ix.mu.RUnlock()
}

// matchLocked collects into m the subscriptions below n that match name, the
// levels of the topic name not yet consumed (at least one, possibly empty).
// dollar is set at the root for a name that starts with '$', to which
// wildcards in the first level do not apply [MQTT-4.7.2-1]. The Index's lock
// must be held. It recurses only into '+' branches.
func matchLocked[S comparable](n *node[S], name string, dollar bool, m *Matches[S]) {
	for {
		if n.hash != nil && !dollar {
			n.hash.collect(m) // "x/#" matches "x/..." and, below, "x"
		}
		level, rest, more := cut(name)
		if n.plus != nil && !dollar {
			if more {
				matchLocked(n.plus, rest, false, m)
			} else {
				n.plus.collectLeaf(m)
			}
		}
		c, _ := n.kids.Get(level)
		if c == nil {
			return
		}
		if !more {
			c.collectLeaf(m)
			return
		}
		n, name, dollar = c, rest, false
	}
}

// subscriber records the filters one subscriber holds, so that
// UnsubscribeAll need not search the trie. Its owner's lock guards it.
type subscriber struct {
	filters []string         // as subscribed, sharing the Index's strings
	pos     map[string]int32 // index into filters, once there are many
}

// subscriberIndexAt is the number of filters above which a subscriber keeps
// a map from filter to position, so that Unsubscribe stays O(1) for a
// subscriber (a bridge, say) with thousands of filters.
const subscriberIndexAt = 16

func (s *subscriber) add(f string) {
	s.filters = append(s.filters, f)
	if s.pos != nil {
		s.pos[f] = int32(len(s.filters) - 1)
	} else if len(s.filters) > subscriberIndexAt {
		s.pos = make(map[string]int32, len(s.filters))
		for i, f := range s.filters {
			s.pos[f] = int32(i)
		}
	}
}

// find returns the position of f in s.filters, or -1.
func (s *subscriber) find(f string) int {
	if s.pos != nil {
		if i, ok := s.pos[f]; ok {
			return int(i)
		}
		return -1
	}
	for i, g := range s.filters {
		if g == f {
			return i
		}
	}
	return -1
}

// removeAt removes s.filters[i], moving the last filter into its place.
func (s *subscriber) removeAt(i int) {
	last := len(s.filters) - 1
	if s.pos != nil {
		delete(s.pos, s.filters[i])
		if i != last {
			s.pos[s.filters[last]] = int32(i)
		}
	}
	s.filters[i] = s.filters[last]
	s.filters[last] = ""
	s.filters = s.filters[:last]
	if s.pos != nil && len(s.filters) <= subscriberIndexAt/2 {
		s.pos = nil
	}
	if cap(s.filters) > 64 && len(s.filters) < cap(s.filters)/4 {
		s.filters = append([]string(nil), s.filters...)
	}
}

// Group returns the shared subscription group of filter
// ("$share/{ShareName}/{filter}"), or nil if it has no members or filter is
// not a shared filter. The broker uses it to find the group of a message
// restored from its store.
func (ix *Index[S]) Group(filter string) *Group[S] {
	group, inner, shared, err := ParseShared(filter)
	if err != nil || !shared {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if n := ix.root.lookup(inner); n != nil {
		return n.group(group)
	}
	return nil
}
