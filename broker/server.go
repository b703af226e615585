package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/internal/bufpool"
	"github.com/midge-mqtt/midge/internal/cowmap"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/memreturn"
	"github.com/midge-mqtt/midge/internal/netpoll"
	"github.com/midge-mqtt/midge/internal/observers"
	"github.com/midge-mqtt/midge/internal/proxyproto"
	"github.com/midge-mqtt/midge/internal/systree"
	"github.com/midge-mqtt/midge/internal/topic"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("broker: server closed")

// Server is an MQTT broker. Create it with New, start it with Serve or
// ListenAndServe and stop it with Shutdown. Its methods are safe for
// concurrent use.
type Server struct {
	cfg      Config // as New was given; Reload changes opts only
	opts     atomic.Pointer[options]
	security Security // Config's, for listeners without their own
	log      *slog.Logger
	now      func() time.Time

	index    *topic.Index[*session]
	retained *topic.Retained[*Message]
	stats    systree.Counters
	started  time.Time
	epoch    time.Time // monotonic reference for mono
	routes   sync.Pool // *routeScratch
	// qos0Sessions are the client ids whose offline sessions keep QoS 0
	// messages (QueueQoS0); a sync.Map, so no mutex.
	qos0Sessions sync.Map
	readBufs     *bufpool.Pool
	readers      sync.Pool          // *packet.Reader of no connection (parked ones give theirs back)
	memory       memreturn.Returner // gives large packets' memory back to the system
	commit       *committer         // nil without a Store
	pollOnce     sync.Once
	poller       *netpoll.Poller[*conn] // watches parked connections; nil until needed or where unsupported
	deadlines    *netpoll.Wheel[*conn]  // keep alive deadlines of parked connections; set with poller

	startOnce sync.Once
	startErr  error

	// ctx is the server's lifetime: Store calls, authorizations made on
	// no connection's behalf (deliveries, wills) and restores run in it.
	// cancel ends it when Shutdown returns, when its deadline passes, or
	// at Close.
	ctx    context.Context
	cancel context.CancelFunc

	observers observers.List[*Message] // see Observe

	// routeMu serializes the calls of Config.OnRoute (see flushRoutes);
	// taken with no other lock held, Index.mu inside it.
	routeMu  sync.Mutex
	routeBuf []topic.FilterChange // guarded by routeMu

	control cowmap.Map[ControlHandler] // $CONTROL endpoints; see HandleControl

	mu        sync.Mutex // guards the fields below
	sessions  map[string]*session
	conns     map[*conn]struct{}
	listeners map[*listener]struct{}
	closed    bool
	sysStop   chan struct{}
	expStop   chan struct{} // stops expireLoop (retain_expiry_interval)

	wg sync.WaitGroup // accept loops, connections and the $SYS publisher
}

// New returns a Server for cfg. It does not start listening.
func New(cfg Config) *Server {
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		index:     topic.NewIndex[*session](),
		retained:  &topic.Retained[*Message]{},
		sessions:  make(map[string]*session),
		conns:     make(map[*conn]struct{}),
		listeners: make(map[*listener]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.opts.Store(&options{Config: cfg, limits: cfg.limits()})
	s.started = s.now()
	s.epoch = time.Now()
	s.security = Security{AllowAnonymous: cfg.AllowAnonymous, Authenticators: cfg.Authenticators, Authorizers: cfg.Authorizers}
	if cfg.Store != nil {
		s.commit = newCommitter(s, cfg.Store, cfg.PersistenceInterval)
	}

	if cfg.OnRoute != nil {
		s.index.TrackFilters()
	}
	s.routes.New = func() any { return &routeScratch{} }
	s.readBufs = bufpool.New(512, readBufferSize)
	return s
}

// startSysLocked starts or stops the $SYS publisher as sys_interval says,
// once the server serves. srv.mu must be held.
func (srv *Server) startSysLocked() {
	srv.switchLoopLocked(srv.opt().sysInterval > 0, &srv.sysStop, srv.sysLoop)
}

// switchLoopLocked starts loop (counted in srv.wg) with a new stop channel
// kept in *stop if on and it is not running, or closes *stop if off and
// it is running, once the server serves. srv.mu must be held.
func (srv *Server) switchLoopLocked(on bool, stop *chan struct{}, loop func(stop chan struct{})) {
	switch {
	case srv.closed || len(srv.listeners) == 0:
	case on && *stop == nil:
		*stop = make(chan struct{})
		srv.wg.Add(1)
		go loop(*stop)
	case !on && *stop != nil:
		close(*stop)
		*stop = nil
	}
}

// reloaded applies what Reload changed that the server does not read
// afresh each time.
func (srv *Server) reloaded() {
	srv.mu.Lock()
	srv.startSysLocked()
	srv.startExpiryLocked()
	srv.mu.Unlock()
}

// mono returns the time on the monotonic clock, as a duration since the
// server was created: 8 bytes where a connection stores it.
func (srv *Server) mono() time.Duration { return max(time.Since(srv.epoch), 1) }

// monoTime converts a mono reading back into a time, for deadlines.
func (srv *Server) monoTime(d time.Duration) time.Time { return srv.epoch.Add(d) }

// Addrs returns the addresses the server listens on.
func (srv *Server) Addrs() []net.Addr {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var out []net.Addr
	for l := range srv.listeners {
		out = append(out, l.ln.Addr())
	}
	return out
}

// ListenAndServe opens the configured listeners (or the default local-only
// ones) and serves them until Shutdown, when it returns ErrServerClosed. It
// returns an error at once if a listener cannot be opened. ctx is the parent
// of every connection's context.
func (srv *Server) ListenAndServe(ctx context.Context) error {
	cfgs := srv.cfg.Listeners
	local := len(cfgs) == 0
	if local {
		cfgs = []Listener{{Network: "tcp4", Address: "127.0.0.1:1883"}, {Network: "tcp6", Address: "[::1]:1883"}}
	}
	var lns []*listener
	for i, lc := range cfgs {
		ln, err := Listen(ctx, lc)
		if err != nil {
			if local && i == 1 {
				srv.log.Warn("IPv6 loopback unavailable; listening on 127.0.0.1 only", "err", err)
				continue
			}
			for _, l := range lns {
				l.ln.Close()
			}
			return fmt.Errorf("broker: listen on %s: %w", lc.Address, err)
		}
		lns = append(lns, srv.newListener(lc, ln, local))
	}
	if local {
		srv.log.Info("Starting in local only mode. Connections will only be possible from clients running on this machine.")
	}
	errc := make(chan error, len(lns))
	for _, l := range lns {
		if a := l.ln.Addr(); a.Network() == "unix" {
			srv.log.Info(fmt.Sprintf("Opening unix listen socket on path %s.", a))
		} else {
			srv.log.Info(fmt.Sprintf("Opening ipv%s listen socket on port %s.", ipVersion(a), l.port))
		}
		go func() { errc <- srv.serve(ctx, l) }()
	}
	var first error
	for range lns {
		if err := <-errc; first == nil || errors.Is(first, ErrServerClosed) {
			first = err
		}
	}
	return first
}

func ipVersion(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.To4() == nil {
		return "6"
	}
	return "4"
}

// Serve accepts connections on ln and serves them until Shutdown, when it
// returns ErrServerClosed; otherwise it returns the error that stopped
// accepting. The connections are served with cfg's settings: TLS if
// cfg.TLS is set, WebSockets if cfg.WebSocket. ctx is the parent of every
// connection's context.
func (srv *Server) Serve(ctx context.Context, ln net.Listener, cfg Listener) error {
	return srv.serve(ctx, srv.newListener(cfg, ln, false))
}

// Flush commits every change waiting for the Store and asks the Store to
// make everything durable (SIGUSR1). With PersistenceInterval zero,
// everything acknowledged is durable already. Without a Store it does
// nothing.
func (srv *Server) Flush(ctx context.Context) error {
	if srv.commit == nil {
		return nil
	}
	if err := srv.commit.flush(); err != nil {
		return err
	}
	return srv.cfg.Store.Sync(ctx)
}

// Start restores the state kept in Config.Store, once; Serve and
// ListenAndServe call it before accepting anything. Calling it first lets a
// program tell a damaged store from a network failure. It returns the same
// error every time.
func (srv *Server) Start(ctx context.Context) error { return srv.start(ctx) }

// start restores the persisted state once, before the first connection.
func (srv *Server) start(ctx context.Context) error {
	srv.startOnce.Do(func() { srv.startErr = srv.restore(ctx) })
	return srv.startErr
}

func (srv *Server) serve(ctx context.Context, l *listener) error {
	if err := srv.start(ctx); err != nil {
		l.ln.Close()
		return err
	}
	if l.cfg.WebSocket && l.cfg.ProxyProtocol != 0 {
		l.ln = proxyproto.Listener(l.ln, func() *proxyproto.Policy { // before TLS, before anyone else sees l
			return srv.proxyPolicy(l, l.cfg.ProxyProtocol)
		})
	}
	if l.cfg.TLS != nil {
		l.ln = tls.NewListener(l.ln, l.cfg.TLS) // before anyone else sees l
	}
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		l.ln.Close()
		return ErrServerClosed
	}
	srv.listeners[l] = struct{}{}
	srv.startSysLocked()
	srv.startExpiryLocked()
	srv.wg.Add(1)
	srv.mu.Unlock()
	defer srv.wg.Done()

	if l.cfg.WebSocket {
		return srv.serveWebSocket(ctx, l)
	}
	var delay time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			srv.mu.Lock()
			closed := srv.closed
			srv.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Back off on temporary errors such as EMFILE, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				srv.log.Error("accept failed; retrying", "listener", l.name, "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("broker: accept on %s: %w", l.name, err)
		}
		delay = 0
		srv.stats.SocketsAccepted.Add(1)
		if !srv.admit(l) {
			nc.Close()
			continue
		}
		c := newConn(ctx, srv, nc, l)
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			srv.release(l)
			c.close()
			return ErrServerClosed
		}
		srv.conns[c] = struct{}{}
		srv.wg.Add(1)
		srv.mu.Unlock()
		go c.serve()
	}
}

// admit counts a new connection on l against the limits.
func (srv *Server) admit(l *listener) bool {
	n := srv.stats.Connections.Add(1)
	ln := l.conns.Add(1)
	if srv.opt().MaxConnections > 0 && n > int64(srv.opt().MaxConnections) ||
		l.cfg.MaxConnections > 0 && ln > int64(l.cfg.MaxConnections) {
		srv.release(l)
		srv.log.Warn("connection refused: max_connections reached", "listener", l.name)
		return false
	}
	return true
}

func (srv *Server) release(l *listener) {
	srv.stats.Connections.Add(-1)
	l.conns.Add(-1)
}

// dropConn forgets a finished connection.
func (srv *Server) dropConn(c *conn) {
	srv.mu.Lock()
	delete(srv.conns, c)
	srv.mu.Unlock()
	srv.release(c.ln)
	srv.wg.Done()
}

// Shutdown stops the server gracefully: it closes the listeners, disconnects
// every client (MQTT 5 clients with reason code 0x8B, Server shutting down),
// publishes the wills that are due, commits what waits for the Store, and
// waits for every goroutine to end. If ctx is done first, every step stops
// waiting: Store calls and authorizations in progress get a cancelled
// context, pending wills are not published, and Shutdown returns ctx's
// error without waiting for the committer (the Store may still be in use
// for a moment).
func (srv *Server) Shutdown(ctx context.Context) error { return srv.shutdown(ctx, false) }

// Close stops the server at once: it closes the listeners and every
// connection without a DISCONNECT, publishes no pending will, cancels what
// runs on the server's behalf and returns without waiting for the
// connections' goroutines to end. Use Shutdown to stop gracefully.
func (srv *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.shutdown(ctx, true); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// shutdown is Shutdown, or Close if now is set.
func (srv *Server) shutdown(ctx context.Context, now bool) error {
	// Past the deadline, what runs in the server's context gives up.
	defer context.AfterFunc(ctx, srv.cancel)()
	srv.mu.Lock()
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	if srv.closed {
		srv.mu.Unlock()
		if now {
			for _, c := range conns {
				c.close()
			}
		}
		return srv.wait(ctx)
	}
	srv.closed = true
	for l := range srv.listeners {
		l.ln.Close()
		if l.http != nil {
			l.http.Close() // requests for files; upgraded connections are ours
		}
	}
	if srv.sysStop != nil {
		close(srv.sysStop)
	}
	if srv.expStop != nil {
		close(srv.expStop)
	}
	srv.mu.Unlock()
	for _, c := range conns {
		if now {
			c.close()
		} else {
			c.shutdown()
		}
	}
	err := srv.wait(ctx)
	// Sessions do not outlive the process: their pending wills are due now,
	// unless the deadline has passed.
	srv.mu.Lock()
	var wills []*Message
	for _, s := range srv.sessions {
		s.mu.Lock()
		if s.will != nil {
			wills = append(wills, s.will)
			s.will = nil
		}
		s.stopTimersLocked()
		s.mu.Unlock()
	}
	srv.mu.Unlock()
	if err == nil {
		for _, w := range wills {
			srv.publishWill(w)
		}
	} else if len(wills) > 0 && !now {
		srv.log.Warn(fmt.Sprintf("shutdown deadline passed: %d pending wills not published", len(wills)))
	}
	if srv.commit != nil {
		// Once it returns nil, the caller may close the Store.
		if cerr := srv.commit.close(ctx); err == nil {
			err = cerr
		}
	}
	srv.pollOnce.Do(func() {}) // no poller after this
	if srv.poller != nil {
		srv.poller.Close()
		srv.deadlines.Stop()
	}
	srv.cancel()
	return err
}

// getPoller returns the poller, starting it on first use; nil if parking is
// not possible (unsupported system, or the server is shutting down).
func (srv *Server) getPoller() *netpoll.Poller[*conn] {
	srv.pollOnce.Do(func() {
		p, err := netpoll.New(func(c *conn) { c.unpark(unparkReadable) }, srv.log)
		if err != nil {
			srv.log.Debug("idle connections keep their goroutine: no poller", "err", err)
			return
		}
		srv.deadlines = netpoll.NewWheel(srv.mono, func(c *conn) { c.unpark(unparkTimeout) })
		srv.poller = p
	})
	return srv.poller
}

func (srv *Server) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// securityOf returns the rules of the listener named name, as a session
// restored from the store last used it; Config's if there is no such
// listener (it may have been removed from the configuration).
func (srv *Server) securityOf(name string) *Security {
	for i := range srv.cfg.Listeners {
		l := &srv.cfg.Listeners[i]
		if (l.Name == name || l.Address == name) && l.Security != nil {
			return l.Security
		}
	}
	return &srv.security
}

// authorize asks the Authorizers of c's listener.
func (c *conn) authorize(ctx context.Context, topicName string, a Access) bool {
	return c.ln.security(c.srv).Authorize(ctx, c.client, topicName, a)
}

// logDrop logs that messages are being dropped for a client, as Mosquitto
// does, the first time and then every 10,000th time.
func (srv *Server) logDrop(id string, n uint64) {
	if n == 1 || n%10000 == 0 {
		srv.log.Warn(fmt.Sprintf("Outgoing messages are being dropped for client %s.", id), "dropped", n)
	}
}

// logTyped logs a record of a Mosquitto log type that is off by default
// ("subscribe", "unsubscribe", which log_type selects) at debug level, with
// the type in the logging.TypeKey attribute, formatting it only if the
// handler may want it: a handler that selects none of those types says so
// in Enabled, which costs a subscription nothing.
func (srv *Server) logTyped(typ, format string, args ...any) {
	if srv.log.Enabled(context.Background(), slog.LevelDebug) {
		srv.log.Debug(fmt.Sprintf(format, args...), logging.TypeKey, typ)
	}
}
