package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/topic"
)

// committer is the broker's single writer to its Store. Callers add changes
// and a completion function in order; the committer merges everything
// pending into one batch, commits it once, and then runs the completions in
// the order they were added. Many clients' writes thus share one fsync
// (group commit), and per-client order is kept: a publisher's PUBACKs and
// the deliveries of its messages follow the order of its PUBLISHes.
//
// In periodic mode (Config.PersistenceInterval > 0) commits happen on a
// timer and nobody waits for them.
type committer struct {
	srv      *Server
	store    Store
	interval time.Duration
	kick     chan struct{} // a commit is wanted (buffered, 1)
	stop     chan struct{} // closed by close
	flushed  chan struct{} // closed when the loop has ended

	mu     sync.Mutex
	segs   []*segment // guarded by mu: pending work, in order; never empty
	closed bool       // guarded by mu
	free   []*segment // guarded by mu: emptied segments for reuse

	// lastMsgID is the message id given last (see number); restore seeds
	// it with the highest id the Store holds.
	lastMsgID atomic.Uint64

	deleted map[deliveryKey]int // dropCancelled's scratch; the loop's only

	// failures logs failed commits, one line per failureInterval: a full
	// disk fails every commit, hundreds a second.
	failures *logging.Repeats
}

// failureInterval is how often a failure that keeps recurring is logged.
const failureInterval = 10 * time.Second

// deliveryKey names a stored delivery.
type deliveryKey struct {
	clientID string
	seq      uint64
}

// maxKeptOps bounds the batch memory a segment keeps for reuse: a fan-out
// to 100,000 offline sessions makes a batch of 100,000 ops (8 MB), which
// is given back rather than held until the next one.
const maxKeptOps = 4096

// segment is changes committed together and the completions that wait for
// them. A fence ends a segment, so nothing added after it is committed
// before its completion has run.
type segment struct {
	batch Batch
	dones []func(error)
}

func newCommitter(srv *Server, st Store, interval time.Duration) *committer {
	c := &committer{srv: srv, store: st, interval: interval, segs: []*segment{{}},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), flushed: make(chan struct{}),
		failures: logging.NewRepeats(srv.log, failureInterval)}
	go c.loop()
	return c
}

// add queues the changes fill makes and calls done (if not nil) with the
// commit's outcome once they are durable, or at once in periodic mode. fill
// runs under the committer's lock, so the order of its changes matches the
// order of add calls. done runs on the committer's goroutine: it must not
// block, nor wait for another add.
func (c *committer) add(fill func(b *Batch), done func(error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if done != nil {
			done(ErrStoreClosed)
		}
		return
	}
	seg := c.segs[len(c.segs)-1]
	if fill != nil {
		fill(&seg.batch)
	}
	if c.interval > 0 {
		c.mu.Unlock()
		if done != nil {
			done(nil) // periodic: acknowledgements do not wait
		}
		return
	}
	seg.dones = append(seg.dones, done)
	c.mu.Unlock()
	c.poke()
}

func (c *committer) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// flush commits everything added so far now, in periodic mode too, and
// waits for it.
func (c *committer) flush() error {
	ch := make(chan error, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrStoreClosed
	}
	seg := c.segs[len(c.segs)-1]
	seg.dones = append(seg.dones, func(err error) { ch <- err })
	c.mu.Unlock()
	c.poke()
	return <-ch
}

// fence queues done to run once everything added before it is committed,
// and before anything added after it is: later changes go into a later
// commit. done gets the outcome of the commit before it.
func (c *committer) fence(done func(error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done(ErrStoreClosed)
		return
	}
	seg := c.segs[len(c.segs)-1]
	seg.dones = append(seg.dones, done)
	var next *segment
	if n := len(c.free); n > 0 {
		next, c.free = c.free[n-1], c.free[:n-1]
	} else {
		next = &segment{}
	}
	c.segs = append(c.segs, next)
	c.mu.Unlock()
	c.poke()
}

// wait adds the changes and waits until they are durable (in periodic mode,
// until they are queued).
func (c *committer) wait(fill func(b *Batch)) error {
	if c.interval > 0 {
		c.add(fill, nil)
		return nil
	}
	ch := make(chan error, 1)
	c.add(fill, func(err error) { ch <- err })
	return <-ch
}

// loop commits what is pending until close.
func (c *committer) loop() {
	defer close(c.flushed)
	var tick <-chan time.Time
	if c.interval > 0 {
		t := time.NewTicker(c.interval)
		defer t.Stop()
		tick = t.C
	}
	stopping := false
	for {
		if !stopping {
			select {
			case <-c.kick:
			case <-tick:
			case <-c.stop:
				stopping = true
			}
		}
		c.mu.Lock()
		segs := c.segs
		var fresh *segment
		if n := len(c.free); n > 0 {
			fresh, c.free = c.free[n-1], c.free[:n-1]
		} else {
			fresh = &segment{}
		}
		c.segs = []*segment{fresh}
		c.mu.Unlock()

		for _, seg := range segs {
			var err error
			c.dropCancelled(&seg.batch)
			if seg.batch.Len() > 0 {
				c.number(&seg.batch)
				err = c.store.Commit(c.srv.ctx, &seg.batch, true)
				if err != nil {
					c.failures.Log(context.Background(), slog.LevelError, "commit",
						"persistence: commit failed; messages that needed it are refused", "err", err, "changes", seg.batch.Len())
				}
			}
			for _, done := range seg.dones {
				if done != nil {
					done(err)
				}
			}
			seg.batch.Reset()
			if cap(seg.batch.Ops) > maxKeptOps {
				seg.batch.Ops = nil
			}
			clear(seg.dones)
			seg.dones = seg.dones[:0]
		}
		c.mu.Lock()
		c.free = append(c.free, segs...)
		empty := len(c.segs) == 1 && c.segs[0].batch.Len() == 0 && len(c.segs[0].dones) == 0
		c.mu.Unlock()
		if stopping && empty {
			return
		}
	}
}

// dropCancelled removes from b the PutDelivery and ReleaseDelivery ops of
// deliveries that a later DeleteDelivery of b removes: a message delivered
// and acknowledged within one commit never reaches the disk. The delete
// stays, for a record an earlier commit stored; for one it did not, it
// changes nothing.
func (c *committer) dropCancelled(b *Batch) {
	if c.deleted == nil {
		c.deleted = make(map[deliveryKey]int)
	}
	for i := range b.Ops {
		if op := &b.Ops[i]; op.Kind == OpDeleteDelivery {
			c.deleted[deliveryKey{op.ClientID, op.Seq}] = i
		}
	}
	if len(c.deleted) == 0 {
		return
	}
	n := 0
	for i := range b.Ops {
		op := &b.Ops[i]
		if op.Kind == OpPutDelivery || op.Kind == OpReleaseDelivery {
			if j, ok := c.deleted[deliveryKey{op.ClientID, op.Seq}]; ok && j > i {
				continue
			}
		}
		b.Ops[n] = *op
		n++
	}
	clear(b.Ops[n:])
	b.Ops = b.Ops[:n]
	clear(c.deleted)
}

// number gives every delivery b puts the id of its message, numbering a
// message the first time a delivery of it is committed; later deliveries
// of the same *Message (a fan-out, a retained message sent on subscribe, a
// shared subscription's message given to another member, a will) reuse
// the id, so that the Store keeps the message once. A message whose last
// stored delivery is gone keeps its id: the Store no longer holds the id,
// so the next PutDelivery stores the message again under it. Ids only
// grow, from the highest the Store held at start-up, so an id never names
// two messages. It runs on the loop's goroutine only, which is what makes
// Message.id safe to use without a lock.
func (c *committer) number(b *Batch) {
	for i := range b.Ops {
		op := &b.Ops[i]
		if op.Kind != OpPutDelivery || op.Delivery == nil || op.Delivery.Msg == nil || op.Delivery.ID != 0 {
			continue
		}
		m := op.Delivery.Msg
		if m.id == 0 {
			m.id = c.lastMsgID.Add(1)
		}
		op.Delivery.ID = m.id
	}
}

// close commits what is pending and stops the loop, or stops waiting for
// it when ctx is done, returning ctx's error. Later adds fail with
// ErrStoreClosed.
func (c *committer) close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	select {
	case <-c.flushed:
		c.failures.Stop()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxStoredKey bounds client identifiers and retained topics the broker
// puts in its store: on-disk stores limit key sizes (bbolt to 32 KiB), and
// one change a store refuses would fail every change committed with it. A
// session or retained message beyond it lives in memory only.
const maxStoredKey = 32 << 10 / 2

// storable reports whether a message on name belongs in the store: $SYS
// messages are made anew by every broker.
func storable(name string) bool {
	return !strings.HasPrefix(name, topic.SysPrefix) && len(name) <= maxStoredKey
}

// restore loads the store's state into an empty server, once, before the
// first connection: retained messages, sessions (offline, with expiry and
// will timers running from when they went offline) and inbound QoS 2
// identifiers. Session queues stay on disk until their client returns.
func (srv *Server) restore(ctx context.Context) error {
	if srv.cfg.Store == nil {
		return nil
	}
	now := srv.now()
	nRet, nSess := 0, 0
	seeded := false
	err := srv.cfg.Store.Load(ctx, Loader{
		MaxMessageID: func(id uint64) error {
			if id > srv.commit.lastMsgID.Load() {
				srv.commit.lastMsgID.Store(id)
			}
			seeded = true
			return nil
		},
		Retained: func(m *Message) error {
			if m.expired(now) {
				return nil
			}
			srv.retained.Set(m.Topic, m)
			nRet++
			return nil
		},
		Session: func(ss *StoredSession) error {
			s := newSession(srv, ss.ClientID)
			s.version = ss.Version
			s.ident.Store(&identity{
				client: Client{ID: ss.ClientID, Username: ss.Username, HasUsername: ss.HasUsername,
					Listener: ss.Listener, Version: ss.Version},
				sec: srv.securityOf(ss.Listener),
			})
			s.expiry = ss.Expiry
			s.storeSeq = max(ss.NextSeq, ss.SentUpTo)
			s.sentUpTo = ss.SentUpTo
			s.storedQueued = ss.Queued
			for _, sub := range ss.Subscriptions {
				o := subOptions(sub)
				if _, err := srv.index.Subscribe(s, sub.Filter, o); err != nil {
					return fmt.Errorf("session %q: subscription %q: %w", ss.ClientID, sub.Filter, err)
				}
				s.subs.set(sub.Filter, o)
			}
			s.subCount.Store(int32(s.subs.len()))
			offline := ss.OfflineSince
			if offline.IsZero() {
				offline = now // it was connected when the broker stopped
				s.crashed = true
			}
			srv.mu.Lock()
			srv.sessions[s.id] = s
			srv.mu.Unlock()
			s.mu.Lock()
			s.inStore = true
			if ss.Will != nil {
				s.will, s.willDelay = ss.Will, ss.WillDelay
				s.will.source = s.ident.Load() // for publishWill
				due := offline.Add(time.Duration(ss.WillDelay) * time.Second)
				s.willTimer = time.AfterFunc(max(due.Sub(now), 0), func() { srv.fireWill(s) })
			}
			srv.scheduleExpiryFromLocked(s, offline)
			s.mu.Unlock()
			nSess++
			return nil
		},
		Inbound: func(clientID string, id uint16) error {
			srv.mu.Lock()
			s := srv.sessions[clientID]
			srv.mu.Unlock()
			if s == nil {
				return nil // the session is gone; so is the flow
			}
			s.mu.Lock()
			if s.inboundQoS2 == nil {
				s.inboundQoS2 = make(map[uint16]struct{})
			}
			s.inboundQoS2[id] = struct{}{}
			s.mu.Unlock()
			return nil
		},
	})
	if err == nil && !seeded {
		err = errors.New("the store did not report its highest message id (Loader.MaxMessageID)")
	}
	if err != nil {
		return fmt.Errorf("broker: restoring from the store: %w", err)
	}
	srv.log.Info(fmt.Sprintf("Restored %d retained messages and %d persistent sessions from the store.", nRet, nSess))
	return nil
}
