package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/midge-mqtt/midge/broker"
)

// ErrInvalidOp is wrapped by the error Commit returns for a batch with an op
// that cannot be stored: an unknown kind, a missing value, an empty client
// identifier or one that contains NUL, a key longer than bbolt allows
// (32768 bytes for a topic, 32759 for a client identifier), or a message
// whose properties cannot be encoded. No op of such a batch is applied.
var ErrInvalidOp = errors.New("store: invalid op")

// prepared is an op validated and encoded, ready to apply. Its key and
// record are spans of the batch's arena (see preparedBatch.key, rec).
type prepared struct {
	kind   broker.OpKind
	k0, k1 int    // key: session, retained, queue or inbound key; the key prefix for OpDeleteSession
	r1     int    // record to put: arena[k1:r1], empty for deletes
	msg    uint64 // OpPutDelivery: the id of the delivery's message
	skip   bool   // OpPutDelivery: a later delete undoes it (skipCancelledPuts)
}

// preparedMsg is a message that a batch's PutDelivery ops bring, encoded
// as a stored message record.
type preparedMsg struct {
	id     uint64
	r0, r1 int
}

// preparedBatch is a Batch validated and encoded. Its memory is reused
// from one Commit to the next (see batchPool); nothing in it may be kept
// after the Commit that prepared it, and the stores copy what they keep.
type preparedBatch struct {
	ops   []prepared
	msgs  []preparedMsg  // one per message id the batch's puts name, in order of first use
	msgAt map[uint64]int // message id → index in msgs
	arena []byte
	e     encoder
	refs  refChanges // filled as the batch is applied
}

// key returns the key of p. The caller must not modify it.
func (pb *preparedBatch) key(p *prepared) []byte { return pb.arena[p.k0:p.k1:p.k1] }

// rec returns the record p puts, nil for a delete. The caller must not
// modify it.
func (pb *preparedBatch) rec(p *prepared) []byte {
	if p.r1 == p.k1 {
		return nil
	}
	return pb.arena[p.k1:p.r1:p.r1]
}

// message returns the stored message record that the batch brings for id,
// nil if none of its puts names id.
func (pb *preparedBatch) message(id uint64) []byte {
	i, ok := pb.msgAt[id]
	if !ok {
		return nil
	}
	m := &pb.msgs[i]
	return pb.arena[m.r0:m.r1:m.r1]
}

// batchPool keeps preparedBatches between Commits, so that the encode
// buffers of a large fan-out are not allocated anew for each. A pooled
// batch is dropped if it grew past maxPooledArena or maxPooledOps; the
// pool itself lets go of what it holds at garbage collections.
type batchPool struct{ p sync.Pool }

const (
	maxPooledArena = 16 << 20
	maxPooledOps   = 256 << 10
)

func (bp *batchPool) get() *preparedBatch {
	if pb, ok := bp.p.Get().(*preparedBatch); ok {
		return pb
	}
	return &preparedBatch{msgAt: make(map[uint64]int)}
}

func (bp *batchPool) put(pb *preparedBatch) {
	if cap(pb.arena) > maxPooledArena || cap(pb.ops) > maxPooledOps {
		return
	}
	pb.ops = pb.ops[:0]
	pb.msgs = pb.msgs[:0]
	clear(pb.msgAt)
	pb.arena = pb.arena[:0]
	pb.refs.reset()
	bp.p.Put(pb)
}

// prepare validates and encodes every op of b into pb before anything is
// applied, so that applying cannot fail on the caller's data. Keys and
// records are encoded into one arena; each message the batch's puts name
// is encoded once, however many deliveries name it.
func (pb *preparedBatch) prepare(b *broker.Batch) error {
	pb.ops = slices.Grow(pb.ops[:0], len(b.Ops))[:len(b.Ops)]
	if need := estimate(b); cap(pb.arena) < need {
		pb.arena = make([]byte, 0, need)
	}
	arena := pb.arena[:0]
	lastMsg := uint64(0) // the message id of the last put, whose message is encoded
	for i := range b.Ops {
		op := &b.Ops[i]
		p := &pb.ops[i]
		*p = prepared{kind: op.Kind}
		if err := checkOp(op); err != nil {
			return fmt.Errorf("%w: op %d (%s): %w", ErrInvalidOp, i, kindName(op.Kind), err)
		}
		p.k0 = len(arena)
		switch op.Kind {
		case broker.OpPutRetained:
			arena = append(arena, op.Msg.Topic...)
		case broker.OpDeleteRetained:
			arena = append(arena, op.Topic...)
		case broker.OpPutSession:
			arena = append(arena, op.ClientID...)
		case broker.OpDeleteSession:
			arena = append(append(arena, op.ClientID...), 0)
		case broker.OpPutDelivery, broker.OpDeleteDelivery, broker.OpReleaseDelivery:
			arena = appendQueueKey(arena, op.ClientID, op.Seq)
		case broker.OpPutInbound, broker.OpDeleteInbound:
			arena = appendInboundKey(arena, op.ClientID, op.PacketID)
		}
		p.k1 = len(arena)
		var err error
		switch op.Kind {
		case broker.OpPutRetained:
			arena, err = pb.e.appendMessage(append(arena, recordV1), op.Msg)
		case broker.OpPutSession:
			arena, err = pb.e.appendSession(arena, op.Session)
		case broker.OpPutDelivery:
			arena = appendDelivery(arena, op.Delivery)
		case broker.OpPutInbound:
			arena = append(arena, recordV1)
		}
		if err != nil {
			return fmt.Errorf("%w: op %d (%s): %w", ErrInvalidOp, i, kindName(op.Kind), err)
		}
		p.r1 = len(arena)
		if op.Kind == broker.OpPutDelivery {
			id := op.Delivery.ID
			p.msg = id
			if id == lastMsg {
				continue
			}
			lastMsg = id
			if _, ok := pb.msgAt[id]; ok {
				continue
			}
			r0 := len(arena)
			arena, err = pb.e.appendMessage(append(arena, recordV1), op.Delivery.Msg)
			if err != nil {
				return fmt.Errorf("%w: op %d (%s): %w", ErrInvalidOp, i, kindName(op.Kind), err)
			}
			pb.msgAt[id] = len(pb.msgs)
			pb.msgs = append(pb.msgs, preparedMsg{id: id, r0: r0, r1: len(arena)})
		}
	}
	pb.arena = arena
	return nil
}

// estimate returns about the arena size prepare needs for b's keys and
// delivery records, so that a large batch's arena is allocated once.
func estimate(b *broker.Batch) int {
	n := 0
	for i := range b.Ops {
		op := &b.Ops[i]
		n += len(op.ClientID) + len(op.Topic) + 16
		if d := op.Delivery; d != nil {
			n += 8 + len(d.Group) + 5*len(d.SubIDs)
		}
	}
	return n
}

// refChanges sums what a batch does to the reference counts of stored
// messages, by message id. Consecutive changes to one id, a fan-out's,
// cost no map access.
type refChanges struct {
	delta map[uint64]int64
	last  uint64 // the id of pending
	n     int64  // pending change to last
	ids   []uint64
}

// add changes the count of id by n.
func (r *refChanges) add(id uint64, n int64) {
	if id != r.last {
		r.flush()
		r.last = id
	}
	r.n += n
}

func (r *refChanges) flush() {
	if r.n == 0 {
		return
	}
	if r.delta == nil {
		r.delta = make(map[uint64]int64)
	}
	r.delta[r.last] += r.n
	r.n = 0
}

// each calls fn with every id whose count changed and the change, in
// increasing id order, and returns the first error fn returns.
func (r *refChanges) each(fn func(id uint64, delta int64) error) error {
	r.flush()
	r.ids = r.ids[:0]
	for id, d := range r.delta {
		if d != 0 {
			r.ids = append(r.ids, id)
		}
	}
	slices.Sort(r.ids)
	for _, id := range r.ids {
		if err := fn(id, r.delta[id]); err != nil {
			return err
		}
	}
	return nil
}

func (r *refChanges) reset() {
	clear(r.delta)
	r.last, r.n = 0, 0
	r.ids = r.ids[:0]
}

// checkOp reports what makes op unstorable, or nil.
func checkOp(op *broker.Op) error {
	switch op.Kind {
	case broker.OpPutRetained:
		if op.Msg == nil {
			return errors.New("no message")
		}
		return checkTopic(op.Msg.Topic)
	case broker.OpDeleteRetained:
		return checkTopic(op.Topic)
	case broker.OpPutSession:
		if op.Session == nil {
			return errors.New("no session")
		}
		if op.Session.ClientID != op.ClientID {
			return fmt.Errorf("session of %q stored as %q", op.Session.ClientID, op.ClientID)
		}
		if op.Session.Will != nil {
			if err := checkTopic(op.Session.Will.Topic); err != nil {
				return fmt.Errorf("will: %w", err)
			}
		}
	case broker.OpPutDelivery:
		if op.Delivery == nil || op.Delivery.Msg == nil {
			return errors.New("no delivery or no message")
		}
		if op.Delivery.ID == 0 {
			return errors.New("delivery without a message id")
		}
		if op.Delivery.Seq != op.Seq {
			return fmt.Errorf("delivery %d stored as %d", op.Delivery.Seq, op.Seq)
		}
	case broker.OpDeleteSession, broker.OpDeleteDelivery, broker.OpReleaseDelivery,
		broker.OpPutInbound, broker.OpDeleteInbound:
	default:
		return errors.New("unknown kind")
	}
	return checkClientID(op.ClientID)
}

func checkClientID(id string) error {
	switch {
	case id == "":
		return errors.New("empty client identifier")
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("client identifier %q contains NUL", id)
	case len(id) > maxClientID:
		return fmt.Errorf("client identifier of %d bytes (at most %d)", len(id), maxClientID)
	}
	return nil
}

func checkTopic(t string) error {
	switch {
	case t == "":
		return errors.New("empty topic")
	case len(t) > maxTopic:
		return fmt.Errorf("topic of %d bytes (at most %d)", len(t), maxTopic)
	}
	return nil
}

// kindName names an op kind for error messages.
func kindName(k broker.OpKind) string {
	switch k {
	case broker.OpPutRetained:
		return "PutRetained"
	case broker.OpDeleteRetained:
		return "DeleteRetained"
	case broker.OpPutSession:
		return "PutSession"
	case broker.OpDeleteSession:
		return "DeleteSession"
	case broker.OpPutDelivery:
		return "PutDelivery"
	case broker.OpDeleteDelivery:
		return "DeleteDelivery"
	case broker.OpReleaseDelivery:
		return "ReleaseDelivery"
	case broker.OpPutInbound:
		return "PutInbound"
	case broker.OpDeleteInbound:
		return "DeleteInbound"
	}
	return fmt.Sprintf("OpKind(%d)", k)
}
