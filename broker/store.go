package broker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Store persists what a restart of the broker needs: retained messages,
// persistent sessions with their subscriptions and wills, the messages
// queued for them, and QoS 2 state in both directions. The broker decides
// what must be durable before it answers a client and asks for a synced
// Commit then; everything else it commits without sync, relying on the
// Store applying batches in order (a later synced commit makes earlier ones
// durable too).
//
// A message queued for many sessions is stored once: each StoredDelivery
// names its message by StoredDelivery.ID, and the Store keeps one copy of
// the message per id with a count of the deliveries that name it. A
// PutDelivery whose id the Store does not hold stores the delivery's
// message; one whose id it holds adds a reference and ignores the message;
// deleting a delivery (DeleteDelivery, DeleteSession, or a PutDelivery
// that replaces it) drops a reference, and the message goes with the last.
// The broker numbers messages above the highest id the Store reports at
// start-up (Loader.MaxMessageID), so an id never names two messages.
//
// Implementations must be safe for concurrent use. The broker calls Commit
// from one goroutine at a time, so group commit (many clients' writes sharing
// one fsync) is the broker's job, not the Store's.
type Store interface {
	// Load calls the Loader's functions for every stored retained message,
	// session and inbound QoS 2 packet identifier, at start-up. Session
	// queues are read later with LoadQueue. The functions may call Commit;
	// a scan is not a snapshot, but sees every record that exists throughout
	// it exactly once.
	Load(ctx context.Context, l Loader) error
	// LoadQueue calls fn for each stored delivery of the session, in
	// sequence order, with its message (and ID) filled in. Deliveries of
	// one message may share one *Message within a call.
	LoadQueue(ctx context.Context, clientID string, fn func(*StoredDelivery) error) error
	// Commit applies b atomically and in order after every earlier Commit.
	// With sync it returns only once b (and so everything before it) is
	// durable. An error means b was not applied.
	Commit(ctx context.Context, b *Batch, sync bool) error
	// Sync makes every committed batch durable.
	Sync(ctx context.Context) error
	// Close syncs and releases the store.
	Close() error
}

// ErrStoreClosed is returned by a Store used after Close.
var ErrStoreClosed = errors.New("broker: store closed")

// Loader receives the stored state at start-up.
type Loader struct {
	// MaxMessageID is called once, before the other functions, with the
	// highest message id the store holds, 0 if it holds none. The broker
	// numbers the messages it stores from the next id on; a Store must call
	// it, and restoring fails if it does not, since an id given to a new
	// message while the Store still holds it would name the old message.
	MaxMessageID func(id uint64) error
	Retained     func(*Message) error
	Session      func(*StoredSession) error
	Inbound      func(clientID string, packetID uint16) error
}

// StoredSession is a persistent session as stored.
type StoredSession struct {
	ClientID string
	Version  byte // protocol level of the last connection
	// Username, HasUsername and Listener identify the last connection's
	// client, so that its rights can be checked while it is away.
	Username    string
	HasUsername bool
	Listener    string
	Expiry      uint32 // Session Expiry Interval, seconds; 0xFFFFFFFF: never
	// OfflineSince is when the session went offline; zero if it was
	// connected when last written (then the restart time counts).
	OfflineSince time.Time
	// Will is the will of the last connection, pending while the session is
	// offline or kept for publication if the broker stops abnormally.
	Will      *Message
	WillDelay uint32 // Will Delay Interval, seconds
	// Subscriptions as subscribed (mount point applied, "$share/..." kept).
	Subscriptions []StoredSubscription
	// SentUpTo is one more than the highest queue sequence number written
	// to the client when the record was made: deliveries below it are
	// resent with DUP set [MQTT-3.3.1-1].
	SentUpTo uint64
	// NextSeq is one more than the highest queue sequence number stored for
	// the session (0 if its queue is empty); the Store computes it in Load
	// and ignores it in Commit.
	NextSeq uint64
	// Queued is the number of deliveries stored for the session; the Store
	// computes it in Load and ignores it in Commit.
	Queued int
}

// StoredSubscription is one subscription of a stored session: its filter
// as subscribed, options and Subscription Identifier (0 for none). It is
// packet.Subscription, the one declaration of subscription options.
type StoredSubscription = packet.Subscription

// StoredDelivery is one message queued for (or in flight to) a session.
type StoredDelivery struct {
	Seq uint64 // position in the session's queue; also yields its packet identifier
	// ID names Msg in the store: every delivery of one message has the same
	// ID, and the store keeps the message once. It is never 0; the broker
	// sets it as it commits.
	ID uint64
	// Msg is the message. The store keeps it only if it holds no message
	// with ID yet: deliveries with one ID must carry the same message.
	Msg    *Message
	QoS    byte
	Retain bool
	SubIDs []uint32
	// Released is set once the client's PUBREC for this QoS 2 message has
	// been received: after a restart PUBREL is resent, not PUBLISH.
	Released bool
	// Group is the shared subscription ("$share/{name}/{filter}") it came
	// through, "" for an ordinary subscription.
	Group string
}

// Batch is a set of changes committed atomically. The zero value is empty
// and ready to use. A Batch is not safe for concurrent use.
type Batch struct {
	Ops []Op
}

// OpKind says what an Op changes.
type OpKind byte

// The kinds of change.
const (
	OpPutRetained     OpKind = iota + 1 // Msg
	OpDeleteRetained                    // Topic
	OpPutSession                        // Session
	OpDeleteSession                     // ClientID: the session, its queue and inbound identifiers; drops its messages' references
	OpPutDelivery                       // ClientID, Delivery: stores Delivery.Msg unless Delivery.ID is stored, adds a reference
	OpDeleteDelivery                    // ClientID, Seq; drops its message's reference
	OpReleaseDelivery                   // ClientID, Seq: mark Released
	OpPutInbound                        // ClientID, PacketID
	OpDeleteInbound                     // ClientID, PacketID
)

// Op is one change in a Batch.
type Op struct {
	Kind     OpKind
	ClientID string
	Topic    string
	Seq      uint64
	PacketID uint16
	Msg      *Message
	Session  *StoredSession
	Delivery *StoredDelivery
}

// add appends op, doubling the capacity when it is full: the batch of a
// fan-out to 100,000 sessions grows to 100,000 ops, and append's growth of
// large slices by a quarter would copy them about five times over.
func (b *Batch) add(op Op) {
	if len(b.Ops) == cap(b.Ops) {
		b.Ops = slices.Grow(b.Ops, max(len(b.Ops), 8))
	}
	b.Ops = append(b.Ops, op)
}

// Len returns the number of changes.
func (b *Batch) Len() int { return len(b.Ops) }

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	clear(b.Ops)
	b.Ops = b.Ops[:0]
}

// PutRetained stores m as the retained message of its topic.
func (b *Batch) PutRetained(m *Message) { b.add(Op{Kind: OpPutRetained, Msg: m}) }

// DeleteRetained removes the retained message of topic.
func (b *Batch) DeleteRetained(topic string) {
	b.add(Op{Kind: OpDeleteRetained, Topic: topic})
}

// PutSession stores s, replacing the stored record of s.ClientID but not
// its queue or inbound identifiers.
func (b *Batch) PutSession(s *StoredSession) {
	b.add(Op{Kind: OpPutSession, ClientID: s.ClientID, Session: s})
}

// DeleteSession removes the session, its queue and its inbound
// identifiers, and the messages no other session's delivery names.
func (b *Batch) DeleteSession(clientID string) {
	b.add(Op{Kind: OpDeleteSession, ClientID: clientID})
}

// PutDelivery stores d in the queue of clientID, replacing the delivery
// with d.Seq if there is one, and d.Msg under d.ID unless a message with
// that id is stored already. Many PutDelivery calls for one ID in a batch
// store the message once.
func (b *Batch) PutDelivery(clientID string, d *StoredDelivery) {
	b.add(Op{Kind: OpPutDelivery, ClientID: clientID, Seq: d.Seq, Delivery: d})
}

// DeleteDelivery removes delivery seq from the queue of clientID, and its
// message if no other delivery names it.
func (b *Batch) DeleteDelivery(clientID string, seq uint64) {
	b.add(Op{Kind: OpDeleteDelivery, ClientID: clientID, Seq: seq})
}

// ReleaseDelivery marks delivery seq of clientID Released (its PUBREC
// arrived). A missing delivery is ignored.
func (b *Batch) ReleaseDelivery(clientID string, seq uint64) {
	b.add(Op{Kind: OpReleaseDelivery, ClientID: clientID, Seq: seq})
}

// PutInbound records that clientID's QoS 2 PUBLISH with packetID was
// received and its PUBREL has not.
func (b *Batch) PutInbound(clientID string, packetID uint16) {
	b.add(Op{Kind: OpPutInbound, ClientID: clientID, PacketID: packetID})
}

// DeleteInbound forgets an inbound QoS 2 packet identifier.
func (b *Batch) DeleteInbound(clientID string, packetID uint16) {
	b.add(Op{Kind: OpDeleteInbound, ClientID: clientID, PacketID: packetID})
}
