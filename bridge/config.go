package bridge

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// Direction is the direction of a bridge topic.
type Direction uint8

// Directions, as written in a topic line.
const (
	Out  Direction = iota // local to remote (the default)
	In                    // remote to local
	Both                  // both ways
)

// String returns "out", "in" or "both".
func (d Direction) String() string {
	switch d {
	case In:
		return "in"
	case Both:
		return "both"
	}
	return "out"
}

func (d Direction) out() bool { return d == Out || d == Both }
func (d Direction) in() bool  { return d == In || d == Both }

// Topic is one topic line of a bridge: a pattern, its direction and QoS, and
// the prefixes that remap it.
type Topic struct {
	Pattern      string // as written; "" for the "" pattern
	Direction    Direction
	QoS          byte
	LocalPrefix  string
	RemotePrefix string
	// Local and Remote are the filters on each side: the prefix joined to
	// the pattern as raw strings (no '/' is added), as Mosquitto does.
	Local, Remote string
}

// ErrInvalidTopic is matched by NewTopic's errors.
var ErrInvalidTopic = errors.New("bridge: invalid topic")

// NewTopic checks a topic line and returns it with its filters, following
// Mosquitto's rules: prefixes must be valid topic names (no wildcards), an
// empty pattern needs both prefixes, and each prefix joined to the pattern
// must be a valid filter.
func NewTopic(pattern string, dir Direction, qos byte, localPrefix, remotePrefix string) (Topic, error) {
	t := Topic{Pattern: pattern, Direction: dir, QoS: qos, LocalPrefix: localPrefix, RemotePrefix: remotePrefix}
	if qos > 2 {
		return t, fmt.Errorf("%w: invalid bridge QoS level %d", ErrInvalidTopic, qos)
	}
	for _, p := range []string{localPrefix, remotePrefix} {
		if p != "" && !packet.ValidTopicName(p) {
			return t, fmt.Errorf("%w: invalid bridge topic prefix %q", ErrInvalidTopic, p)
		}
	}
	if pattern == "" && (localPrefix == "" || remotePrefix == "") {
		return t, fmt.Errorf("%w: invalid bridge remapping: an empty pattern needs both prefixes", ErrInvalidTopic)
	}
	t.Local, t.Remote = localPrefix+pattern, remotePrefix+pattern
	if err := topic.ValidFilter(t.Local); err != nil {
		return t, fmt.Errorf("%w: invalid bridge topic local prefix and pattern combination %q", ErrInvalidTopic, t.Local)
	}
	if err := topic.ValidFilter(t.Remote); err != nil {
		return t, fmt.Errorf("%w: invalid bridge topic remote prefix and pattern combination %q", ErrInvalidTopic, t.Remote)
	}
	return t, nil
}

func (t *Topic) remapped() bool { return t.LocalPrefix != "" || t.RemotePrefix != "" }

// RemapOut returns the remote topic of a local message with topic name:
// the first out or both topic with a prefix whose local filter matches
// loses its local prefix and gains its remote prefix. Without such a topic
// the name is unchanged.
func RemapOut(topics []Topic, name string) string { return remap(topics, name, Out) }

// RemapIn returns the local topic of a message received from the remote:
// the first in or both topic with a prefix whose remote filter matches
// loses its remote prefix and gains its local prefix.
func RemapIn(topics []Topic, name string) string { return remap(topics, name, In) }

// remap returns the topic on the other side of a message with topic name
// that goes in direction dir (Out or In): the first topic that carries
// messages that way, has a prefix, and whose filter on name's side matches
// swaps that side's prefix for the other side's.
func remap(topics []Topic, name string, dir Direction) string {
	for i := range topics {
		t := &topics[i]
		goes, filter, from, to := t.Direction.out(), t.Local, t.LocalPrefix, t.RemotePrefix
		if dir == In {
			goes, filter, from, to = t.Direction.in(), t.Remote, t.RemotePrefix, t.LocalPrefix
		}
		if goes && t.remapped() && topic.Match(filter, name) {
			return to + strings.TrimPrefix(name, from)
		}
	}
	return name
}

// StartType is start_type.
type StartType uint8

// Start types.
const (
	Automatic StartType = iota // connect at start, reconnect after restart_timeout
	Lazy                       // connect when threshold messages wait, disconnect after idle_timeout
	Once                       // connect at start, never reconnect
)

// String returns the start_type value.
func (s StartType) String() string {
	switch s {
	case Lazy:
		return "lazy"
	case Once:
		return "once"
	}
	return "automatic"
}

// Backoff is restart_timeout: a constant wait, or Mosquitto's decorrelated
// jitter between Base and Cap, reset after a connection that lasted Stable.
type Backoff struct {
	Constant time.Duration // > 0: always wait this long
	Base     time.Duration // jitter base (default 5s)
	Cap      time.Duration // jitter cap (default 30s)
	Stable   time.Duration // reset to Base after a connection this long (0: any)
}

// TLS holds the bridge_* TLS options. Any of CAFile, CAPath and UseOSCerts
// enables TLS.
type TLS struct {
	CAFile, CAPath        string
	UseOSCerts            bool
	CertFile, KeyFile     string
	Insecure              bool   // bridge_insecure: no host name check
	ALPN                  string // bridge_alpn
	Version               string // bridge_tls_version: "tlsv1.2" (default) or "tlsv1.3"
	Ciphers, CiphersTLS13 string
	RequireOCSP           bool // bridge_require_ocsp
}

// Enabled reports whether TLS is used.
func (t *TLS) Enabled() bool {
	return t != nil && (t.CAFile != "" || t.CAPath != "" || t.UseOSCerts)
}

// Config is one bridge, a "connection" block. Use Defaults for Mosquitto's
// defaults: the zero value has notifications, try_private and the other
// options that default to true switched off.
type Config struct {
	Name       string   // connection NAME
	Addresses  []string // address/addresses: host:port, in order (the first is the primary)
	RoundRobin bool     // round_robin
	Topics     []Topic  // topic lines, in order

	// ProtocolVersion is bridge_protocol_version: 3 (mqttv31), 4 (mqttv311,
	// the default) or 5 (mqttv50).
	ProtocolVersion byte
	CleanSession    bool // cleansession (default false)
	// LocalCleanSession is local_cleansession (default: cleansession): a
	// clean local session queues nothing while the remote is down.
	LocalCleanSession bool
	// SessionExpiry is bridge_session_expiry_interval (MQTT 5), seconds.
	SessionExpiry uint32

	RemoteClientID string // remote_clientid/clientid (default hostname.name)
	LocalClientID  string // local_clientid (default local.<remote_clientid>)
	RemoteUsername string // remote_username/username
	RemotePassword []byte // remote_password/password; nil: none
	LocalUsername  string // local_username
	LocalPassword  []byte // local_password; nil: none

	TryPrivate             bool          // try_private (default true)
	Notifications          bool          // notifications (default true)
	NotificationsLocalOnly bool          // notifications_local_only
	NotificationTopic      string        // notification_topic ("": $SYS/broker/connection/<remote_clientid>/state)
	KeepAlive              time.Duration // keepalive_interval (default 60s)
	Restart                Backoff       // restart_timeout
	StartType              StartType     // start_type
	Threshold              int           // threshold (default 10)
	IdleTimeout            time.Duration // idle_timeout (default 60s)
	AttemptUnsubscribe     bool          // bridge_attempt_unsubscribe (default true)
	OutgoingRetain         bool          // bridge_outgoing_retain (default true)
	MaxPacketSize          int           // bridge_max_packet_size, 0 for none
	ReceiveMaximum         int           // bridge_receive_maximum (MQTT 5), 0 for 20
	MaxTopicAlias          int           // bridge_max_topic_alias (MQTT 5, default 10)
	BindAddress            string        // bridge_bind_address
	// TCPKeepAlive is bridge_tcp_keepalive idle, interval, count (seconds,
	// seconds, probes); zero: off.
	TCPKeepAlive [3]int
	// TCPUserTimeout is bridge_tcp_user_timeout (Linux); 0: unset.
	TCPUserTimeout  time.Duration
	MPTCP           bool // bridge_mptcp: Multipath TCP where the system has it
	ReloadImmediate bool // bridge_reload_type immediate (default lazy)
	TLS             *TLS // nil: plain TCP
}

// Defaults returns the Config of a "connection name" line: Mosquitto's
// defaults, with the client identifiers left to Resolve.
func Defaults(name string) Config {
	return Config{
		Name: name, ProtocolVersion: packet.Version311, TryPrivate: true, Notifications: true,
		KeepAlive: 60 * time.Second, Restart: Backoff{Base: 5 * time.Second, Cap: 30 * time.Second},
		Threshold: 10, IdleTimeout: 60 * time.Second, AttemptUnsubscribe: true, OutgoingRetain: true,
		MaxTopicAlias: 10,
	}
}

// ResolveIDs fills in the default client identifiers as Mosquitto does:
// remote_clientid "<hostname>.<name>", local_clientid
// "local.<remote_clientid>".
func (c *Config) ResolveIDs(hostname string) {
	if c.RemoteClientID == "" {
		c.RemoteClientID = hostname + "." + c.Name
	}
	if c.LocalClientID == "" {
		c.LocalClientID = "local." + c.RemoteClientID
	}
}

// StateTopic returns the topic of the bridge's notifications.
func (c *Config) StateTopic() string {
	if c.NotificationTopic != "" {
		return c.NotificationTopic
	}
	return "$SYS/broker/connection/" + c.RemoteClientID + "/state"
}

// Validate returns the problems of c that make it unusable, joined.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Addresses) == 0 {
		errs = append(errs, errors.New("invalid bridge configuration: no remote addresses defined"))
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("invalid bridge configuration: no topics defined"))
	}
	switch c.ProtocolVersion {
	case packet.Version31, packet.Version311, packet.Version5:
	default:
		errs = append(errs, fmt.Errorf("invalid bridge protocol version %d", c.ProtocolVersion))
	}
	if c.RemotePassword != nil && c.RemoteUsername == "" && c.ProtocolVersion != packet.Version5 {
		errs = append(errs, errors.New("bridge remote_password needs remote_username before MQTT 5"))
	}
	return errors.Join(errs...)
}
