package crashtest_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestCrashKeepsAcknowledgedMessages runs the broker as a child process with
// persistence on and kills it with SIGKILL at a random moment of each cycle
// while a QoS 1 and a QoS 2 publisher send numbered messages to persistent
// subscribers (two always connected, one connected every third cycle). After
// the last cycle it checks that every message the broker acknowledged
// (PUBACK, PUBREC) reached every subscription, and that no QoS 2 message
// reached a QoS 2 subscription twice. MIDGE_CRASH_CYCLES sets the number of
// cycles (default 20); MIDGE_CRASH_SEED repeats a run.
func TestCrashKeepsAcknowledgedMessages(t *testing.T) {
	cycles, rng := crashParams(t)

	bin := buildMidge(t)
	cfg := newBrokerConf(t, bin, t.TempDir())

	w := newWorkload(newSubscriber("sub1", 1, 1), newSubscriber("sub2", 2, 1), newSubscriber("sub3", 2, 3))

	for cycle := range cycles {
		b := cfg.start(t)
		addr := cfg.addr
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		w.listen(ctx, &wg, addr, cycle)
		if cycle == 0 {
			// Messages published before a subscription exists are not
			// the subscriber's: start publishing once all have one.
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			w.waitSubscribed(t, wctx, func() string { return "broker log:\n" + b.log() })
			wcancel()
		}
		w.publish(ctx, &wg, addr)
		// The crash comes at a random moment: this sleep is the workload's
		// length, not a wait for a condition.
		time.Sleep(time.Duration(50+rng.IntN(450)) * time.Millisecond)
		b.kill()
		cancel()
		wg.Wait()
	}

	// A last run without a crash: everyone reconnects, publishers finish
	// their flows and send an end marker, subscribers read up to both
	// markers.
	b := cfg.start(t)
	defer b.kill()
	addr := cfg.addr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w.drain(t, ctx, addr, addr, func() string { return "broker log:\n" + b.log() })
	total, _ := w.check(t, "broker")
	t.Logf("%d cycles, %d acknowledged messages checked against %d subscriptions", cycles, total, len(w.subs))
	if t.Failed() {
		for _, line := range strings.Split(b.log(), "\n") {
			if strings.Contains(line, "Error") || strings.Contains(line, "rror:") || strings.Contains(line, "persistence") {
				t.Log(line)
			}
		}
	}
}

// TestBridgeCrashKeepsAcknowledgedMessages runs two brokers as child
// processes, both with persistence: an edge broker with a bridge (QoS 2,
// local_cleansession false) to a central one. A QoS 1 and a QoS 2
// publisher send numbered messages to the edge while the central broker
// goes up and down (killed with SIGKILL every other cycle) and the edge is
// killed with SIGKILL at a random moment of every cycle. Persistent
// subscribers on the central broker (QoS 1 and QoS 2) must receive every
// message the edge acknowledged, and no QoS 2 message twice.
// MIDGE_CRASH_CYCLES sets the number of cycles (default 20);
// MIDGE_CRASH_SEED repeats a run.
// MIDGE_CRASH_CENTRAL_UP=1 keeps the central broker up,
// MIDGE_CRASH_EDGE_UP=1 the edge, MIDGE_CRASH_CENTRAL_TERM=1 stops the
// central broker with SIGTERM before killing it.
func TestBridgeCrashKeepsAcknowledgedMessages(t *testing.T) {
	cycles, rng := crashParams(t)

	bin := buildMidge(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	edgeDir, centralDir := t.TempDir(), t.TempDir()
	edgePort, centralPort := testutil.FreePort(t), testutil.FreePort(t)
	edgeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(edgePort))
	centralAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(centralPort))
	common := "allow_anonymous true\npersistence true\nuser %s\nlog_dest stderr\nlog_type error\nlog_type warning\nmax_queued_messages 1000000\npersistence_location %s\n"
	centralConf := filepath.Join(centralDir, "central.conf")
	edgeConf := filepath.Join(edgeDir, "edge.conf")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(centralConf, fmt.Sprintf("listener %d 127.0.0.1\n"+common, centralPort, u.Username, centralDir))
	write(edgeConf, fmt.Sprintf("listener %d 127.0.0.1\n"+common+
		"connection central\naddress %s\nremote_clientid edge-bridge\nrestart_timeout 1\ntopic crash/# out 2\n",
		edgePort, u.Username, edgeDir, centralAddr))

	w := newWorkload(newSubscriber("sub1", 1, 1), newSubscriber("sub2", 2, 1))

	var central, edge *broker
	var events []string
	centralKills, edgeKills := 0, 0
	for cycle := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		up := cycle%2 == 0 || os.Getenv("MIDGE_CRASH_CENTRAL_UP") != ""
		killEdge := os.Getenv("MIDGE_CRASH_EDGE_UP") == ""
		if up && central == nil {
			central = mustLaunch(t, bin, centralConf, centralAddr)
		}
		if central != nil {
			w.listen(ctx, &wg, centralAddr, cycle)
			if cycle == 0 {
				w.waitSubscribed(t, ctx, func() string { return "central log:\n" + central.log() })
			}
		}
		if edge == nil {
			edge = mustLaunch(t, bin, edgeConf, edgeAddr)
		}
		w.publish(ctx, &wg, edgeAddr)
		// The crash comes at a random moment: this sleep is the workload's
		// length, not a wait for a condition.
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		if killEdge {
			edge.kill()
			edge = nil
			edgeKills++
		}
		if !up && central != nil {
			if os.Getenv("MIDGE_CRASH_CENTRAL_TERM") != "" {
				central.stop()
			}
			central.kill()
			central = nil
			centralKills++
		}
		cancel()
		wg.Wait()
		for _, p := range w.pubs {
			p.mu.Lock()
			events = append(events, fmt.Sprintf("cycle %d (central %v): %s published up to %d", cycle, up, p.id, p.next))
			p.mu.Unlock()
		}
	}

	// A last run without a crash: both brokers up, the publishers finish
	// their flows and send an end marker, the subscribers read up to both.
	if central == nil {
		central = mustLaunch(t, bin, centralConf, centralAddr)
	}
	defer central.kill()
	if edge == nil {
		edge = mustLaunch(t, bin, edgeConf, edgeAddr)
	}
	defer edge.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	w.drain(t, ctx, centralAddr, edgeAddr, func() string {
		return "edge log:\n" + edge.log() + "\ncentral log:\n" + central.log()
	})

	// The end markers may overtake messages the central broker resends to
	// a subscriber after its restart: read on for a moment.
	lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Second)
	var lwg sync.WaitGroup
	w.listen(lctx, &lwg, centralAddr, 0)
	lwg.Wait()
	lcancel()

	total, dups := w.check(t, "edge")
	if t.Failed() {
		t.Log(strings.Join(events, "\n"))
		t.Log("edge log:\n" + edge.log())
		t.Log("central log:\n" + central.log())
	}
	t.Logf("%d cycles (edge killed %d times, central stopped %d times): %d acknowledged messages, each checked at %d subscriptions on the central broker; %d QoS 2 duplicates",
		cycles, edgeKills, centralKills, total, len(w.subs), dups)
}

// mustLaunch starts a broker for conf, listening at addr, or fails the test.
func mustLaunch(t *testing.T, bin, conf, addr string) *broker {
	t.Helper()
	b, err := launch(bin, conf, addr, nil)
	if err != nil {
		t.Fatalf("broker %s did not start: %v\n%s", conf, err, b.log())
	}
	return b
}

// crashParams reads MIDGE_CRASH_CYCLES, the number of cycles (default 20),
// and MIDGE_CRASH_SEED, the seed of the random moments of the crashes.
func crashParams(t *testing.T) (cycles int, rng *rand.Rand) {
	cycles = envInt(t, "MIDGE_CRASH_CYCLES", 20)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MIDGE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MIDGE_CRASH_SEED), %d cycles", seed, cycles)
	return cycles, rand.New(rand.NewPCG(seed, seed))
}

// workload is a crash test's traffic: a QoS 1 and a QoS 2 publisher
// ("pub1", "pub2") and persistent subscribers.
type workload struct {
	pubs []*publisher
	subs []*subscriber
}

func newWorkload(subs ...*subscriber) *workload {
	return &workload{pubs: []*publisher{newPublisher("pub1", 1), newPublisher("pub2", 2)}, subs: subs}
}

// listen starts, in wg, the subscribers connected in cycle (see
// subscriber.every) reading at addr in a new phase until ctx ends. A
// connection the broker did not answer in time (it may be busy restoring
// the store) is retried.
func (w *workload) listen(ctx context.Context, wg *sync.WaitGroup, addr string, cycle int) {
	for _, s := range w.subs {
		if cycle%s.every != 0 {
			continue
		}
		// The phase begins before the goroutine, so that a wait for the
		// subscription is on this cycle's one.
		s.newPhase()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				s.run(ctx, addr, "")
				pause(ctx)
			}
		}()
	}
}

// waitSubscribed waits until every subscriber has its subscription in
// this phase; it fails the test, with logs(), if one has not when ctx ends.
func (w *workload) waitSubscribed(t *testing.T, ctx context.Context, logs func() string) {
	t.Helper()
	for _, s := range w.subs {
		if !s.waitSubscribed(ctx) {
			t.Fatalf("%s did not subscribe\n%s", s.id, logs())
		}
	}
}

// publish starts, in wg, the publishers sending to addr until ctx ends or
// their connection fails.
func (w *workload) publish(ctx context.Context, wg *sync.WaitGroup, addr string) {
	for _, p := range w.pubs {
		wg.Add(1)
		go func() { defer wg.Done(); p.run(ctx, addr, false) }()
	}
}

// drain is the last run, without a crash: everyone reconnects, the
// publishers (at pubAddr) finish their flows and send an end marker, and
// the subscribers (at subAddr) read up to both markers. Each retries a
// connection that fails, so that one refused dial or lost connection
// cannot leave the drain waiting for a marker. It fails the test, with
// logs(), if that does not end before ctx.
func (w *workload) drain(t *testing.T, ctx context.Context, subAddr, pubAddr string, logs func() string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, s := range w.subs {
		s.newPhase()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !s.ended(len(w.pubs)) && ctx.Err() == nil {
				s.run(ctx, subAddr, "pub1,pub2")
				pause(ctx)
			}
		}()
	}
	w.waitSubscribed(t, ctx, func() string { return "in the final drain\n" + logs() })
	for _, p := range w.pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !p.isEnded() && ctx.Err() == nil {
				p.run(ctx, pubAddr, true)
				pause(ctx)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("final drain did not finish: %v\n%s", ctx.Err(), logs())
	}
}

// check reports as test errors every message the broker (acker) acknowledged
// to a publisher that a subscription lost, and every QoS 2 message a QoS 2
// subscription received more than once. It returns the number of
// acknowledged messages and of duplicates.
func (w *workload) check(t *testing.T, acker string) (total, dups int) {
	t.Helper()
	for _, p := range w.pubs {
		total += len(p.acked)
		for _, s := range w.subs {
			var lost []int
			for seq := range p.acked {
				if s.counts[key(p.id, seq)] == 0 {
					lost = append(lost, seq)
				}
			}
			if len(lost) > 0 {
				slices.Sort(lost)
				t.Errorf("%s lost %d of the %d messages the %s acknowledged to %s: %v", s.id, len(lost), len(p.acked), acker, p.id, ranges(lost))
			}
		}
	}
	for _, s := range w.subs {
		if s.qos < 2 {
			continue
		}
		for k, n := range s.counts {
			if strings.HasPrefix(k, "pub2:") && n > 1 {
				dups++
				t.Errorf("%s received QoS 2 message %s %d times", s.id, k, n)
			}
		}
	}
	return total, dups
}

// ranges writes sorted numbers as ranges, "1-5 9".
func ranges(ns []int) string {
	var b strings.Builder
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if i == j {
			fmt.Fprint(&b, ns[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", ns[i], ns[j])
		}
		i = j + 1
	}
	return b.String()
}

func key(pub string, seq int) string { return pub + ":" + strconv.Itoa(seq) }

// publisher sends numbered messages at one QoS, keeping its MQTT session
// state across connections as a client must.
type publisher struct {
	id       string
	qos      byte
	mu       sync.Mutex
	next     int
	nextID   uint16
	inflight map[uint16]int  // packet id → seq, waiting for PUBACK/PUBREC
	released map[uint16]bool // QoS 2 ids whose PUBREC came, waiting for PUBCOMP
	acked    map[int]bool    // seqs the broker acknowledged
	ended    bool            // the end marker was acknowledged
}

func newPublisher(id string, qos byte) *publisher {
	return &publisher{id: id, qos: qos, inflight: make(map[uint16]int), released: make(map[uint16]bool), acked: make(map[int]bool)}
}

func (p *publisher) isEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// run connects and publishes until ctx ends or the connection fails. With
// finish, it only completes its open flows and then sends the end marker.
func (p *publisher) run(ctx context.Context, addr string, finish bool) {
	c, err := dial(ctx, addr, p.id, "")
	if err != nil {
		return
	}
	defer c.close()
	p.mu.Lock()
	for id := range p.released {
		c.send(&packet.Ack{Kind: packet.TypePubrel, PacketID: id})
	}
	for id, seq := range p.inflight {
		c.send(&packet.Publish{Topic: "crash/" + p.id, QoS: p.qos, PacketID: id, Dup: true, Payload: []byte(key(p.id, seq))})
	}
	p.mu.Unlock()
	if err := c.flush(); err != nil {
		return
	}
	done := make(chan struct{})
	go func() { // reader: acknowledgements
		defer close(done)
		for {
			pk, err := c.r.ReadPacket()
			if err != nil {
				return
			}
			a, ok := pk.(*packet.Ack)
			if !ok {
				continue
			}
			p.mu.Lock()
			switch a.Kind {
			case packet.TypePuback:
				if a.PacketID == endMarkerID {
					p.ended = true
				}
				if seq, ok := p.inflight[a.PacketID]; ok {
					p.acked[seq] = true
					delete(p.inflight, a.PacketID)
				}
			case packet.TypePubrec:
				if seq, ok := p.inflight[a.PacketID]; ok {
					p.acked[seq] = true
					delete(p.inflight, a.PacketID)
				}
				p.released[a.PacketID] = true
				c.send(&packet.Ack{Kind: packet.TypePubrel, PacketID: a.PacketID})
			case packet.TypePubcomp:
				delete(p.released, a.PacketID)
			}
			p.mu.Unlock()
			c.flush()
		}
	}()
	for ctx.Err() == nil {
		p.mu.Lock()
		open := len(p.inflight) + len(p.released)
		if finish {
			if open == 0 {
				p.mu.Unlock()
				c.send(&packet.Publish{Topic: "crash/" + p.id, QoS: 1, PacketID: endMarkerID, Payload: []byte("END")})
				c.flush()
				break
			}
			p.mu.Unlock()
		} else if open < 16 {
			p.nextID = p.nextID%60000 + 1
			for p.inflight[p.nextID] != 0 || p.released[p.nextID] {
				p.nextID = p.nextID%60000 + 1
			}
			p.next++
			p.inflight[p.nextID] = p.next
			c.send(&packet.Publish{Topic: "crash/" + p.id, QoS: p.qos, PacketID: p.nextID, Payload: []byte(key(p.id, p.next))})
			p.mu.Unlock()
			if c.flush() != nil {
				break
			}
			continue
		} else {
			p.mu.Unlock()
		}
		select {
		case <-done:
			return
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
	}
	if finish {
		select { // wait for the marker's PUBACK, or the end
		case <-done:
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// endMarkerID is the packet identifier of a publisher's end marker,
// outside the range of its numbered messages.
const endMarkerID = 65535

// subscriber receives at one QoS with a persistent session, acting as a
// QoS 2 receiver must: a PUBLISH whose packet identifier awaits PUBREL is a
// retransmission and is not counted again.
type subscriber struct {
	id        string
	qos       byte
	every     int // connected in one cycle of every
	mu        sync.Mutex
	counts    map[string]int  // payload → deliveries
	await     map[uint16]bool // QoS 2 ids received, PUBREL not yet
	ready     chan struct{}   // closed once the subscription is in place in the current phase (newPhase)
	readyDone bool            // ready is closed
	confirmed bool            // a SUBACK arrived: the subscription is the broker's to keep
	ends      map[string]bool // publishers whose end marker arrived
}

func newSubscriber(id string, qos byte, every int) *subscriber {
	return &subscriber{id: id, qos: qos, every: every, counts: make(map[string]int), await: make(map[uint16]bool)}
}

// ended reports whether the end markers of n publishers arrived.
func (s *subscriber) ended(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ends) >= n
}

// newPhase begins a phase of the test (a cycle, or the final drain): a
// wait for the subscription (waitSubscribed) started after it ends when one
// of the phase's connections has it, whichever run of the phase that is.
// (Each run made its own channel, and a wait that began before the first
// run of the drain made its one waited on the previous cycle's, which a
// connection cut before its SUBACK had left open: issue 12.10.)
func (s *subscriber) newPhase() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready, s.readyDone = make(chan struct{}), false
}

// markReady says the subscription is in place in this phase.
func (s *subscriber) markReady() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.readyDone {
		s.readyDone = true
		close(s.ready)
	}
}

func (s *subscriber) run(ctx context.Context, addr, until string) {
	c, err := dial(ctx, addr, s.id, "subscribe")
	if err != nil {
		return
	}
	defer c.close()
	s.mu.Lock()
	confirmed := s.confirmed
	s.mu.Unlock()
	if !c.present || !confirmed {
		c.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "crash/#", QoS: s.qos}}})
		if c.flush() != nil {
			return
		}
	} else {
		s.markReady()
	}
	want := 0
	if until != "" {
		want = len(strings.Split(until, ","))
	}
	go func() { <-ctx.Done(); c.close() }()
	for {
		pk, err := c.r.ReadPacket()
		if err != nil {
			return
		}
		switch pk := pk.(type) {
		case *packet.Suback:
			s.mu.Lock()
			s.confirmed = true
			s.mu.Unlock()
			s.markReady()
		case *packet.Publish:
			body := string(pk.Payload)
			s.mu.Lock()
			switch pk.QoS {
			case 0, 1:
				s.counts[body]++
				if pk.QoS == 1 {
					c.send(&packet.Ack{Kind: packet.TypePuback, PacketID: pk.PacketID})
				}
			case 2:
				if !s.await[pk.PacketID] {
					s.await[pk.PacketID] = true
					s.counts[body]++
				}
				c.send(&packet.Ack{Kind: packet.TypePubrec, PacketID: pk.PacketID})
			}
			if body == "END" {
				if s.ends == nil {
					s.ends = make(map[string]bool)
				}
				s.ends[strings.TrimPrefix(pk.Topic, "crash/")] = true
			}
			s.mu.Unlock()
		case *packet.Ack:
			if pk.Kind == packet.TypePubrel {
				s.mu.Lock()
				delete(s.await, pk.PacketID)
				s.mu.Unlock()
				c.send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: pk.PacketID})
			}
		}
		if c.flush() != nil {
			return
		}
		if want > 0 && s.ended(want) {
			return
		}
	}
}

// waitSubscribed waits until the subscription is in place in the current
// phase, and reports whether it is (false: ctx ended first).
func (s *subscriber) waitSubscribed(ctx context.Context) bool {
	s.mu.Lock()
	ch := s.ready
	s.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// pause waits a little before a connection is tried again, or until ctx
// ends.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
}

// client is a raw MQTT 3.1.1 connection with a persistent session.
type client struct {
	nc      net.Conn
	r       *packet.Reader
	wmu     sync.Mutex
	w       *bufio.Writer
	present bool
	once    sync.Once
}

func dial(ctx context.Context, addr, id, _ string) (*client, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &client{nc: nc, r: packet.NewReader(nc, 0), w: bufio.NewWriter(nc)}
	c.r.Version = packet.Version311
	c.send(&packet.Connect{ProtocolVersion: packet.Version311, ClientID: id, CleanStart: false, KeepAlive: 60})
	if err := c.flush(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	pk, err := c.r.ReadPacket()
	nc.SetReadDeadline(time.Time{})
	ack, ok := pk.(*packet.Connack)
	if err != nil || !ok || ack.ReasonCode != 0 {
		nc.Close()
		return nil, fmt.Errorf("connect %s: %v %v", id, pk, err)
	}
	c.present = ack.SessionPresent
	return c, nil
}

func (c *client) send(p packet.Packet) {
	b, err := packet.Append(nil, p, packet.Version311)
	if err != nil {
		panic(err)
	}
	c.wmu.Lock()
	c.w.Write(b)
	c.wmu.Unlock()
}

func (c *client) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

func (c *client) close() { c.once.Do(func() { c.nc.Close() }) }

// buildMidge builds the midge binary once per test run, or
// returns MIDGE_BIN if it is set (to see a test fail on another build).
func buildMidge(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("MIDGE_BIN"); bin != "" {
		return bin
	}
	return testutil.MidgeBinary(t)
}

func envInt(t *testing.T, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", name, s)
		}
		return n
	}
	return def
}

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }
