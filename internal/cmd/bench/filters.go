package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// Filters mode: --filters distinct subscriptions spread over -S subscriber
// connections, and -c publishers sending --count messages to random topics
// of the form <-t>/a/b/c/d (each level a number below filterWidth). The
// filters come from six families, so that a topic's matches can be counted
// exactly with six look-ups instead of a matcher of our own:
//
//	a/b/c/d   exact (the rest of the subscriptions)
//	a/+/c/d   a/b/c/#   +/b/c/d   (15 % each, at most half of their space)
//	a/b/+/#   a/+/+/d             (1 % each, at most half of their space)
const filterWidth = 32

// fkey is a filter of four levels: a number, or plus or hash.
type fkey [4]int8

const (
	plus = -1 // +
	hash = -2 // #
)

// String is the filter as MQTT writes it.
func (k fkey) String() string {
	var b strings.Builder
	for i, v := range k {
		if i > 0 {
			b.WriteByte('/')
		}
		switch v {
		case plus:
			b.WriteByte('+')
		case hash:
			b.WriteByte('#')
		default:
			b.WriteString(strconv.Itoa(int(v)))
		}
	}
	return b.String()
}

// filterFamilies turn a topic's four levels into the filter of each family
// that would match it.
var filterFamilies = []struct {
	share int // percent of the filters
	lits  int // literal levels: the family has filterWidth^lits members
	key   func(a, b, c, d int8) fkey
}{
	{0, 4, func(a, b, c, d int8) fkey { return fkey{a, b, c, d} }},
	{15, 3, func(a, b, c, d int8) fkey { return fkey{a, plus, c, d} }},
	{15, 3, func(a, b, c, d int8) fkey { return fkey{a, b, c, hash} }},
	{15, 3, func(a, b, c, d int8) fkey { return fkey{plus, b, c, d} }},
	{1, 2, func(a, b, c, d int8) fkey { return fkey{a, b, plus, hash} }},
	{1, 2, func(a, b, c, d int8) fkey { return fkey{a, plus, plus, d} }},
}

// maxFilters is the most distinct filters the families hold at half of
// their space.
const maxFilters = filterWidth * filterWidth * filterWidth * filterWidth / 2

// filterSet is the generated subscriptions: filter (without the prefix) to
// the subscriber connection that holds it.
type filterSet struct {
	owner  map[fkey]int
	byConn [][]string // full filters, per connection
}

// makeFilters generates n distinct filters for conns connections, the same
// ones for the same n and seed.
func makeFilters(prefix string, n, conns int, seed uint64) *filterSet {
	rng := rand.New(rand.NewPCG(seed, 0x6d69646765))
	fs := &filterSet{owner: make(map[fkey]int, n), byConn: make([][]string, conns)}
	add := func(f fkey) bool {
		if _, dup := fs.owner[f]; dup {
			return false
		}
		i := len(fs.owner) % conns
		fs.owner[f] = i
		fs.byConn[i] = append(fs.byConn[i], prefix+"/"+f.String())
		return true
	}
	r := func() int8 { return int8(rng.IntN(filterWidth)) }
	quota := func(share, lits int) int {
		space := 1
		for range lits {
			space *= filterWidth
		}
		return min(n*share/100, space/2)
	}
	for _, fam := range filterFamilies[1:] {
		for q := quota(fam.share, fam.lits); q > 0; {
			if add(fam.key(r(), r(), r(), r())) {
				q--
			}
		}
	}
	for len(fs.owner) < n {
		add(filterFamilies[0].key(r(), r(), r(), r()))
	}
	return fs
}

// matches returns how many filters match topic a/b/c/d and how many
// distinct connections hold them: a broker delivers once per connection or
// once per matching subscription (MQTT 3.1.1 allows both), so the
// deliveries lie between the two.
func (fs *filterSet) matches(a, b, c, d int8) (filters, conns int) {
	var seen [8]int
	for _, fam := range filterFamilies {
		i, ok := fs.owner[fam.key(a, b, c, d)]
		if !ok {
			continue
		}
		filters++
		dup := false
		for _, s := range seen[:conns] {
			dup = dup || s == i
		}
		if !dup {
			seen[conns] = i
			conns++
		}
	}
	return filters, conns
}

// runFiltersBench runs filters mode.
func runFiltersBench(ctx context.Context, o *options, _ base.Streams) (*report, error) {
	rep := newReport(o, o.clients, o.subs)
	d := newDialer(o)
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	prefix := o.topTmpl.expand(tmplVars{role: "f"})
	fs := makeFilters(prefix, o.filters, o.subs, 1)

	// Subscribers: every connection subscribes its share, 100 filters per
	// SUBSCRIBE, then counts what it receives.
	var delivered atomic.Int64
	subs := make([]*wireConn, o.subs)
	var cs connStats
	t0 := benchNow()
	connectPool(ctx, o.subs, o.concurrency, o.duration, &cs, func(cctx context.Context, i int) error {
		num := o.start + i
		c, err := dialWire(cctx, d, num, o.idTmpl.expand(tmplVars{num: num, role: "s"}), wireBufSize)
		if err != nil {
			return err
		}
		subs[i] = c
		return subscribeMany(cctx, c, fs.byConn[i], 100)
	})
	subSecs := float64(benchNow()-t0) / 1e9
	var rwg sync.WaitGroup // the subscribers' readers
	defer func() {
		for _, c := range subs {
			if c != nil {
				c.close(true)
			}
		}
		rwg.Wait()
	}()
	if cs.ok < o.subs {
		rep.setConnect(&cs, o.subs)
		return rep, fmt.Errorf("%d of %d subscribers could not subscribe: %v", o.subs-cs.ok, o.subs, cs.errs.list())
	}
	var errs benchErrors
	for _, c := range subs {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			err := serveWire(c, func(h packet.FixedHeader, _ []byte) error {
				if h.Type == packet.TypePublish {
					delivered.Add(1)
				}
				return nil
			})
			if !c.closed.Load() {
				errs.add(fmt.Errorf("subscriber: %w", err))
			}
		}()
	}

	// Publishers.
	var pcs connStats
	pubs := make([]*pubStream, o.clients)
	connectPool(ctx, o.clients, o.concurrency, o.connectTimeout, &pcs, func(cctx context.Context, i int) error {
		num := o.start + o.subs + i
		p, err := newPubStream(cctx, d, num, o.idTmpl.expand(tmplVars{num: num, role: "p"}), byte(o.qos), o.inflight)
		pubs[i] = p
		return err
	})
	cs.ok += pcs.ok
	cs.fail += pcs.fail
	rep.setConnect(&cs, o.subs+o.clients)
	if pcs.ok < o.clients {
		return rep, fmt.Errorf("publishers could not connect: %v", pcs.errs.list())
	}
	var minExp, maxExp atomic.Int64
	payload := payloadOf(o)
	p0, tp0 := sampleProc(o.pid), benchNow()
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i)+2, 0x7075626c))
			share := o.count / int64(o.clients)
			if int64(i) < o.count%int64(o.clients) {
				share++
			}
			var tb strings.Builder
			for range share {
				a, b, c, dd := int8(rng.IntN(filterWidth)), int8(rng.IntN(filterWidth)), int8(rng.IntN(filterWidth)), int8(rng.IntN(filterWidth))
				nf, nc := fs.matches(a, b, c, dd)
				maxExp.Add(int64(nf))
				minExp.Add(int64(nc))
				// The end-to-end cap: wait while too much is on its way.
				for o.maxLag > 0 && minExp.Load()-delivered.Load() > int64(o.maxLag) && ctx.Err() == nil {
					p.c.flush()
					time.Sleep(50 * time.Microsecond)
				}
				tb.Reset()
				tb.WriteString(prefix)
				for _, v := range [4]int8{a, b, c, dd} {
					tb.WriteByte('/')
					tb.WriteString(strconv.Itoa(int(v)))
				}
				if err := p.publish(ctx, tb.String(), payload); err != nil {
					errs.add(fmt.Errorf("publisher: %w", err))
					return
				}
			}
			if err := p.wait(ctx); err != nil {
				errs.add(fmt.Errorf("publisher: %w", err))
			}
		}()
	}
	wg.Wait()
	tPub := benchNow()
	p1 := sampleProc(o.pid)
	// Drain: until everything the filters promise has arrived, or nothing
	// moved for --drain.
	last, lastAt := delivered.Load(), benchNow()
	for delivered.Load() < minExp.Load() && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
		if v := delivered.Load(); v != last {
			last, lastAt = v, benchNow()
		} else if benchNow()-lastAt > int64(o.drain) {
			break
		}
	}
	tEnd := benchNow()
	var sent, acked int64
	for _, p := range pubs {
		sent += p.sent
		acked += p.acked.Load()
		p.c.close(true)
	}
	pubSecs := float64(tPub-tp0) / 1e9
	rep.Seconds = float64(tEnd-tp0) / 1e9
	rep.Publish = &publishReport{Sent: sent, Acked: acked, Seconds: pubSecs}
	if pubSecs > 0 {
		rep.Publish.Rate = float64(sent) / pubSecs
	}
	got := delivered.Load()
	rep.Receive = &receiveReport{Expected: minExp.Load(), Received: got, Seconds: rep.Seconds}
	rep.Receive.Lost = max(0, minExp.Load()-got)
	if rep.Seconds > 0 {
		rep.Receive.Rate = float64(got) / rep.Seconds
	}
	rep.figure("filters", float64(o.filters))
	rep.figure("subscribe_per_second", float64(o.filters)/subSecs)
	rep.figure("deliveries_min_expected", float64(minExp.Load()))
	rep.figure("deliveries_max_expected", float64(maxExp.Load()))
	if sent > 0 {
		rep.figure("matches_per_publish", float64(maxExp.Load())/float64(sent))
	}
	if p0.self >= 0 && p1.self >= 0 && pubSecs > 0 {
		rep.ToolCPU = (p1.self - p0.self) / pubSecs
	}
	if b := brokerOf(o.pid, p0, p1, pubSecs); b != nil {
		if sent > 0 {
			b.CPUMicros = (p1.cpu - p0.cpu) * 1e6 / float64(sent)
		}
		rep.Broker = b
	}
	for _, c := range subs {
		c.close(false)
	}
	if e := errs.list(); len(e) > 0 && ctx.Err() == nil {
		rep.Errors, rep.FirstErrors = errs.count(), e
		return rep, fmt.Errorf("%d errors; first: %s", errs.count(), e[0])
	}
	switch {
	case got < minExp.Load() || got > maxExp.Load():
		return rep, fmt.Errorf("received %d deliveries, want between %d and %d", got, minExp.Load(), maxExp.Load())
	case ctx.Err() != nil:
		rep.TimedOut = true
		return rep, errors.New("the duration (-d) ran out")
	}
	return rep, nil
}

// subscribeMany subscribes c to filters, per SUBSCRIBE packets of at most
// per filters, and waits for every SUBACK.
func subscribeMany(ctx context.Context, c *wireConn, filters []string, per int) error {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	packets := 0
	for i := 0; i < len(filters); i += per {
		s := &packet.Subscribe{PacketID: uint16(packets%65535 + 1)}
		for _, f := range filters[i:min(i+per, len(filters))] {
			s.Subscriptions = append(s.Subscriptions, packet.Subscription{Filter: f})
		}
		c.wmu.Lock()
		out, err := packet.Append(c.out, s, c.v)
		if err == nil {
			c.out = out
			if len(c.out) >= wireBufSize {
				err = c.writeLocked()
			}
		}
		c.wmu.Unlock()
		if err != nil {
			return err
		}
		packets++
	}
	if err := c.flush(); err != nil {
		return err
	}
	for acks := 0; acks < packets; {
		h, body, _, err := c.readPacket()
		if err != nil {
			return fmt.Errorf("after %d of %d SUBACKs: %w", acks, packets, err)
		}
		if h.Type != packet.TypeSuback {
			continue
		}
		p, err := packet.Decode(h, body, c.v)
		if err != nil {
			return err
		}
		if err := subackError(p.(*packet.Suback)); err != nil {
			return err
		}
		acks++
	}
	return nil
}
