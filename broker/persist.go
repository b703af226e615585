package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/groupcommit"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/topic"
)

// committer is the broker's single writer to its Store: a group committer
// (see internal/groupcommit) of Batches. Many clients' writes share one
// fsync, and per-client order is kept: a publisher's PUBACKs and the
// deliveries of its messages follow the order of its PUBLISHes. In
// periodic mode (Config.PersistenceInterval > 0) commits happen on a timer
// and nobody waits for them.
type committer struct {
	*groupcommit.Committer[Batch]
	srv   *Server
	store Store

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

func newCommitter(srv *Server, st Store, interval time.Duration) *committer {
	c := &committer{srv: srv, store: st,
		failures: logging.NewRepeats(srv.log, failureInterval)}
	c.Committer = groupcommit.New(interval, ErrStoreClosed, groupcommit.Funcs[Batch]{
		Commit: c.commit,
		Empty:  func(b *Batch) bool { return b.Len() == 0 },
		Recycle: func(b *Batch) {
			b.Reset()
			if cap(b.Ops) > maxKeptOps {
				b.Ops = nil
			}
		},
	})
	return c
}

// commit commits b, which is not empty, on the committer's goroutine.
func (c *committer) commit(b *Batch) error {
	c.dropCancelled(b)
	c.number(b)
	err := c.store.Commit(c.srv.ctx, b, true)
	if err != nil {
		c.failures.Log(context.Background(), slog.LevelError, "commit",
			"persistence: commit failed; messages that needed it are refused", "err", err, "changes", b.Len())
	}
	return err
}

// add, flush, fence and wait are groupcommit.Committer's Add, Flush, Fence
// and Wait.
func (c *committer) add(fill func(b *Batch), done func(error)) { c.Add(fill, done) }
func (c *committer) flush() error                              { return c.Flush() }
func (c *committer) fence(done func(error))                    { c.Fence(done) }
func (c *committer) wait(fill func(b *Batch)) error            { return c.Wait(fill) }

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

// close commits what is pending and stops the committer, or stops waiting
// for it when ctx is done, returning ctx's error. Later adds fail with
// ErrStoreClosed.
func (c *committer) close(ctx context.Context) error {
	if err := c.Close(ctx); err != nil {
		return err
	}
	c.failures.Stop()
	return nil
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
	srv.flushRoutes() // the restored sessions' subscriptions
	return nil
}
