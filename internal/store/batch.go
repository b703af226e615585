package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/midge-mqtt/midge/broker"
)

// ErrInvalidOp is wrapped by the error Commit returns for a batch with an op
// that cannot be stored: an unknown kind, a missing value, an empty client
// identifier or one that contains NUL, a key longer than bbolt allows
// (32768 bytes for a topic, 32759 for a client identifier), or a message
// whose properties cannot be encoded. No op of such a batch is applied.
var ErrInvalidOp = errors.New("store: invalid op")

// prepared is an op validated and encoded, ready to apply. key and rec are
// slices of the batch's arena; apply must not modify them.
type prepared struct {
	kind broker.OpKind
	id   string // client identifier or topic
	key  []byte // session, retained, queue or inbound key; the key prefix for OpDeleteSession
	rec  []byte // record to put, nil for deletes
}

// prepare validates and encodes every op of b before anything is applied,
// so that applying cannot fail on the caller's data. Keys and records are
// encoded into one arena.
func prepare(b *broker.Batch) ([]prepared, error) {
	ps := make([]prepared, len(b.Ops))
	type span struct{ k0, k1, r0, r1 int }
	spans := make([]span, len(b.Ops))
	var arena []byte
	var e encoder
	for i := range b.Ops {
		op := &b.Ops[i]
		p := &ps[i]
		p.kind = op.Kind
		if err := checkOp(op); err != nil {
			return nil, fmt.Errorf("%w: op %d (%s): %w", ErrInvalidOp, i, kindName(op.Kind), err)
		}
		sp := &spans[i]
		sp.k0 = len(arena)
		switch op.Kind {
		case broker.OpPutRetained:
			p.id = op.Msg.Topic
			arena = append(arena, op.Msg.Topic...)
		case broker.OpDeleteRetained:
			p.id = op.Topic
			arena = append(arena, op.Topic...)
		case broker.OpPutSession:
			p.id = op.ClientID
			arena = append(arena, op.ClientID...)
		case broker.OpDeleteSession:
			p.id = op.ClientID
			arena = append(append(arena, op.ClientID...), 0)
		case broker.OpPutDelivery, broker.OpDeleteDelivery, broker.OpReleaseDelivery:
			p.id = op.ClientID
			arena = appendQueueKey(arena, op.ClientID, op.Seq)
		case broker.OpPutInbound, broker.OpDeleteInbound:
			p.id = op.ClientID
			arena = appendInboundKey(arena, op.ClientID, op.PacketID)
		}
		sp.k1 = len(arena)
		sp.r0 = len(arena)
		var err error
		switch op.Kind {
		case broker.OpPutRetained:
			arena, err = e.appendMessage(append(arena, recordV1), op.Msg)
		case broker.OpPutSession:
			arena, err = e.appendSession(arena, op.Session)
		case broker.OpPutDelivery:
			arena, err = e.appendDelivery(arena, op.Delivery)
		case broker.OpPutInbound:
			arena = append(arena, recordV1)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: op %d (%s): %w", ErrInvalidOp, i, kindName(op.Kind), err)
		}
		sp.r1 = len(arena)
	}
	for i, sp := range spans {
		ps[i].key = arena[sp.k0:sp.k1:sp.k1]
		if sp.r1 > sp.r0 {
			ps[i].rec = arena[sp.r0:sp.r1:sp.r1]
		}
	}
	return ps, nil
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
