package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// benchNow is midge bench's clock: wall-clock nanoseconds, which payload
// stamps carry so that pub and sub may run in different processes.
func benchNow() int64 { return time.Now().UnixNano() }

// msgRun is one pub, sub or pubsub benchmark.
type msgRun struct {
	o      *options
	d      *dialer         // the publishers'
	sd     *dialer         // the subscribers': --sub-L, or d's broker
	ctx    context.Context // ends when the run stops: bounds dials and waits
	cancel context.CancelFunc
	pinger *pinger
	pubs   []*publisher
	subs   []*subscriber
	liveOn bool // subscribers keep a histogram for the progress line

	// expected is, for pubsub, the first deliveries expected over all
	// subscribers (a share group counts once); fanout is expected divided
	// by the messages published: deliveries per message, for the cap.
	expected int64
	fanout   float64
	capOn    bool

	start     chan struct{} // closed when publishing begins
	sent      atomic.Int64
	acked     atomic.Int64
	unique    atomic.Int64 // first deliveries, all subscribers
	completed atomic.Int64 // deliveries done for the cap (QoS 2 on the wire: at PUBREL)
	pubsLeft  atomic.Int32 // publishers still publishing or waiting for acknowledgements
	pubsDone  chan struct{}
	subsFull  atomic.Int32  // sub: subscribers that have received --count
	allIn     chan struct{} // closed when everything expected has arrived
	allInOnce sync.Once

	stop    chan struct{} // closed when the measured phase ends
	stopped atomic.Bool
	gateMu  sync.Mutex
	gate    *sync.Cond // publishers waiting for the end-to-end cap
	waiting atomic.Int32

	wg   sync.WaitGroup // every goroutine of publishers and subscribers
	errs benchErrors
	conn connStats
}

// benchErrors keeps the first few distinct errors of a run and counts all.
type benchErrors struct {
	mu    sync.Mutex
	n     int      // guarded by mu
	first []string // guarded by mu
}

func (e *benchErrors) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	s := err.Error()
	for _, f := range e.first {
		if f == s {
			return
		}
	}
	if len(e.first) < 5 {
		e.first = append(e.first, s)
	}
}

func (e *benchErrors) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *benchErrors) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.first...)
}

// connStats measures connection set-up: handshake latency (dial, CONNECT
// to CONNACK, and SUBSCRIBE to SUBACK for subscribing clients).
type connStats struct {
	mu       sync.Mutex
	h        hist  // guarded by mu
	ok, fail int   // guarded by mu
	t0, t1   int64 // the set-up phase
	errs     benchErrors
}

func (c *connStats) record(d int64, err error) {
	c.mu.Lock()
	if err != nil {
		c.fail++
	} else {
		c.ok++
		c.h.add(d)
	}
	c.mu.Unlock()
	if err != nil {
		c.errs.add(err)
	}
}

// connectPool runs connect(i) for i in [0, n) with at most conc at once,
// each bounded by timeout, all bounded by ctx, recording the handshake
// times in cs.
func connectPool(ctx context.Context, n, conc int, timeout time.Duration, cs *connStats, connect func(ctx context.Context, i int) error) {
	cs.t0 = benchNow()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, timeout)
				t := benchNow()
				err := connect(cctx, i)
				cancel()
				cs.record(benchNow()-t, err)
			}
		}()
	}
	wg.Wait()
	cs.t1 = benchNow()
}

// publisher is one publishing client.
type publisher struct {
	r      *msgRun
	idx    int // index among the publishers
	num    int // client number, %i
	id     string
	topic  string
	count  int64 // messages to publish
	link   pubLink
	window int

	free   chan uint16    // QoS 1/2: tokens (wire: packet identifiers) not in flight
	sentAt []atomic.Int64 // by token: send time
	flying []atomic.Bool  // by token: awaiting its acknowledgement

	sentN       atomic.Int64
	ackedN      atomic.Int64
	rejectedN   atomic.Int64 // MQTT 5 reason code >= 0x80
	unexpectedN atomic.Int64 // acknowledgements of nothing in flight
	ackLat      hist         // written by the acknowledging goroutine only
	finishedAt  atomic.Int64
}

// pubLink is a publisher's connection, whichever engine carries it.
type pubLink interface {
	// payload returns the buffer of the message to send with tok (0 for
	// QoS 0), which the publisher stamps.
	payload(tok uint16) []byte
	// publish sends the message in payload(tok); it may only queue it.
	publish(tok uint16) error
	// flush writes what publish queued.
	flush() error
	// window is how many QoS 1/2 messages the broker lets it have in flight.
	window() int
	// start begins reading the broker's acknowledgements.
	start()
	// close ends the connection, gracefully (DISCONNECT) or not.
	close(graceful bool)
}

// ack outcomes.
const (
	ackOK = iota
	ackRejected
	ackAborted // the connection ended first
)

// ackDone releases tok when its acknowledgement (PUBACK, PUBCOMP) arrived.
func (p *publisher) ackDone(tok uint16, outcome int) {
	if tok == 0 || int(tok) >= len(p.flying) || !p.flying[tok].CompareAndSwap(true, false) {
		p.unexpectedN.Add(1)
		return
	}
	switch outcome {
	case ackOK:
		p.ackLat.add(benchNow() - p.sentAt[tok].Load())
		p.ackedN.Add(1)
		p.r.acked.Add(1)
	case ackRejected:
		p.rejectedN.Add(1)
	}
	p.free <- tok // never blocks: free holds every token at most once
}

// connect opens the publisher's connection and makes its tokens.
func (p *publisher) connect(ctx context.Context) error {
	r := p.r
	var link pubLink
	var err error
	if r.o.engine == "client" {
		link, err = newClientPub(ctx, p)
	} else {
		link, err = newWirePub(ctx, p)
	}
	if err != nil {
		return err
	}
	p.link = link
	if r.o.qos > 0 {
		p.window = min(r.o.inflight, p.link.window())
		p.free = make(chan uint16, p.window)
		for t := 1; t <= p.window; t++ {
			p.free <- uint16(t)
		}
		p.sentAt = make([]atomic.Int64, p.window+1)
		p.flying = make([]atomic.Bool, p.window+1)
	}
	p.link.start()
	return nil
}

// run publishes p.count messages, paced by the rate and held back by the
// QoS window and the end-to-end cap, then waits for the acknowledgements;
// it stops early when the run stops.
func (p *publisher) run() {
	r, o := p.r, p.r.o
	defer r.wg.Done()
	defer func() {
		p.finishedAt.Store(benchNow())
		if r.pubsLeft.Add(-1) == 0 {
			close(r.pubsDone)
		}
	}()
	select {
	case <-r.start:
	case <-r.stop:
		return
	}
	fail := func(err error) {
		if !r.stopped.Load() {
			r.errs.add(fmt.Errorf("publisher %s: %w", p.id, err))
		}
	}
	var interval int64
	switch {
	case o.rate > 0:
		interval = int64(float64(len(r.pubs)) * 1e9 / o.rate)
	case o.clientRate > 0:
		interval = int64(1e9 / o.clientRate)
	}
	var timer *time.Timer
	next := benchNow()
	if interval > 0 {
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
		next += interval * int64(p.idx) / int64(len(r.pubs)) // spread the publishers over one interval
	}
	qos := o.qos
	for seq := int64(0); seq < p.count; seq++ {
		if r.stopped.Load() {
			return
		}
		blocked := false
		var tok uint16
		if qos > 0 {
			select {
			case tok = <-p.free:
			default:
				blocked = true
				if err := p.link.flush(); err != nil {
					fail(err)
					return
				}
				select {
				case tok = <-p.free:
				case <-r.stop:
					return
				}
			}
		}
		if r.capOn && r.lag() >= float64(o.maxLag) {
			blocked = true
			if err := p.link.flush(); err != nil {
				fail(err)
				return
			}
			if !r.waitLag() {
				return
			}
		}
		ts := benchNow()
		if interval > 0 {
			if d := next - ts; d > 0 {
				timer.Reset(time.Duration(d))
				select {
				case <-timer.C:
				case <-r.stop:
					return
				}
				ts = benchNow()
			}
			// Coordinated-omission guard: when the broker's flow control
			// (the QoS window or the cap) held the publisher past its
			// schedule, the message counts from when it was due, so the
			// stall shows in the latency; the timer's own lateness does not.
			if blocked && ts > next {
				ts = next
			}
			next += interval
		}
		putStamp(p.link.payload(tok), stamp{run: o.runID, pub: uint32(p.num), seq: uint32(seq), sent: ts})
		if qos > 0 {
			p.sentAt[tok].Store(ts)
			p.flying[tok].Store(true)
		}
		if err := p.link.publish(tok); err != nil {
			fail(err)
			return
		}
		p.sentN.Add(1)
		r.sent.Add(1)
		if interval > 0 {
			if err := p.link.flush(); err != nil {
				fail(err)
				return
			}
		}
	}
	if err := p.link.flush(); err != nil {
		fail(err)
		return
	}
	for range p.window { // every token back: everything acknowledged
		select {
		case <-p.free:
		case <-r.stop:
			return
		}
	}
}

// lag is how far the publishers are ahead of the subscribers, in messages:
// published minus completed deliveries per delivery expected.
func (r *msgRun) lag() float64 {
	return float64(r.sent.Load()) - float64(r.completed.Load())/r.fanout
}

// waitLag blocks a publisher while the lag is above half the cap (so that
// publishers resume in batches, not one message at a time). It reports
// false if the run stopped.
func (r *msgRun) waitLag() bool {
	half := float64(r.o.maxLag) / 2
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	for !r.stopped.Load() && r.lag() > half {
		r.gate.Wait()
	}
	return !r.stopped.Load()
}

// kick wakes waiting publishers once the lag is down to half the cap.
func (r *msgRun) kick() {
	if r.capOn && r.waiting.Load() > 0 && r.lag() <= float64(r.o.maxLag)/2 {
		r.gateMu.Lock()
		r.gate.Broadcast()
		r.gateMu.Unlock()
	}
}

// subscriber is one subscribing client.
type subscriber struct {
	r      *msgRun
	idx    int
	num    int
	id     string
	filter string
	group  string // $share group, "" if none

	subacked chan error    // the wire engine's reader passes on SUBACKs
	reconn   chan struct{} // the client engine's onMessage asks for a reconnection

	mu  sync.Mutex // the client engine's OnMessage against reconnection and stop
	cur subLink    // guarded by mu: the current connection

	// Written by the receiving goroutine (under mu for the client engine),
	// read when the run is over.
	packets      int64                // PUBLISH packets, duplicates included
	foreign      int64                // payloads not stamped by this run (pubsub) or by midge bench
	bad          int64                // stamps naming no publisher or sequence of this run
	unique       int64                // first deliveries
	tracks       []seqTrack           // pubsub: by publisher index
	trackMap     map[uint64]*seqTrack // sub: by run<<32 | publisher number
	lat          hist                 // latency of first deliveries
	firstRecv    int64
	lastRecv     int64
	sinceConnect int
	reconnects   int

	liveMu sync.Mutex
	live   hist // guarded by liveMu: latencies since the last progress line
}

// subLink is a subscriber's connection.
type subLink interface {
	close(graceful bool)
}

// record counts one PUBLISH whose payload arrived at now. atRel says that
// a QoS 2 delivery completes at its PUBREL (the wire engine sees it), not
// here. The caller is to kick waiting publishers afterwards (at once, or
// once per batch of packets). It reports whether the subscriber should now
// reconnect.
func (s *subscriber) record(payload []byte, now int64, qos byte, atRel bool) bool {
	r := s.r
	s.packets++
	s.sinceConnect++
	again := r.o.subReconnect > 0 && s.sinceConnect >= r.o.subReconnect
	st, ok := getStamp(payload)
	if !ok || r.o.mode == "pubsub" && st.run != r.o.runID {
		s.foreign++
		return again
	}
	var t *seqTrack
	if r.o.mode == "pubsub" {
		i := int(st.pub) - r.o.start
		if i < 0 || i >= len(r.pubs) || int64(st.seq) >= r.pubs[i].count {
			s.bad++
			return again
		}
		t = &s.tracks[i]
	} else {
		key := uint64(st.run)<<32 | uint64(st.pub)
		if t = s.trackMap[key]; t == nil {
			t = new(seqTrack)
			s.trackMap[key] = t
		}
	}
	if !t.add(st.seq) {
		return again
	}
	lat := now - st.sent
	s.lat.add(lat)
	if r.liveOn {
		s.liveMu.Lock()
		s.live.add(lat)
		s.liveMu.Unlock()
	}
	if s.firstRecv == 0 {
		s.firstRecv = now
	}
	s.lastRecv = now
	s.unique++
	n := r.unique.Add(1)
	if qos < 2 || !atRel {
		r.completed.Add(1) // the caller kicks the publishers
	}
	switch {
	case r.expected > 0 && n == r.expected:
		r.allInOnce.Do(func() { close(r.allIn) })
	case r.o.mode == "sub" && r.o.count > 0 && s.unique == r.o.count:
		if int(r.subsFull.Add(1)) == len(r.subs) {
			r.allInOnce.Do(func() { close(r.allIn) })
		}
	}
	return again
}

// connect opens the subscriber's connection and subscribes.
func (s *subscriber) connect(ctx context.Context) error {
	if s.r.o.engine == "client" {
		return s.connectClient(ctx)
	}
	return s.connectWire(ctx)
}

// closeLink ends the subscriber's current connection (at the end of the run).
func (s *subscriber) closeLink(graceful bool) {
	s.mu.Lock()
	l := s.cur
	s.mu.Unlock()
	if l != nil {
		l.close(graceful)
	}
}

// newMsgRun sets up the clients of a pub, sub or pubsub run.
func newMsgRun(ctx context.Context, o *options) (*msgRun, error) {
	r := &msgRun{
		o:        o,
		d:        newDialer(o),
		sd:       newSubDialer(o),
		start:    make(chan struct{}),
		pubsDone: make(chan struct{}),
		allIn:    make(chan struct{}),
		stop:     make(chan struct{}),
	}
	r.gate = sync.NewCond(&r.gateMu)
	r.ctx, r.cancel = context.WithCancel(ctx)
	var errs []error
	nPubs, nSubs := 0, 0
	switch o.mode {
	case "pub":
		nPubs = o.clients
	case "sub":
		nSubs = o.clients
	case "pubsub":
		nPubs, nSubs = o.clients, o.subs
	}
	var total int64
	for i := range nPubs {
		num := o.start + i
		id := o.idTmpl.expand(tmplVars{num: num, role: "pub"})
		p := &publisher{r: r, idx: i, num: num, id: id,
			topic: o.topTmpl.expand(tmplVars{num: num, id: id, role: "pub"})}
		p.count = o.count / int64(nPubs)
		if int64(i) < o.count%int64(nPubs) {
			p.count++
		}
		total += p.count
		if !packet.ValidTopicName(p.topic) {
			errs = append(errs, fmt.Errorf("-t: %q is not a valid topic name for publisher %d", p.topic, num))
		}
		r.pubs = append(r.pubs, p)
	}
	tmpl := o.topTmpl
	if o.mode == "pubsub" {
		tmpl = o.subTmpl
	}
	for i := range nSubs {
		num := o.start + i
		id := o.idTmpl.expand(tmplVars{num: num, role: "sub"})
		s := &subscriber{r: r, idx: i, num: num, id: id, subacked: make(chan error, 1), reconn: make(chan struct{}, 1),
			filter: tmpl.expand(tmplVars{num: num, id: id, role: "sub"})}
		if !packet.ValidTopicFilter(s.filter) {
			errs = append(errs, fmt.Errorf("%q is not a valid topic filter for subscriber %d", s.filter, num))
		}
		if o.mode == "pubsub" {
			s.tracks = make([]seqTrack, nPubs)
		} else {
			s.trackMap = make(map[uint64]*seqTrack)
		}
		r.subs = append(r.subs, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.mode == "pubsub" {
		r.expected = r.expectedDeliveries()
		if r.expected == 0 {
			return nil, errors.New("the subscribers' filters match none of the publishers' topics (see --sub-topic)")
		}
		r.fanout = float64(r.expected) / float64(total)
		r.capOn = o.maxLag > 0
	}
	r.pubsLeft.Store(int32(nPubs))
	if nPubs == 0 {
		close(r.pubsDone)
	}
	return r, nil
}

// expectedDeliveries counts the first deliveries a correct broker makes:
// for each subscriber (or share group), the messages of every publisher
// whose topic its filter matches.
func (r *msgRun) expectedDeliveries() int64 {
	var n int64
	groups := map[string]bool{}
	for _, s := range r.subs {
		g, inner, shared, _ := topic.ParseShared(s.filter)
		if shared {
			key := g + "\x00" + inner
			s.group = key
			if groups[key] {
				continue
			}
			groups[key] = true
		}
		for _, p := range r.pubs {
			if topic.Match(inner, p.topic) {
				n += p.count
			}
		}
	}
	return n
}

// runMsgBench runs pub, sub or pubsub.
func runMsgBench(ctx context.Context, o *options, st base.Streams) (*report, error) {
	r, err := newMsgRun(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.cancel()
	prog := newProgress(o, st)
	r.liveOn = prog != nil && len(r.subs) > 0
	if o.engine == "wire" {
		r.pinger = newPinger()
		defer r.pinger.close()
	}
	rep := newReport(o, len(r.pubs), len(r.subs))

	// Set up: subscribers first, so that they are in place when the
	// publishers start; all bounded by -d.
	sctx, scancel := context.WithTimeout(r.ctx, o.duration)
	n := len(r.subs) + len(r.pubs)
	connectPool(sctx, n, o.concurrency, o.connectTimeout, &r.conn, func(ctx context.Context, i int) error {
		if i < len(r.subs) {
			s := r.subs[i]
			if err := s.connect(ctx); err != nil {
				return fmt.Errorf("subscriber %s: %w", s.id, err)
			}
			return nil
		}
		p := r.pubs[i-len(r.subs)]
		if err := p.connect(ctx); err != nil {
			return fmt.Errorf("publisher %s: %w", p.id, err)
		}
		return nil
	})
	scancel()
	rep.setConnect(&r.conn, n)
	if r.conn.fail > 0 || r.conn.ok < n {
		r.shutdown()
		err := errors.New("not every client could connect")
		if errs := r.conn.errs.list(); len(errs) > 0 {
			err = fmt.Errorf("%d of %d clients could not connect; first: %s", n-r.conn.ok, n, errs[0])
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", ctx.Err())
		}
		return rep, err
	}
	for _, p := range r.pubs {
		r.wg.Add(1)
		go p.run()
	}

	// Measure.
	m := r.measure(prog)
	r.shutdown()
	r.fill(rep, m)
	if errs := r.errs.list(); len(errs) > 0 {
		return rep, fmt.Errorf("%d errors during the run; first: %s", r.errs.count(), errs[0])
	}
	if m.interrupted && (o.mode != "sub" || o.count > 0) { // a sub without --count runs until -d or ^C
		return rep, errors.New("interrupted")
	}
	return rep, nil
}

// measurement is what the measured phase saw.
type measurement struct {
	t0, tEnd    int64
	pubsEnd     int64 // when the last publisher finished, 0 if not all did
	timedOut    bool
	stalled     bool
	interrupted bool
	proc0       procSample
	proc1       procSample
}

// measure runs the measured phase: it starts the publishers and waits
// until everything expected has arrived, the duration is up, nothing has
// moved for --drain, or the context ends.
func (r *msgRun) measure(prog *progress) measurement {
	o := r.o
	var m measurement
	m.proc0 = sampleProc(o.pid)
	m.t0 = benchNow()
	close(r.start)
	deadline := time.NewTimer(o.duration)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	lastMove, lastCount := m.t0, int64(0)
	allIn, pubsDone := r.allIn, r.pubsDone
	if o.mode == "pub" {
		allIn = nil
	}
	var drainUntil <-chan time.Time // pubsub: after allIn, a bounded wait for the publishers' last acknowledgements
loop:
	for {
		select {
		case <-allIn:
			allIn = nil
			if o.mode == "sub" || pubsDone == nil {
				break loop
			}
			drainUntil = time.After(o.drain)
		case <-pubsDone:
			pubsDone = nil
			m.pubsEnd = benchNow()
			if o.mode == "pub" || allIn == nil {
				break loop
			}
		case <-drainUntil:
			break loop
		case <-deadline.C:
			m.timedOut = true
			break loop
		case <-r.ctx.Done():
			m.interrupted = true
			break loop
		case <-tick.C:
			now := benchNow()
			if c := r.sent.Load() + r.acked.Load() + r.unique.Load(); c != lastCount {
				lastCount, lastMove = c, now
			}
			if o.mode != "sub" && now-lastMove > int64(o.drain) {
				// Nothing moved for --drain: the rest is lost, or the
				// broker stopped acknowledging and the window or the cap
				// holds the publishers.
				m.stalled = pubsDone != nil
				break loop
			}
			if prog != nil {
				prog.tick(r, now)
			}
		}
	}
	if m.pubsEnd == 0 {
		select {
		case <-r.pubsDone:
			m.pubsEnd = benchNow()
		default:
		}
	}
	m.tEnd = benchNow()
	m.proc1 = sampleProc(o.pid)
	if prog != nil {
		prog.clear()
	}
	return m
}

// shutdown stops the publishers and subscribers and waits for their
// goroutines (bounded).
func (r *msgRun) shutdown() {
	if r.stopped.Swap(true) {
		return
	}
	close(r.stop)
	r.gateMu.Lock()
	r.gate.Broadcast()
	r.gateMu.Unlock()
	r.cancel()
	var wg sync.WaitGroup
	for _, p := range r.pubs {
		if p.link != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.link.close(true) }()
		}
	}
	for _, s := range r.subs {
		wg.Add(1)
		go func() { defer wg.Done(); s.closeLink(true) }()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.errs.add(errors.New("clients did not stop within 10s"))
	}
}

// ackOutcome classifies the error a client PublishAsync reported.
func ackOutcome(err error) int {
	var re *client.ReasonError
	switch {
	case err == nil:
		return ackOK
	case errors.As(err, &re):
		return ackRejected
	}
	return ackAborted
}
