package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/connwrite"
	"github.com/midge-mqtt/midge/internal/lazyctx"
	"github.com/midge-mqtt/midge/internal/memreturn"
	"github.com/midge-mqtt/midge/internal/netpoll"
	"github.com/midge-mqtt/midge/internal/proxyproto"
	"github.com/midge-mqtt/midge/internal/pubcodec"
	"github.com/midge-mqtt/midge/packet"
)

// conn is one client network connection. Its reader goroutine (serve) reads
// and handles packets; a writer goroutine, started on demand by wake and gone
// when there is nothing to write, is the only writer of nc.
type conn struct {
	srv *Server
	nc  net.Conn
	ln  *listener
	r   *packet.Reader // reader-owned; nil while parked (park gives it to Server.readers)
	// tlsState is the TLS state of a WebSocket over TLS; a plain TLS
	// connection's is read from nc.
	tlsState *tls.ConnectionState
	// proxied is the client's address from a PROXY header (nil without
	// one), proxyTLS the TLS information of a version 2 header; both set
	// by the reader before CONNECT, read-only afterwards (proxy.go).
	proxied  net.Addr
	proxyTLS *proxyproto.TLS

	// Set while handling CONNECT, read-only afterwards.
	version     byte
	maxQoS      byte   // this connection's Maximum QoS
	aliasMaxIn  uint16 // the Topic Alias Maximum announced to the client
	maxIn       uint32 // the largest packet accepted (packet.Reader.MaxSize)
	sess        *session
	client      *Client       // &ident.client, filled while handling CONNECT
	ident       *identity     // made with the conn, published to the session by attach
	keepAlive   time.Duration // read timeout: 1.5 times the keep alive, 0 for none
	maxOut      int           // the client's Maximum Packet Size, 0 for none
	mount       string        // listener mount point
	connectedAt int64         // Unix nanoseconds by Server.now
	will        *Message      // published when the connection ends abnormally
	willDelay   uint32        // Will Delay Interval, seconds
	receiveMax  uint16        // the client's Receive Maximum
	takenOver   bool          // guarded by sess.mu: another connection took the client identifier
	// bridge is set for an MQTT 3.1/3.1.1 bridge (protocol level with the
	// 0x80 bit, try_private): its subscriptions get No Local and Retain As
	// Published, as Mosquitto gives them, so its messages never loop back.
	bridge bool

	// durablePending counts this client's PUBLISHes waiting for the store.
	durablePending atomic.Int32
	// inQoS1 counts the QoS 1 PUBLISHes received and not yet acknowledged,
	// for the Receive Maximum.
	inQoS1 atomic.Int32
	// repl orders the acknowledgements waiting for Config.Replicate
	// (replicate.go); it has its own lock.
	repl replQueue

	// Reader-owned.
	aliasIn    []string      // inbound topic aliases, index alias-1
	ctx        lazyctx.Ctx   // the connection's: cancelled when it closes (close)
	lastRead   time.Duration // when data last arrived (Server.mono), for keep alive; 0 before CONNECT
	atBoundary bool          // the next read starts a packet: the connection may park
	// reading is the type of the packet being read and handled (0 before
	// its fixed header is read): readFailed sends DISCONNECT only for
	// errors in PUBLISH, SUBSCRIBE and UNSUBSCRIBE, as Mosquitto does.
	reading packet.Type
	explain bool // send DISCONNECT for the error in this packet whatever its type
	// woken says that the next packet arrived while the reader waited
	// for it, or while the connection was parked: a PUBLISH then yields
	// before it is routed (yieldToEarlier). Set by read, and by unpark
	// while no reader runs.
	woken bool

	// Parking (see poller): an idle connection has no reader goroutine.
	fd          int32         // socket descriptor, -1 if the connection cannot park
	parkDelay   time.Duration // idle time before parking; changed only while unparking
	pmu         sync.Mutex    // guards parked and parkedAt
	parkedAt    int64         // when it last parked, Unix nanoseconds
	kaEntry     netpoll.Entry // while parked: its place in Server.deadlines; guarded by the wheel
	parked      bool          // guarded by pmu
	vectored    bool          // writer-owned: large payloads are written without a copy (connwrite.Vectored)
	problemInfo bool          // set while handling CONNECT: the client's Request Problem Information

	ctrl []outItem      // guarded by sess.mu: control packets waiting for the writer
	gate connwrite.Gate // whether a writer goroutine runs

	aliasOut connwrite.Aliases // writer-owned

	closeOnce sync.Once
	// disconnect records how the connection ended, for the will and the log.
	// Written by the reader before close, or under closeOnce.
	graceful    bool                   // DISCONNECT 0x00: the will is discarded [MQTT-3.1.2-10]
	saidBye     bool                   // the client sent DISCONNECT: what it is owed is written first
	closing     bool                   // guarded by sess.mu: a DISCONNECT was queued: write it and close
	hold        bool                   // guarded by sess.mu: nothing may be written yet (the session is being stored)
	closeReason string                 // log text, written by the reader
	kickReason  atomic.Pointer[string] // why another goroutine closed the connection
}

// readBufferSize is a connection's read buffer: CONNECT, SUBSCRIBE and
// typical PUBLISHes fit, larger packets are read separately.
const readBufferSize = packet.DefaultReadBufferSize

// newConn returns a connection whose context derives from ctx; it must be
// served, or closed.
func newConn(ctx context.Context, srv *Server, nc net.Conn, ln *listener) *conn {
	c := &conn{srv: srv, nc: nc, ln: ln, fd: -1, parkDelay: minParkDelay, ident: new(identity)}
	c.ctx.Init(ctx)
	c.client = &c.ident.client
	c.maxIn = uint32(srv.opt().maxPacketSize)
	c.getReader()
	c.mount = ln.cfg.MountPoint
	c.fd = int32(netpoll.SocketFD(nc))
	c.vectored = connwrite.Vectored(nc)
	return c
}

// remoteAddr returns the peer's host:port, as Mosquitto logs it; for a
// Unix socket, whose peers have no address, the socket's path and port 0.
func (c *conn) remoteAddr() string {
	if c.ln.ln == nil {
		return c.ln.name + ":0" // an in-process connection (DialLocal)
	}
	if a, ok := c.remote().(*net.UnixAddr); ok && (a.Name == "" || a.Name == "@") {
		return c.ln.ln.Addr().String() + ":0"
	}
	return c.remote().String()
}

// logUnknown logs the end of a connection that was not accepted before
// anything identified its client, as Mosquitto does.
func (c *conn) logUnknown(err error) {
	if c.srv.opt().QuietConnections {
		return
	}
	if errors.Is(err, io.EOF) {
		c.srv.log.Info("Client <unknown> closed its connection.")
		return
	}
	c.srv.log.Info(fmt.Sprintf("Client <unknown> disconnected: %s.", c.closeReason))
}

// connSource is a conn as the io.Reader its packet.Reader reads.
type connSource conn

func (s *connSource) Read(b []byte) (int, error) { return (*conn)(s).read(b) }

// getReader gives the connection a packet.Reader if it has none, from
// Server.readers if one is there.
func (c *conn) getReader() {
	if c.r != nil {
		return
	}
	c.r, _ = c.srv.readers.Get().(*packet.Reader)
	if c.r == nil {
		c.r = packet.NewReader(nil, readBufferSize)
		c.r.SetBufferPool(c.srv.readBufs)
	}
	c.r.Reset((*connSource)(c))
	c.r.MaxSize, c.r.Version = int(c.maxIn), c.version
	c.r.Eager = c.lastRead != 0 // authenticated (handshake)
}

// A connection parks after sitting idle at a packet boundary for its park
// delay. The delay starts at minParkDelay, so that connections that go
// quiet after connecting, the common case of a device fleet, hold no
// goroutine or buffer for long (and a burst of connects does not leave
// thousands of goroutine stacks behind). A connection woken again within
// chattyWake of parking doubles its delay, up to maxParkDelay, so that a
// client sending every few tens of milliseconds stops parking between its
// packets; one that stays parked longer starts again from minParkDelay.
const (
	minParkDelay = 20 * time.Millisecond
	maxParkDelay = time.Second
	chattyWake   = time.Second
)

// read reads from the network with the keep alive deadline
// [MQTT-3.1.2-22]: one and a half times the keep alive since data last
// arrived. At a packet boundary of a connection that can park, it waits at
// most its park delay and then reports errPark.
func (c *conn) read(b []byte) (int, error) {
	if c.lastRead == 0 {
		// Reading CONNECT: the handshake's deadline applies.
		n, err := c.nc.Read(b)
		c.srv.stats.BytesIn.Add(uint64(n))
		return n, err
	}
	var dl time.Time
	if c.keepAlive > 0 {
		dl = c.srv.monoTime(c.lastRead + c.keepAlive)
	}
	parking := false
	var start time.Duration // when a read at a packet boundary began
	if c.atBoundary {
		start = c.srv.mono()
		if c.fd >= 0 {
			if g := c.srv.monoTime(start + c.parkDelay); dl.IsZero() || g.Before(dl) {
				dl, parking = g, true
			}
		}
	}
	c.nc.SetReadDeadline(dl)
	n, err := c.nc.Read(b)
	if n > 0 {
		c.lastRead = c.srv.mono()
		c.srv.stats.BytesIn.Add(uint64(n))
		if c.atBoundary && c.lastRead-start >= waitedRead {
			c.woken = true
		}
	}
	if parking && n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, errPark
	}
	return n, err
}

// waitedRead is how long a read must take for the reader to count as
// woken by the data (it waited for it) rather than finding it there: a
// read system call that finds data takes a microsecond or two.
const waitedRead = 5 * time.Microsecond

// errClose ends the read loop without a protocol error; errPark ends it
// because the connection is idle and may park.
var (
	errClose = errors.New("close")
	errPark  = errors.New("park")
)

// serve runs the connection: the CONNECT handshake, then run.
func (c *conn) serve() {
	ok := false
	func() {
		defer c.recoverPanic()
		ok = c.handshake(&c.ctx)
	}()
	c.srv.memory.Connected() // a burst's garbage is returned once it settles
	if !ok {
		c.finish()
		return
	}
	c.run()
}

// recoverPanic turns a panic in this connection's code into its close. It
// must be deferred directly: recover works only there.
func (c *conn) recoverPanic() {
	if v := recover(); v != nil {
		c.srv.log.Error("internal error handling client; closing its connection",
			"client_id", c.client.ID, "panic", v, "stack", string(debug.Stack()))
		c.closeReason = "internal error"
	}
}

// handshake reads and answers the CONNECT and reports whether the client was
// accepted.
func (c *conn) handshake(ctx context.Context) bool {
	if v := c.ln.cfg.ProxyProtocol; v != 0 && !c.ln.cfg.WebSocket && !c.readProxyHeader(v) {
		return false
	}
	if !c.srv.opt().QuietConnections {
		c.srv.log.Info(fmt.Sprintf("New connection from %s on port %s.", c.remoteAddr(), c.ln.port))
	}
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opt().connectTimeout))
	h, err := c.r.ReadHeader()
	if err == nil && h.Type != packet.TypeConnect {
		err = fmt.Errorf("first packet is %v, not CONNECT", h.Type) // [MQTT-3.1.0-1]
	}
	if err == nil && h.Remaining > maxConnectSize {
		err = &packet.Error{Code: packet.PacketTooLarge, Reason: fmt.Sprintf("CONNECT of %d bytes", h.Remaining)}
	}
	var body []byte
	if err == nil {
		// The body buffer grows as bytes arrive (the Reader is not Eager
		// yet): a Remaining Length the client does not send costs nothing.
		body, err = c.r.ReadBody(h)
	}
	if err != nil {
		c.closeReason = "no CONNECT: " + err.Error()
		if errors.Is(err, packet.ErrTooLarge) {
			c.closeReason = "CONNECT too large"
		}
		c.logUnknown(err)
		return false
	}
	p, err := packet.Decode(h, body, 0)
	cp, _ := p.(*packet.Connect)
	if !c.handleConnect(ctx, cp, err) {
		return false
	}
	c.lastRead = c.srv.mono()
	// Authenticated: a large packet is now read into one buffer of its
	// size, not grown into it with copies.
	c.r.Eager = true
	return true
}

// maxConnectSize bounds the Remaining Length of a CONNECT, the one packet
// read before the client is authenticated, so that an unknown client cannot
// make the broker read (and hold) more. It is larger than any MQTT 3.1 or
// 3.1.1 CONNECT can be (five strings of at most 65,535 bytes: 327,687 bytes
// with the header) and than an MQTT 5 CONNECT with every field at its
// longest (about 720 KiB), leaving some 300 KiB for User Properties.
const maxConnectSize = 1 << 20

// run reads and handles packets until the connection ends, when it calls
// finish, or parks, when it returns and the poller calls run again later.
func (c *conn) run() {
	parked := false
	defer func() {
		if !parked {
			c.finish()
		}
	}()
	var scratch readScratch // packets decoded in place, one after another
	defer scratch.Flush(&c.srv.stats.In)
	defer c.recoverPanic() // runs first
	c.getReader()          // unparked
	for {
		err := c.readPacket(&c.ctx, &scratch)
		if errors.Is(err, errPark) {
			if parked = c.park(); parked {
				return
			}
			continue
		}
		if err != nil {
			c.readFailed(err)
			return
		}
	}
}

// timedOut ends a parked connection whose keep alive expired.
func (c *conn) timedOut() {
	defer c.finish()
	defer c.recoverPanic()
	c.readFailed(os.ErrDeadlineExceeded)
}

// WheelEntry returns c's place in Server.deadlines (netpoll.Item).
func (c *conn) WheelEntry() *netpoll.Entry { return &c.kaEntry }

// unpark reasons.
const (
	unparkReadable = iota // the socket has data or was closed
	unparkTimeout         // the keep alive expired
	unparkKick            // the server closes the connection
)

// park ends the reader goroutine of an idle connection: its read buffer is
// given back and the poller watches the socket. It reports false if the
// connection cannot park now (data is buffered, no poller).
func (c *conn) park() bool {
	p := c.srv.getPoller()
	if p == nil || !c.r.Release() {
		return false
	}
	c.pmu.Lock()
	defer c.pmu.Unlock()
	idle := c.srv.mono() - c.lastRead
	if c.keepAlive > 0 && idle >= c.keepAlive {
		return false // the read will time out now
	}
	c.parked = true
	c.parkedAt = time.Now().UnixNano()
	if err := p.Add(c.fd, c); err != nil {
		c.parked = false
		c.fd = -1 // do not try again
		return false
	}
	c.srv.readers.Put(c.r) // under pmu: unpark cannot start another reader yet
	c.r = nil
	if c.keepAlive > 0 {
		c.srv.deadlines.Add(c, c.lastRead+c.keepAlive)
	}
	return true
}

// unpark gives a parked connection a reader goroutine again.
func (c *conn) unpark(why int) {
	c.pmu.Lock()
	if !c.parked {
		c.pmu.Unlock()
		return
	}
	if why == unparkTimeout && c.srv.mono()-c.lastRead < c.keepAlive {
		// Woken and parked again since the deadline was taken: keep
		// (or put) the new deadline in the schedule.
		c.srv.deadlines.Add(c, c.lastRead+c.keepAlive)
		c.pmu.Unlock()
		return
	}
	c.parked = false
	c.srv.poller.Remove(c.fd, c)
	c.srv.deadlines.Remove(c)
	if time.Duration(time.Now().UnixNano()-c.parkedAt) < chattyWake {
		c.parkDelay = min(2*c.parkDelay, maxParkDelay)
	} else {
		c.parkDelay = minParkDelay
	}
	c.pmu.Unlock()
	if why == unparkTimeout {
		go c.timedOut()
		return
	}
	c.woken = true // no reader runs: the next one reads it
	go c.run()
}

// readScratch holds the packets a reader decodes most, reused from one
// packet to the next so that reading them allocates nothing, and the
// counters of the packets read, added to the server's in batches.
type readScratch struct {
	pub packet.Publish
	ack packet.Ack
	connwrite.Counters
}

// yieldToEarlier lets the goroutines that are ready to run go first: it
// is called before a PUBLISH that woke its reader is routed. The runtime
// wakes the readers of the sockets one poll found readable in the reverse
// of the kernel's order (the last one runs at once, the others queue), and
// so, without this, a PUBLISH routinely overtook a SUBSCRIBE the kernel
// had delivered first on another connection, whose subscriber then missed
// the message; Mosquitto, one thread taking events in the kernel's order,
// never misses it (issue 14 item 17). Yielding lets that reader run first
// and apply its SUBSCRIBE; a reader that did not wait (a client streaming
// PUBLISHes) does not yield, so that its writers keep running and taking
// the next deliveries (docs/mosquitto-compat.md).
func yieldToEarlier() { runtime.Gosched() }

// readPacket reads and handles one packet, decoding PUBLISH and the
// acknowledgements into rs.
func (c *conn) readPacket(ctx context.Context, rs *readScratch) error {
	c.atBoundary = c.r.Buffered() == 0
	c.reading = 0
	h, err := c.r.ReadHeader()
	c.atBoundary = false
	if err != nil {
		return err
	}
	if c.woken {
		c.woken = false
		if h.Type == packet.TypePublish {
			yieldToEarlier()
		}
	}
	c.reading = h.Type
	body, err := c.r.ReadBody(h)
	if err != nil {
		return err
	}
	if len(body) >= memreturn.Large {
		defer c.srv.memory.Released() // once handled, perhaps unreferenced
	}
	// The counters are added to the server's when the last packet read
	// so far is handled, before it is: what the client sees answered is
	// counted.
	last := c.r.Buffered() == 0
	rs.Packet(h.Type)
	switch h.Type {
	case packet.TypePublish:
		if err := pubcodec.Decode(&rs.pub, h.Flags, body, c.version); err != nil {
			return err
		}
		rs.Payload(len(rs.pub.Payload))
		if last {
			rs.Flush(&c.srv.stats.In)
		}
		err := c.handlePublish(ctx, &rs.pub)
		rs.pub.Payload = nil // the message has it: a large one is not kept alive from here
		return err
	}
	if last {
		rs.Flush(&c.srv.stats.In)
	}
	switch h.Type {
	case packet.TypePuback, packet.TypePubrec, packet.TypePubrel, packet.TypePubcomp:
		if err := rs.ack.Decode(h, body, c.version); err != nil {
			return err
		}
		return c.handleAck(&rs.ack)
	}
	if h.Type == packet.TypeConnect {
		// Whether or not it decodes [MQTT-3.1.0-2].
		return &packet.Error{Code: packet.ProtocolError, Reason: "second CONNECT"}
	}
	p, err := packet.Decode(h, body, c.version)
	if err != nil {
		return err
	}
	return c.handle(ctx, p)
}

// readFailed closes the connection after the read loop failed with err:
// silently for network errors, with DISCONNECT and the reason code for
// protocol errors in MQTT 5 [MQTT-4.13.1-1].
func (c *conn) readFailed(err error) {
	var pe *packet.Error
	switch {
	case errors.Is(err, errClose):
	case errors.As(err, &pe):
		c.closeReason = "protocol error: " + pe.Error()
		switch {
		case c.reading == packet.TypePublish && pe.InProperties:
			c.close() // as Mosquitto, which reads them before the rest
		case c.explain || c.reading == 0 || c.reading == packet.TypePublish ||
			c.reading == packet.TypeSubscribe || c.reading == packet.TypeUnsubscribe:
			c.disconnect(pe.Code) // [MQTT-4.13.1-1]
		default:
			// The spec lets the server close without DISCONNECT; Mosquitto
			// does so for errors in every other packet.
			c.close()
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.closeReason = "keep alive timeout"
		if !c.srv.opt().QuietConnections {
			c.srv.log.Info(fmt.Sprintf("Client %s has exceeded timeout, disconnecting.", c.client.ID))
		}
		c.disconnect(packet.KeepAliveTimeout)
	case errors.Is(err, io.EOF):
		if c.closeReason == "" {
			c.closeReason = "closed its connection"
		}
	default:
		if c.closeReason == "" {
			c.closeReason = "socket error: " + err.Error()
		}
	}
}

// disconnect queues a DISCONNECT with code for an MQTT 5 client and closes
// the connection once it is written; for earlier versions it closes at once.
func (c *conn) disconnect(code packet.ReasonCode) {
	s := c.sess
	if s == nil || c.version != packet.Version5 {
		c.close()
		return
	}
	s.mu.Lock()
	if !c.closing {
		c.closing = true
		c.ctrl = append(c.ctrl, outItem{kind: outPacket, pkt: &packet.Disconnect{ReasonCode: code}})
	}
	s.mu.Unlock()
	c.wake()
	// The writer closes nc after writing; bound the wait for a peer that
	// does not read.
	time.AfterFunc(c.srv.opt().writeTimeout, c.close)
}

// kick closes the connection from outside its reader (shutdown, takeover,
// administrative action), telling an MQTT 5 client why.
func (c *conn) kick(why string, code packet.ReasonCode) {
	c.kickReason.CompareAndSwap(nil, &why)
	c.disconnect(code)
	c.unpark(unparkKick)
}

// reason returns why the connection ended, for the log.
func (c *conn) reason() string {
	if r := c.kickReason.Load(); r != nil {
		return *r
	}
	return c.closeReason
}

// close closes the network connection; the reader and writer then end. A
// parked connection is unparked first, while its descriptor is still its
// own: closing would drop it from the poller's epoll set without an event
// (leaving nobody to finish the connection), and the number could be reused
// by a new connection before the poller forgets it.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.unpark(unparkKick)
		c.nc.Close()
		c.ctx.Cancel() // what runs on the connection's behalf stops
	})
}

// awaitCommits waits until the completions of the commits queued so far
// have run, so that the acknowledgements they queue are queued, or for at
// most the write timeout.
func (c *conn) awaitCommits() {
	if c.srv.commit == nil {
		return
	}
	done := make(chan struct{})
	c.srv.commit.add(nil, func(error) { close(done) })
	t := time.NewTimer(c.srv.opt().writeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// finish runs when the reader ends: it closes the connection, waits for the
// writer, detaches the session and publishes or schedules the will.
func (c *conn) finish() {
	if c.saidBye && c.sess != nil {
		// Acknowledgements that wait for the store are owed too.
		c.awaitCommits()
	}
	detached := false
	if c.graceful && c.sess != nil {
		// The client said DISCONNECT: settle its session before it sees
		// the connection close, so that a reconnect right after finds the
		// session as the DISCONNECT left it.
		c.srv.detach(c)
		detached = true
	}
	closing := false
	if s := c.sess; s != nil {
		s.mu.Lock()
		if c.saidBye && !c.closing {
			// Write what is owed (CONNACK, acknowledgements) before
			// closing, as Mosquitto does: the writer closes after it.
			c.closing = true
		}
		closing = c.closing
		s.mu.Unlock()
	}
	if !closing {
		// Nothing left to say: unblock a writer stuck on a peer that does
		// not read. With a DISCONNECT queued, the writer closes after it.
		c.close()
	}
	if closing {
		c.wake()
	}
	c.gate.Stop()
	c.close()
	if c.r != nil && c.r.Release() {
		c.srv.readers.Put(c.r)
	}
	if c.sess != nil && !detached {
		c.srv.detach(c)
	}
	c.srv.dropConn(c)
}

// certIdentity returns the Common Name, or with subject the whole subject
// in RFC 2253 form, of c's verified TLS client certificate; "" if none.
func (c *conn) certIdentity(subject bool) string {
	if c.proxyTLS != nil {
		return c.proxyIdentity(subject)
	}
	st := c.tlsConnectionState()
	if st == nil || len(st.PeerCertificates) == 0 {
		return ""
	}
	if subject {
		return st.PeerCertificates[0].Subject.String()
	}
	return st.PeerCertificates[0].Subject.CommonName
}

// shutdown disconnects c because the server stops.
func (c *conn) shutdown() {
	if c.sess == nil {
		c.close()
		return
	}
	c.kick("server shutting down", packet.ServerShuttingDown)
}

// tlsConnectionState returns the TLS state of c's connection, if it has one.
func (c *conn) tlsConnectionState() *tls.ConnectionState {
	if c.tlsState != nil {
		return c.tlsState
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}
