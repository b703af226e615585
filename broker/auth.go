package broker

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
)

// Client describes a connected client to an Authenticator or Authorizer. It
// must not be modified.
type Client struct {
	ID          string // client identifier
	Username    string
	HasUsername bool
	Remote      net.Addr
	Listener    string // Listener.Name
	Version     byte   // protocol level: 3, 4 or 5
	// CommonName is the subject common name of a verified TLS client
	// certificate, if any.
	CommonName string
}

// Access is what a client asks to do with a topic. The values are
// Mosquitto's MOSQ_ACL_* constants.
type Access uint8

// Kinds of access.
const (
	Read      Access = 1 // receive a message published to a topic
	Write     Access = 2 // publish to a topic
	Subscribe Access = 4 // subscribe to a filter
	// Unsubscribe is asked for each filter of an UNSUBSCRIBE; a denied one
	// stays subscribed (MQTT 5: reason code 0x87 in the UNSUBACK).
	Unsubscribe Access = 8
)

// String returns "read", "write", "subscribe" or "unsubscribe".
func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	case Subscribe:
		return "subscribe"
	case Unsubscribe:
		return "unsubscribe"
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// Verdict is one link's answer to an authentication or authorization
// question: Mosquitto's plugin results MOSQ_ERR_SUCCESS (Allow),
// MOSQ_ERR_AUTH or MOSQ_ERR_ACL_DENIED (Deny), and MOSQ_ERR_PLUGIN_DEFER
// (Defer: no opinion, the next link decides).
type Verdict int8

// The verdicts. The zero value is Defer.
const (
	Defer Verdict = iota
	Allow
	Deny
)

// String returns "defer", "allow" or "deny".
func (v Verdict) String() string {
	switch v {
	case Defer:
		return "defer"
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Verdict(%d)", int8(v))
}

// Authenticator is a link of an authentication chain: it checks the
// credentials of a connecting client. It is asked about every client,
// including those without a user name (HasUsername false), except on
// listeners that take the user name from the TLS certificate. Implementations
// must be safe for concurrent use.
type Authenticator interface {
	// Authenticate says whether the client may connect with this user name
	// and password: Allow, Deny, or Defer to leave the decision to the next
	// link (a password file defers for a client without a user name). An
	// error means the check could not be made: the client is refused with
	// "server unavailable".
	Authenticate(ctx context.Context, c *Client, password []byte, hasPassword bool) (Verdict, error)
}

// Authorizer is a link of an authorization chain: it decides who may
// publish to, receive from and subscribe to what. Implementations must be
// safe for concurrent use and fast: Authorize is called for every message
// delivered.
type Authorizer interface {
	// Authorize says whether c may perform a on topic: Allow, Deny, or Defer
	// to leave the decision to the next link. For Read and Write, topic is a
	// topic name; for Subscribe and Unsubscribe, a topic filter (a shared
	// subscription's filter without its $share/{name}/ prefix).
	Authorize(ctx context.Context, c *Client, topic string, a Access) Verdict
}

// Explainer is an Authorizer that can say why it decides as it does, for
// people asking (the dashboard's ACL tester). Security.Explain finds it by
// type assertion.
type Explainer interface {
	Authorizer
	// Explain returns the verdict Authorize gives for the same question in
	// Decision.Verdict, with the reason for it.
	Explain(ctx context.Context, c *Client, topic string, a Access) Decision
}

// Decision is an authorization answer and the reason for it.
type Decision struct {
	// Verdict is the deciding link's verdict (Defer if none decided).
	Verdict Verdict `json:"-"`
	// Allowed is the outcome: what Security.Authorize answers.
	Allowed bool `json:"allowed"`
	// Rule is the rule that decided, as its source writes it ("topic
	// readwrite home/#"); "" if no rule did.
	Rule string `json:"rule,omitempty"`
	// Section says where Rule is: `user "alice"`, "patterns"...
	Section string `json:"section,omitempty"`
	// Reason explains the outcome in a sentence.
	Reason string `json:"reason"`
}

// Slot is a link of a chain whose occupant can be replaced atomically while
// the server runs, as SIGHUP replaces a password or ACL file: an
// Authenticator, an Authorizer, both, or nil. A Slot that holds nothing, or
// nothing of the kind a chain asks for, is not part of that chain: the chain
// decides as if it were absent, as Mosquitto does when a password_file or
// acl_file is removed. It is safe for concurrent use.
type Slot struct {
	p atomic.Pointer[slotted]
}

type slotted struct{ v any }

var (
	_ Authenticator = (*Slot)(nil)
	_ Explainer     = (*Slot)(nil)
)

// NewSlot returns a Slot holding v (nil: nothing).
func NewSlot(v any) *Slot {
	s := &Slot{}
	s.Store(v)
	return s
}

// Store replaces the occupant; nil empties the slot. A nil pointer stored
// as v is an occupant, not nothing: store nil itself to empty the slot.
func (s *Slot) Store(v any) { s.p.Store(&slotted{v}) }

// Load returns the occupant, nil if none.
func (s *Slot) Load() any {
	if p := s.p.Load(); p != nil {
		return p.v
	}
	return nil
}

// Authenticate asks the occupant, and defers if it is not an Authenticator.
func (s *Slot) Authenticate(ctx context.Context, c *Client, password []byte, hasPassword bool) (Verdict, error) {
	if a, ok := s.Load().(Authenticator); ok {
		return a.Authenticate(ctx, c, password, hasPassword)
	}
	return Defer, nil
}

// Authorize asks the occupant, and defers if it is not an Authorizer.
func (s *Slot) Authorize(ctx context.Context, c *Client, topic string, a Access) Verdict {
	if az, ok := s.Load().(Authorizer); ok {
		return az.Authorize(ctx, c, topic, a)
	}
	return Defer
}

// Explain asks the occupant, as Security.Explain asks a link.
func (s *Slot) Explain(ctx context.Context, c *Client, topic string, a Access) Decision {
	if az, ok := s.Load().(Authorizer); ok {
		return explainLink(ctx, az, c, topic, a)
	}
	return Decision{Reason: "the slot is empty"}
}

// authenticator returns the link a as a chain sees it: nil if it is a Slot
// without an Authenticator.
func authenticator(a Authenticator) Authenticator {
	if s, ok := a.(*Slot); ok {
		a, _ = s.Load().(Authenticator)
	}
	return a
}

// authorizer is authenticator for Authorizers.
func authorizer(a Authorizer) Authorizer {
	if s, ok := a.(*Slot); ok {
		a, _ = s.Load().(Authorizer)
	}
	return a
}

// Security is who may connect and what they may do: Mosquitto's
// allow_anonymous and its chains of security plugins (password_file,
// acl_file, a Go program's own), asked in order. Its links may be Slots,
// replaced while the server runs; the slices themselves must not change
// once the Server uses them.
type Security struct {
	// AllowAnonymous admits clients without a user name (allow_anonymous)
	// when no Authenticator decides, and every client when there is none.
	AllowAnonymous bool
	// Authenticators are asked in order whether a client may connect; the
	// first verdict other than Defer decides. See Authenticate.
	Authenticators []Authenticator
	// Authorizers are asked in order whether a client may publish, receive
	// or subscribe; the first verdict other than Defer decides. See
	// Authorize.
	Authorizers []Authorizer
}

// Authenticate decides whether a client may connect, as Mosquitto's
// mosquitto_unpwd_check does: the first link that allows or denies decides.
// Without links (empty Slots do not count), AllowAnonymous decides for
// every client, with or without a user name. When every link defers, only
// a client without a user name is admitted, and only with AllowAnonymous.
func (s *Security) Authenticate(ctx context.Context, c *Client, password []byte, hasPassword bool) (bool, error) {
	return s.authenticate(ctx, c, password, hasPassword, s.AllowAnonymous)
}

// authenticate is Authenticate with anonymous access given by the caller
// (the listener may allow it whatever the Security says).
func (s *Security) authenticate(ctx context.Context, c *Client, password []byte, hasPassword, anonymous bool) (bool, error) {
	used := false
	for _, a := range s.Authenticators {
		if a = authenticator(a); a == nil {
			continue
		}
		used = true
		switch v, err := a.Authenticate(ctx, c, password, hasPassword); {
		case err != nil:
			return false, err
		case v != Defer:
			return v == Allow, nil
		}
	}
	if !used {
		return anonymous, nil
	}
	return !c.HasUsername && anonymous, nil
}

// Authorize decides whether c may perform a on topic, as Mosquitto's
// mosquitto_acl_check does after its $-topic rules: the first link that
// allows or denies decides; without links (empty Slots do not count)
// everything is allowed; when every link defers, access is denied. The
// broker refuses publishing to $SYS before asking.
func (s *Security) Authorize(ctx context.Context, c *Client, topic string, a Access) bool {
	used := false
	for _, az := range s.Authorizers {
		if az = authorizer(az); az == nil {
			continue
		}
		used = true
		if v := az.Authorize(ctx, c, topic, a); v != Defer {
			return v == Allow
		}
	}
	return !used
}

// Explain answers the question Authorize answers (Decision.Allowed is its
// result) and says which link, and which of its rules, decided and why.
// Links that are Explainers explain themselves.
func (s *Security) Explain(ctx context.Context, c *Client, topic string, a Access) Decision {
	var last Decision
	used := false
	for _, az := range s.Authorizers {
		if az = authorizer(az); az == nil {
			continue
		}
		used = true
		d := explainLink(ctx, az, c, topic, a)
		if d.Verdict != Defer {
			d.Allowed = d.Verdict == Allow
			return d
		}
		last = d
	}
	if !used {
		return Decision{Allowed: true, Reason: "no authorization is configured (no acl_file): every client may read and publish every topic but $SYS"}
	}
	last.Allowed, last.Rule, last.Section = false, "", ""
	last.Reason = "every authorizer deferred, so access is denied: " + last.Reason
	return last
}

// explainLink asks one link for its verdict and reason.
func explainLink(ctx context.Context, az Authorizer, c *Client, topic string, a Access) Decision {
	if e, ok := az.(Explainer); ok {
		return e.Explain(ctx, c, topic, a)
	}
	v := az.Authorize(ctx, c, topic, a)
	return Decision{Verdict: v, Allowed: v == Allow, Reason: fmt.Sprintf("the authorizer %T answers %v", az, v)}
}
