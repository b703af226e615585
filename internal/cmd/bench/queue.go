package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// runQueueBench is queue mode: memory per queued message. It creates -c
// persistent sessions subscribed to -t (one topic, so one publish is queued
// for every session), publishes --count messages to it while they are
// offline, and reads the broker's resident memory before and after; then
// every session comes back and must receive all of them.
func runQueueBench(ctx context.Context, o *options, _ base.Streams) (*report, error) {
	rep, d, topic := queueSetup(o)
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	n, k := o.clients, o.count

	p0 := sampleProc(o.pid)
	if err := queueSessions(ctx, o, d, rep, topic); err != nil {
		return rep, err
	}
	settle(ctx, o.hold)
	p1 := sampleProc(o.pid)

	acked, t0, pubSecs, err := publishQueued(ctx, o, d, topic, k)
	if err != nil {
		return rep, err
	}
	rep.Publish = &publishReport{Sent: k, Acked: acked, Seconds: pubSecs, Rate: float64(k) / pubSecs}
	settle(ctx, o.hold)
	p2 := sampleProc(o.pid)

	queued := float64(n) * float64(k)
	rep.figure("sessions", float64(n))
	rep.figure("messages_per_session", float64(k))
	if p0.rss >= 0 && p2.rss >= 0 {
		rep.figure("bytes_per_session", float64(p1.rss-p0.rss)*1024/float64(n))
		rep.figure("bytes_per_queued_msg", float64(p2.rss-p1.rss)*1024/queued)
		rep.figure("rss_sessions_mb", kbToMB(p1.rss))
		rep.figure("rss_queued_mb", kbToMB(p2.rss))
	}
	if p1.cpu >= 0 && p2.cpu >= 0 {
		rep.figure("broker_us_per_queued_msg", (p2.cpu-p1.cpu)*1e6/queued)
	}

	// Every session comes back and takes its messages.
	got := newCounter(int64(queued))
	var short atomic.Int64
	var dcs connStats
	t1 := benchNow()
	connectPool(ctx, n, o.concurrency, o.connectTimeout, &dcs, func(cctx context.Context, i int) error {
		num := o.start + i
		c, err := dialWire(cctx, d, num, o.idTmpl.expand(tmplVars{num: num, role: "s"}), wireBufSize)
		if err != nil {
			return err
		}
		defer c.close(true)
		if !c.ack.SessionPresent {
			short.Add(int64(k))
			return errors.New("the broker kept no session")
		}
		return receiveN(ctx, c, k, got)
	})
	drainSecs := float64(benchNow()-t1) / 1e9
	p3 := sampleProc(o.pid)
	rep.Receive = &receiveReport{Expected: int64(queued), Received: got.n.Load(), Seconds: drainSecs}
	rep.Receive.Lost = max(0, rep.Receive.Expected-rep.Receive.Received)
	if drainSecs > 0 {
		rep.Receive.Rate = float64(got.n.Load()) / drainSecs
	}
	if b := brokerOf(o.pid, p0, p3, float64(benchNow()-t0)/1e9); b != nil {
		rep.Broker = b
	}
	rep.Seconds = float64(benchNow()-t0) / 1e9
	rep.TimedOut = ctx.Err() != nil // -d ran out: what was not received is not lost
	if errs := dcs.errs.list(); len(errs) > 0 {
		return rep, fmt.Errorf("%d sessions failed to take their messages; first: %s", dcs.fail, errs[0])
	}
	if got.n.Load() != int64(queued) {
		return rep, fmt.Errorf("received %d of %d queued messages", got.n.Load(), int64(queued))
	}
	return rep, nil
}

// queueSetup is the start queue and storm mode share: the report, the
// dialer, and the one topic every session subscribes to.
func queueSetup(o *options) (*report, *dialer, string) {
	return newReport(o, 1, o.clients), newDialer(o), o.topTmpl.expand(tmplVars{role: "q"})
}

// receiveN reads c until it has received k PUBLISH packets (bounded by
// ctx), counting them in got.
func receiveN(ctx context.Context, c *wireConn, k int64, got *counter) error {
	if k <= 0 {
		return nil
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var n int64
	err := serveWire(c, func(h packet.FixedHeader, _ []byte) error {
		if h.Type == packet.TypePublish {
			n++
			got.add(1)
			if n >= k {
				return errDone
			}
		}
		return nil
	})
	if errors.Is(err, errDone) {
		return nil
	}
	return fmt.Errorf("after %d of %d messages: %w", n, k, err)
}

// settle waits d (the --hold option), or until ctx ends.
func settle(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// runStormBench is storm mode: -c persistent sessions, each with --count
// messages queued while it was offline, come back all at once (up to
// --concurrency connecting together), after the broker was restarted
// (--restart) or without a restart (a network outage). It measures the
// time until every client is connected and until every queued message is
// delivered. A client whose connection fails tries again until -d.
func runStormBench(ctx context.Context, o *options, _ base.Streams) (*report, error) {
	rep, d, topic := queueSetup(o)
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	n, k := o.clients, o.count

	// Set up at a moderate pace: the storm is what is measured.
	setup := *o
	setup.concurrency = min(o.concurrency, 64)
	if err := queueSessions(ctx, &setup, d, rep, topic); err != nil {
		return rep, err
	}
	if k > 0 {
		if _, _, _, err := publishQueued(ctx, o, d, topic, k); err != nil {
			return rep, err
		}
	}
	if o.restart != "" {
		pid, err := runRestart(ctx, o.restart)
		if err != nil {
			return rep, err
		}
		if err := waitAccepting(ctx, o.target.addr); err != nil {
			return rep, err
		}
		switch {
		case pid > 0:
			o.pid = pid
		case o.pidArg == "auto":
			o.pid = findListener(o.target.addr)
		}
	}

	// The storm.
	p0, t0 := sampleProc(o.pid), benchNow()
	got := newCounter(int64(n) * k)
	var connected, present, retries atomic.Int64
	var lastConn atomic.Int64
	var errs benchErrors
	conns := make([]*wireConn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.concurrency)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			num := o.start + i
			id := o.idTmpl.expand(tmplVars{num: num, role: "s"})
			var c *wireConn
			for {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					errs.add(fmt.Errorf("%s: %w", id, context.Cause(ctx)))
					return
				}
				cctx, ccancel := context.WithTimeout(ctx, o.connectTimeout)
				var err error
				c, err = dialWire(cctx, d, num, id, 4096)
				ccancel()
				<-sem
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					errs.add(fmt.Errorf("%s: %w", id, err))
					return
				}
				retries.Add(1)
				time.Sleep(10 * time.Millisecond) // a client's back-off
			}
			conns[i] = c
			connected.Add(1)
			now := benchNow()
			for {
				last := lastConn.Load()
				if now <= last || lastConn.CompareAndSwap(last, now) {
					break
				}
			}
			if !c.ack.SessionPresent {
				errs.add(fmt.Errorf("%s: the broker kept no session", id))
				return
			}
			present.Add(1)
			if err := receiveN(ctx, c, k, got); err != nil {
				errs.add(fmt.Errorf("%s: %w", id, err))
			}
		}()
	}
	wg.Wait()
	tEnd := benchNow()
	p1 := sampleProc(o.pid)
	for _, c := range conns {
		if c != nil {
			c.close(true)
		}
	}
	wall := float64(tEnd-t0) / 1e9
	rep.Seconds = wall
	rep.TimedOut = ctx.Err() != nil
	rep.figure("clients", float64(n))
	rep.figure("connected", float64(connected.Load()))
	rep.figure("session_present", float64(present.Load()))
	rep.figure("connect_retries", float64(retries.Load()))
	if lc := lastConn.Load(); lc > 0 {
		rep.figure("seconds_all_connected", float64(lc-t0)/1e9)
	}
	rep.figure("seconds_all_delivered", wall)
	rep.Receive = &receiveReport{Expected: int64(n) * k, Received: got.n.Load(), Seconds: wall}
	rep.Receive.Lost = max(0, rep.Receive.Expected-rep.Receive.Received)
	if wall > 0 {
		rep.Receive.Rate = float64(got.n.Load()) / wall
	}
	if p0.self >= 0 && p1.self >= 0 && wall > 0 {
		rep.ToolCPU = (p1.self - p0.self) / wall
	}
	if b := brokerOf(o.pid, p0, p1, wall); b != nil {
		if c := connected.Load(); c > 0 {
			b.CPUPerConn = (p1.cpu - p0.cpu) * 1e6 / float64(c)
		}
		rep.Broker = b
	}
	if e := errs.list(); len(e) > 0 {
		rep.Errors, rep.FirstErrors = errs.count(), e
		return rep, fmt.Errorf("%d clients failed; first: %s", errs.count(), e[0])
	}
	return rep, nil
}

// queueSessions makes queue and storm mode's -c persistent sessions,
// subscribed to topic, at o's pace, and records the connections in rep.
func queueSessions(ctx context.Context, o *options, d *dialer, rep *report, topic string) error {
	n := o.clients
	var cs connStats
	makeSessions(ctx, o, d, n, &cs, func(int) string { return topic })
	rep.setConnect(&cs, n)
	if cs.ok < n {
		return fmt.Errorf("%d of %d sessions could not be created: %v", n-cs.ok, n, cs.errs.list())
	}
	return nil
}

// publishQueued publishes k messages to topic from one publisher, which
// comes after the sessions, and waits until they are acknowledged. It
// returns how many were, when (benchNow) the first publish began, and how
// many seconds from then that took.
func publishQueued(ctx context.Context, o *options, d *dialer, topic string, k int64) (acked, t0 int64, secs float64, err error) {
	n := o.clients
	pub, err := newPubStream(ctx, d, o.start+n, o.idTmpl.expand(tmplVars{num: o.start + n, role: "p"}), byte(o.qos), o.inflight)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("publisher: %w", err)
	}
	payload := payloadOf(o)
	t0 = benchNow()
	for range k {
		if err = pub.publish(ctx, topic, payload); err != nil {
			break
		}
	}
	if err == nil {
		err = pub.wait(ctx)
	}
	secs = float64(benchNow()-t0) / 1e9
	pub.c.close(true)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("publishing: %w", err)
	}
	return pub.acked.Load(), t0, secs, nil
}
