package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// idleConn is one connection of conn mode.
type idleConn interface {
	close(graceful bool)
	alive() bool
}

// alive reports whether the broker still holds the connection open: a
// short read that times out (or returns data, such as a PINGRESP) says
// yes, end of stream or reset says no. Only for connections without a
// reading goroutine.
func (c *wireConn) alive() bool {
	c.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
	defer c.nc.SetReadDeadline(time.Time{})
	var b [64]byte
	_, err := c.nc.Read(b[:])
	var ne net.Error
	return err == nil || errors.As(err, &ne) && ne.Timeout()
}

func (l *clientSubLink) alive() bool { return l.c.Connected() }

// runConnBench is conn mode: open -c connections (each CONNECT, and
// SUBSCRIBE when -t is given), measure the rate and the handshakes, hold
// them for --hold, see how many are still open, close them.
func runConnBench(ctx context.Context, o *options, st base.Streams) (*report, error) {
	rep := newReport(o, 0, 0)
	d := newDialer(o)
	var pg *pinger
	if o.engine == "wire" {
		pg = newPinger()
		defer pg.close()
	}
	n := o.clients
	conns := make([]idleConn, n)
	var opened atomic.Int64
	var cs connStats
	filter := o.topic != ""

	prog := newProgress(o, st)
	progDone := make(chan struct{})
	var progWG sync.WaitGroup
	if prog != nil {
		progWG.Add(1)
		go func() {
			defer progWG.Done()
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-progDone:
					return
				case <-t.C:
					cs.mu.Lock()
					ok, fail := cs.ok, cs.fail
					cs.mu.Unlock()
					prog.line(benchNow(), fmt.Sprintf("connected %s of %s, failed %s", commas(int64(ok)), commas(int64(n)), commas(int64(fail))))
				}
			}
		}()
	}

	p0, tp0 := sampleProc(o.pid), benchNow()
	fds0 := countFDs(o.pid)
	cctx, cancel := context.WithTimeout(ctx, o.duration)
	connectPool(cctx, n, o.concurrency, o.connectTimeout, &cs, func(ctx context.Context, i int) error {
		num := o.start + i
		id := o.idTmpl.expand(tmplVars{num: num, role: "conn"})
		var f string
		if filter {
			f = o.topTmpl.expand(tmplVars{num: num, id: id, role: "conn"})
			if !packet.ValidTopicFilter(f) {
				return fmt.Errorf("%q is not a valid topic filter", f)
			}
		}
		if o.engine == "client" {
			c, _, err := client.Dial(ctx, d.clientOptions(num, id))
			if err != nil {
				return err
			}
			if filter {
				sa, err := c.Subscribe(ctx, client.Subscription{Filter: f, QoS: byte(o.qos)})
				if err == nil {
					err = subackError(sa)
				}
				if err != nil {
					c.Close()
					return err
				}
			}
			conns[i] = &clientSubLink{c: c}
			opened.Add(1)
			return nil
		}
		c, err := dialWire(ctx, d, num, id, 64)
		if err != nil {
			return err
		}
		if filter {
			if err := c.subscribeSync(ctx, f, byte(o.qos)); err != nil {
				c.close(false)
				return err
			}
		}
		c.r.Release() // idle: no read buffer
		pg.add(c)
		conns[i] = c
		opened.Add(1)
		return nil
	})
	cancel()
	p1 := sampleProc(o.pid)
	rep.setConnect(&cs, n)

	// Hold, then look at the broker and at the connections.
	interrupted := false
	if o.hold > 0 {
		t := time.NewTimer(o.hold)
		select {
		case <-t.C:
		case <-ctx.Done():
			interrupted = true
		}
		t.Stop()
	}
	p2, tp2 := sampleProc(o.pid), benchNow()
	fds1 := countFDs(o.pid)
	close(progDone)
	progWG.Wait()
	if prog != nil {
		prog.clear()
	}
	var alive atomic.Int64
	eachConn(conns, o.concurrency, func(c idleConn) {
		if c.alive() {
			alive.Add(1)
		}
	})
	rep.Connect.Alive = int(alive.Load())
	eachConn(conns, o.concurrency, func(c idleConn) { c.close(true) })

	wall := float64(cs.t1-cs.t0) / 1e9
	rep.Seconds = wall
	rep.Interrupted = interrupted || ctx.Err() != nil
	if p0.self >= 0 && p1.self >= 0 && wall > 0 {
		rep.ToolCPU = (p1.self - p0.self) / wall
	}
	if b := brokerOf(o.pid, p0, p2, float64(tp2-tp0)/1e9); b != nil {
		if ok := opened.Load(); ok > 0 {
			b.CPUPerConn = (p1.cpu - p0.cpu) * 1e6 / float64(ok)
			b.BytesPerConn = float64(p2.rss-p0.rss) * 1024 / float64(ok)
		}
		if fds0 >= 0 && fds1 >= 0 {
			b.FDs = fds1 - fds0
		}
		rep.Broker = b
	}
	switch {
	case rep.Interrupted:
		return rep, errors.New("interrupted")
	case cs.fail > 0:
		return rep, fmt.Errorf("%d of %d connections failed", cs.fail, n)
	case cs.ok < n:
		return rep, fmt.Errorf("only %d of %d connections were made within -d %v", cs.ok, n, o.duration)
	}
	return rep, nil
}

// eachConn runs f on every open connection, conc at a time.
func eachConn(conns []idleConn, conc int, f func(idleConn)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, len(conns)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				if c := conns[i]; c != nil {
					f(c)
				}
			}
		}()
	}
	wg.Wait()
}
