package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// Local is what a bridge needs of the local broker; *broker.Server
// implements it.
type Local interface {
	// DialLocal connects the bridge's local side (see broker.Server.DialLocal).
	DialLocal(ctx context.Context, name string) (net.Conn, error)
	// PublishSystem publishes a notification, $SYS topics included.
	PublishSystem(ctx context.Context, m *broker.Message) error
	// Session describes the local session, for lazy start and visibility.
	Session(clientID string) (broker.SessionInfo, bool)
}

var _ Local = (*broker.Server)(nil)

// State is where a bridge stands.
type State uint8

// States of a bridge.
const (
	Stopped    State = iota // not running, or start_type once and ended
	Connecting              // dialling or in the CONNECT exchange
	Connected               // relaying
	Waiting                 // waiting to reconnect (restart_timeout, or a lazy bridge's threshold)
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Waiting:
		return "waiting"
	}
	return "stopped"
}

// Status is a bridge's state and counters at one moment.
type Status struct {
	Name      string
	State     State
	Address   string    // the remote address in use or last tried
	Since     time.Time // when State last changed
	Queued    int       // messages waiting in the local session (queue and in flight)
	Sent      uint64    // messages sent to the remote
	Received  uint64    // messages received from the remote
	Dropped   uint64    // messages dropped: the local session's queue full, or too large for the remote
	LastError string    // why the last connection failed or ended
}

// Bridge is one running bridge. Its methods are safe for concurrent use.
type Bridge struct {
	// cfg is written by Run's goroutine between connections, under mu;
	// Run's goroutines read it without mu, Status with it.
	cfg   Config
	local Local
	log   *slog.Logger
	rnd   *rand.Rand // used by Run's goroutine only

	sent, received, dropped atomic.Uint64

	mu        sync.Mutex // guards the fields below
	state     State
	since     time.Time
	addr      string
	lastErr   string
	version   byte // the protocol version to try next (5 falls back to 4)
	privateOK bool // try_private not refused by the remote
	retainOK  bool // the remote did not refuse retained messages (0x9A)
	cur       int  // index of the address to try next
	link      *link
	stopLink  chan struct{} // closed to end the current connection early (reload, primary probe)
	pending   *Config       // a configuration to apply at the next connection (Update)
	primed    bool          // the local session has its subscriptions (Prime)
}

// Prime subscribes the bridge's local session, so that what is published
// from now on is queued for the bridge even while the remote has never
// been reached. Run primes a bridge that was not; a broker primes its
// bridges before it accepts clients, as Mosquitto sets up its bridges'
// subscriptions at start-up.
func (b *Bridge) Prime(ctx context.Context) error {
	b.queueQoS0()
	if err := b.prime(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	b.primed = true
	b.mu.Unlock()
	return nil
}

// New returns a bridge for cfg, which must be valid (Config.Validate) and
// have its client identifiers resolved. log may be nil.
func New(cfg Config, local Local, log *slog.Logger) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", cfg.Name, err)
	}
	if cfg.RemoteClientID == "" || cfg.LocalClientID == "" {
		return nil, fmt.Errorf("bridge %s: client identifiers not resolved", cfg.Name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bridge{
		cfg: cfg, local: local, log: log.With("bridge", cfg.Name),
		rnd:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6d696467)),
		version: cfg.ProtocolVersion, privateOK: true, retainOK: true, since: time.Now(),
	}, nil
}

// Config returns the bridge's configuration.
func (b *Bridge) Config() Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending != nil {
		return *b.pending
	}
	return b.cfg
}

// Update replaces the configuration from the next connection on
// (bridge_reload_type lazy): the current connection, if any, goes on with
// the old one. cfg must be valid, with its client identifiers resolved.
func (b *Bridge) Update(cfg Config) {
	b.mu.Lock()
	b.pending = &cfg
	b.mu.Unlock()
}

// applyPending switches to the configuration Update gave, if any. Called
// by Run between connections.
func (b *Bridge) applyPending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		return false
	}
	old := b.cfg
	b.cfg, b.pending = *b.pending, nil
	if b.cfg.ProtocolVersion != old.ProtocolVersion {
		b.version = b.cfg.ProtocolVersion
	}
	b.privateOK, b.retainOK, b.cur = true, true, 0
	b.log.Info("bridge configuration updated")
	return true
}

// Status returns the bridge's state and counters.
func (b *Bridge) Status() Status {
	b.mu.Lock()
	st := Status{Name: b.cfg.Name, State: b.state, Address: b.addr, Since: b.since, LastError: b.lastErr}
	localID := b.cfg.LocalClientID
	b.mu.Unlock()
	st.Sent, st.Received, st.Dropped = b.sent.Load(), b.received.Load(), b.dropped.Load()
	if info, ok := b.local.Session(localID); ok {
		st.Queued = info.Queued + info.Inflight
		st.Dropped += info.Dropped
	}
	return st
}

func (b *Bridge) setState(s State, addr string, err error) {
	b.mu.Lock()
	if s != b.state {
		b.state, b.since = s, time.Now()
	}
	if addr != "" {
		b.addr = addr
	}
	if err != nil {
		b.lastErr = err.Error()
	}
	b.mu.Unlock()
}

// Restart ends the current connection, if any, so that the bridge
// reconnects (at once: the wait is skipped once).
func (b *Bridge) Restart() {
	b.mu.Lock()
	if b.stopLink != nil {
		close(b.stopLink)
		b.stopLink = nil
	}
	b.mu.Unlock()
}

// Run runs the bridge until ctx is done: it connects, relays, and
// reconnects as start_type and restart_timeout say. It returns nil when ctx
// is done or a start_type once bridge has ended.
func (b *Bridge) Run(ctx context.Context) error {
	defer b.setState(Stopped, "", nil)
	defer b.stopQueueQoS0()
	if b.cfg.Notifications {
		b.notifyLocal(ctx, '0')
	}
	wait := b.cfg.Restart.Base
	for {
		if b.applyPending() {
			b.mu.Lock()
			b.primed = false
			b.mu.Unlock()
		}
		b.mu.Lock()
		primed := b.primed
		b.mu.Unlock()
		if !primed {
			if err := b.Prime(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				b.log.Warn("bridge local side not subscribed", "err", err)
			}
		}
		if b.cfg.StartType == Lazy {
			b.setState(Waiting, "", nil)
			if !b.awaitThreshold(ctx) {
				return nil
			}
		}
		started := time.Now()
		err := b.connectOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		connected := !errors.Is(err, errNotConnected)
		if err != nil {
			b.log.Warn("bridge connection ended", "err", err)
		}
		if b.cfg.StartType == Once {
			return nil
		}
		if b.cfg.StartType == Lazy && errors.Is(err, errIdle) {
			continue
		}
		var d time.Duration
		switch {
		case b.cfg.Restart.Constant > 0:
			d = b.cfg.Restart.Constant
		default:
			if connected && time.Since(started) >= b.cfg.Restart.Stable {
				wait = b.cfg.Restart.Base
			}
			// Decorrelated jitter: a random wait between base and three
			// times the last one, capped.
			hi := max(wait*3, b.cfg.Restart.Base+1)
			d = b.cfg.Restart.Base + time.Duration(b.rnd.Int64N(int64(hi-b.cfg.Restart.Base)))
			d = min(d, b.cfg.Restart.Cap)
			wait = d
			b.log.Debug(fmt.Sprintf("Bridge %s next backoff will be %d ms", b.cfg.Name, d.Milliseconds()))
		}
		if errors.Is(err, errRestart) {
			d = 0
		}
		b.setState(Waiting, "", nil)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

var (
	errNotConnected = errors.New("bridge: not connected")
	errIdle         = errors.New("bridge: idle timeout")
	errRestart      = errors.New("bridge: restarted")
)

// awaitThreshold waits until threshold messages wait for a lazy bridge.
func (b *Bridge) awaitThreshold(ctx context.Context) bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if info, ok := b.local.Session(b.cfg.LocalClientID); ok && info.Queued+info.Inflight >= b.cfg.Threshold {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// notifyLocal publishes the bridge's state locally, retained.
func (b *Bridge) notifyLocal(ctx context.Context, state byte) {
	m := &broker.Message{Topic: b.cfg.StateTopic(), Payload: []byte{state}, QoS: 1, Retain: true}
	if err := b.local.PublishSystem(ctx, m); err != nil && ctx.Err() == nil {
		b.log.Warn("bridge notification not published", "err", err)
	}
}

// nextAddress returns the address to try and moves on for the next try.
func (b *Bridge) address() (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.cur % len(b.cfg.Addresses)
	return b.cfg.Addresses[i], i
}

// failed moves to the next address after a failed attempt.
func (b *Bridge) failed() {
	b.mu.Lock()
	b.cur = (b.cur + 1) % len(b.cfg.Addresses)
	b.mu.Unlock()
}
