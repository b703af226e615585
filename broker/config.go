package broker

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"
)

// Config configures a Server. The zero value is a valid configuration: a
// broker with Mosquitto 2's defaults that, started with ListenAndServe,
// listens on 127.0.0.1:1883 and [::1]:1883 and admits anonymous clients
// (Mosquitto's "local only" mode).
//
// Numeric limits follow one rule: zero means Mosquitto's default. Where
// Mosquitto gives 0 a meaning of its own (no limit, disabled), write a
// negative number (Unlimited). Each field names its mosquitto.conf option.
type Config struct {
	// Listeners are the network endpoints ListenAndServe opens. If empty,
	// ListenAndServe listens on 127.0.0.1:1883 and [::1]:1883 and anonymous
	// clients are allowed whatever AllowAnonymous says.
	Listeners []Listener

	// AllowAnonymous admits clients that connect without a user name
	// (allow_anonymous); without Authenticators it admits every client, and
	// with it false no client connects. Mosquitto 2's default is false once
	// listeners are configured. See Security.
	AllowAnonymous bool
	// Authenticators check user names and passwords, in order
	// (password_file, a program's own): see Security.Authenticate.
	Authenticators []Authenticator
	// Authorizers decide who may publish and receive what, in order
	// (acl_file, a program's own). Without any, everything is allowed except
	// publishing to $SYS. See Security.Authorize.
	Authorizers []Authorizer

	// DenyZeroLengthClientID refuses MQTT 3.1.1 and 5 clients with an empty
	// client identifier (allow_zero_length_clientid false); by default they
	// are assigned one.
	DenyZeroLengthClientID bool
	// AutoIDPrefix prefixes assigned client identifiers (auto_id_prefix,
	// default "auto-").
	AutoIDPrefix string

	// MaxInflightMessages is the number of outgoing QoS 1 and 2 messages a
	// client may have unacknowledged (max_inflight_messages, default 20;
	// Unlimited for no limit besides the client's Receive Maximum). It is
	// also the Receive Maximum the server announces to MQTT 5 clients.
	MaxInflightMessages int
	// MaxInflightBytes bounds the payload bytes of those messages
	// (max_inflight_bytes, default 0: no limit).
	MaxInflightBytes int
	// MaxQueuedMessages bounds the messages queued for a client beyond those
	// in flight (max_queued_messages, default 1000; Unlimited for none).
	// When it is reached, a queued QoS 0 message makes room for a QoS 1 or
	// 2 one, and otherwise the new message is dropped and counted. The
	// queue of an offline session kept in a Store is on disk, and a full
	// one drops the new message, as Mosquitto's does.
	MaxQueuedMessages int
	// MaxQueuedBytes bounds the payload bytes of queued messages
	// (max_queued_bytes, default 0: no limit).
	MaxQueuedBytes int
	// QueueQoS0Messages queues QoS 0 messages for offline persistent sessions
	// (queue_qos0_messages, default false).
	QueueQoS0Messages bool
	// MessageSizeLimit is the largest PUBLISH payload accepted
	// (message_size_limit, default 0: 268435455). A larger one is dropped;
	// MQTT 5 QoS 1/2 publishers get reason code 0x97 (Quota exceeded).
	MessageSizeLimit int
	// MaxPacketSize is the largest packet accepted from a client
	// (max_packet_size, default 0: 268435460). It is announced to MQTT 5
	// clients; a larger packet closes the connection (MQTT 5: 0x95).
	MaxPacketSize int
	// MaxKeepalive is the largest keep alive a client may ask for, in seconds
	// (max_keepalive, default 65535). MQTT 5 clients asking for more, or for 0,
	// are told this value as Server Keep Alive; 3.1.1 clients are refused.
	MaxKeepalive int
	// MaxQoS is the highest QoS supported (max_qos, default 2; write
	// QoS0Only for 0).
	MaxQoS int
	// MaxTopicAlias is the Topic Alias Maximum announced to MQTT 5 clients
	// (max_topic_alias, default 10; Unlimited for Mosquitto's 0: no aliases).
	MaxTopicAlias int
	// MaxTopicAliasOut is how many topic aliases the server may assign to
	// the topics it sends an MQTT 5 client, within the Topic Alias Maximum
	// the client announces (max_topic_alias_broker; default 0: none, as
	// Mosquitto 2.0 sends none, and libmosquitto 2.0 and paho-mqtt 1.6
	// announce a maximum but cannot take aliases).
	MaxTopicAliasOut int
	// UpgradeOutgoingQoS delivers messages at the subscription's QoS even if
	// published with a lower one (upgrade_outgoing_qos, default false).
	UpgradeOutgoingQoS bool
	// RetainUnavailable disables retained messages (retain_available false).
	RetainUnavailable bool
	// PersistentClientExpiration ends persistent sessions of MQTT 3.1.1
	// clients (and MQTT 5 clients asking for no expiry) that stay offline
	// longer than this (persistent_client_expiration, default 0: never).
	PersistentClientExpiration time.Duration
	// SkipRetainSourceCheck sends retained messages to new subscribers
	// without checking that their publisher may still publish to the topic
	// (check_retain_source false; by default the check is made, with the
	// publisher's rights as the Authorizer now sees them).
	SkipRetainSourceCheck bool
	// AllowDuplicateMessages sends a client one copy of a message per
	// matching subscription (allow_duplicate_messages, default false: one copy
	// at the highest QoS of its matching subscriptions, with all their
	// Subscription Identifiers).
	AllowDuplicateMessages bool
	// MaxConnections bounds the connections across all listeners
	// (max_connections, default 0: no limit). Listener.MaxConnections bounds
	// one listener.
	MaxConnections int
	// MaxSessions bounds the sessions the broker holds, connected and
	// offline persistent ones together (global_max_clients of Mosquitto 2.1,
	// default 0: no limit). A client that would start one more is refused:
	// MQTT 5 clients get CONNACK 0x89 (Server busy), older ones are closed
	// without a CONNACK, as Mosquitto does. A client resuming or replacing its
	// own session is not refused.
	MaxSessions int

	// RetainExpiryInterval is how often the retained messages are scanned
	// for ones whose Message Expiry Interval has passed, to free them
	// (retain_expiry_interval, in minutes in the file; default 0: no scan,
	// an expired retained message is dropped when next matched or
	// replaced, as in Mosquitto).
	RetainExpiryInterval time.Duration

	// SysInterval is how often $SYS/broker/... is published (sys_interval,
	// default 10s; Unlimited, i.e. negative, disables it).
	SysInterval time.Duration
	// ConnectTimeout is how long a new connection may take to send CONNECT
	// (default 10s).
	ConnectTimeout time.Duration
	// WriteTimeout bounds one write to a client; a client that does not read
	// for this long is disconnected (default 30s).
	WriteTimeout time.Duration
	// QuietConnections stops logging connects and disconnects
	// (connection_messages false).
	QuietConnections bool

	// Store, if set, persists retained messages, persistent sessions and
	// their messages (persistence true): a QoS 1 or 2 message is
	// acknowledged only once it is durable, so it survives a crash. If nil,
	// everything lives in memory.
	Store Store
	// PersistenceInterval, if positive, commits to the Store every interval
	// instead of before each acknowledgement (midge's persistence_sync
	// periodic): faster, but a crash loses up to an interval of messages.
	PersistenceInterval time.Duration

	// Admit, if set, runs for each authenticated client of a listener (not
	// DialLocal's) before its session is attached; an error refuses it with
	// CONNACK 0x88 Server unavailable (MQTT 3.1.1: 3). A cluster claims the
	// client identifier there. Reload keeps both hooks as New had them.
	Admit func(ctx context.Context, c *Client) error
	// OnDisconnect, if set, is called when an attached connection ends, with
	// the c Admit saw and whether a new connection here took it over.
	OnDisconnect func(c *Client, takenOver bool)
	// Replicate, if set, is called for each QoS 1 and 2 message a client
	// publishes and the broker accepts for routing, after it was routed
	// here and, with a Store, made durable, and before the PUBACK or
	// PUBREC: the acknowledgement waits until it returns, so that a cluster
	// can hold it until the other nodes have the message. It runs on a
	// goroutine of the connection's, one message at a time in PUBLISH
	// order (the acknowledgements keep that order), with a context
	// cancelled when the connection closes; it may block, and should bound
	// its wait. An error leaves the message unacknowledged and closes the
	// connection (MQTT 5: DISCONNECT 0x89 Server busy), so the client
	// sends it again after reconnecting. m must not be changed. Messages
	// the program publishes (Publish, wills) are not passed to it.
	Replicate func(ctx context.Context, m *Message) error
	// OnRoute, if set, is told of the filters this server's sessions
	// subscribe to, its routes (a cluster announces them to the other
	// nodes): filter (a shared group's as "$share/NAME/FILTER", the mount
	// point applied) is added when the first session subscribes to it and
	// removed when the last one unsubscribes or ends (a clean end, a
	// session expiry, a takeover with Clean Start). A persistent session
	// keeps its subscriptions while offline, so they stay routes; those
	// restored from the Store are added when the server starts. Calls come
	// one at a time, in the order of the changes, with no lock of the
	// server held, before the SUBACK or UNSUBACK of the change is queued;
	// OnRoute must return promptly and must not subscribe or unsubscribe
	// sessions itself.
	OnRoute func(filter string, added bool)
	// SharedChoice, if set, is asked while a message is routed, for each
	// shared subscription group (its filter, "$share/NAME/FILTER") that
	// the message matches here, whether one of the group's members here
	// gets it (true) or none (false: a member elsewhere, on another node of
	// a cluster, does). It runs on the publishing goroutine, with no lock
	// held, after the observers (Observe) saw the message, and must not
	// block. Not asked for a message of RouteSelected.
	SharedChoice func(m *Message, group string) bool

	// Logger receives the server's logs. If nil, logs are discarded.
	Logger *slog.Logger
	// Now returns the current time; if nil, time.Now. Tests inject a clock.
	Now func() time.Time
}

// Unlimited, written into a numeric Config field, selects Mosquitto's 0
// meaning for that option (no limit, or disabled).
const Unlimited = -1

// QoS0Only, written into Config.MaxQoS, selects max_qos 0.
const QoS0Only = -1

// Listener is a network endpoint clients connect to.
type Listener struct {
	// Name identifies the listener in logs and in stored sessions; if
	// empty, Address (or the bound address if that is empty too).
	Name string
	// Network is "tcp" (the default), "tcp4", "tcp6" or "unix".
	Network string
	// Address is host:port, or a socket path for "unix". An empty host
	// listens on every interface.
	Address string
	// Interface, if set, binds the socket to that network interface
	// (bind_interface; Linux only).
	Interface string
	// TLS, if set, makes this a TLS listener: Serve and ListenAndServe run
	// the handshake. Use GetConfigForClient to change certificates while
	// serving (SIGHUP).
	TLS *tls.Config
	// MaxConnections bounds this listener's connections (max_connections,
	// default 0: no limit).
	MaxConnections int
	// MountPoint is prepended to every topic of clients of this listener
	// (mount_point), isolating them from others.
	MountPoint string
	// Security, if set, replaces Config's AllowAnonymous, Authenticators and
	// Authorizers for clients of this listener (per_listener_settings true).
	Security *Security
	// UseUsernameAsClientID replaces the client identifier with the user name
	// (use_username_as_clientid); clients without one are refused.
	UseUsernameAsClientID bool
	// WebSocket serves MQTT over WebSockets on this listener (protocol
	// websockets), with TLS if TLS is set (wss).
	WebSocket bool
	// HTTPDir is a directory whose files are served to plain HTTP requests
	// on a WebSocket listener (http_dir).
	HTTPDir string
	// WebSocketOrigins are the Origin values a WebSocket client may send
	// (websockets_origin); if empty, any.
	WebSocketOrigins []string
	// WebSocketHeadersSize bounds the HTTP headers of a WebSocket upgrade
	// (websockets_headers_size, default 4096 bytes).
	WebSocketHeadersSize int
	// UseIdentityAsUsername takes the user name from the TLS client
	// certificate's Common Name (use_identity_as_username), and
	// UseSubjectAsUsername from its whole subject (use_subject_as_username);
	// the password is not checked.
	UseIdentityAsUsername bool
	UseSubjectAsUsername  bool

	// ProxyProtocol, 1 or 2, makes every connection of this listener start
	// with a PROXY protocol header of that version (enable_proxy_protocol),
	// before TLS and MQTT: the broker then knows, logs and authorizes the
	// client by the address the header gives. A connection without one is
	// refused. On a WebSocket listener the header precedes the HTTP
	// request and only its address is used. 0: no header; one sent is a
	// malformed packet.
	ProxyProtocol int
	// ProxyRequireTLS refuses version 2 headers that do not say the client
	// connected to the proxy with TLS (proxy_protocol_v2_require_tls).
	ProxyRequireTLS bool
	// ProxyRequireCertificate refuses version 2 headers that do not say
	// the proxy verified a client certificate (require_certificate on a
	// listener whose TLS the proxy terminates). UseIdentityAsUsername then
	// takes the user name from the certificate's Common Name the header
	// carries.
	ProxyRequireCertificate bool

	// The options below override Config's for clients of this listener;
	// their zero values inherit it.

	// MaxQoS replaces Config.MaxQoS (max_qos in a listener section).
	MaxQoS int
	// MaxTopicAlias replaces Config.MaxTopicAlias (max_topic_alias).
	MaxTopicAlias int
	// MaxTopicAliasOut replaces Config.MaxTopicAliasOut
	// (max_topic_alias_broker, a listener option in Mosquitto 2.1);
	// Unlimited (negative) for none.
	MaxTopicAliasOut int
	// AutoIDPrefix replaces Config.AutoIDPrefix (auto_id_prefix with
	// per_listener_settings, or listener_auto_id_prefix).
	AutoIDPrefix string
	// AllowZeroLengthClientID, if set, replaces Config's
	// DenyZeroLengthClientID (allow_zero_length_clientid with
	// per_listener_settings, or listener_allow_zero_length_clientid).
	AllowZeroLengthClientID *bool
	// ProtocolVersions, if set, are the protocol levels this listener
	// accepts (accept_protocol_versions): 3 for MQTT 3.1, 4 for 3.1.1, 5 for
	// 5.0. Clients of other versions are refused with "unsupported protocol
	// version".
	ProtocolVersions []byte
}

// options are the Config a server runs with, which Reload replaces, and its
// limits with defaults applied. Code reads them through Server.opt, once per
// decision that needs consistent values.
type options struct {
	Config
	limits
}

// opt returns the options in force.
func (srv *Server) opt() *options { return srv.opts.Load() }

// Reload applies cfg to the running server, as a SIGHUP makes Mosquitto
// re-read its configuration: limits, queueing and retained-message options,
// connection logging, and the listener defaults of new connections take
// effect at once (a connection keeps what its CONNACK announced). The
// listeners themselves, the Store and PersistenceInterval, the security
// settings (AllowAnonymous, Authenticators, Authorizers: use Slots to swap
// links instead), Logger and Now are kept from New's Config.
func (srv *Server) Reload(cfg Config) {
	old := srv.opt()
	cfg.Listeners = old.Listeners
	cfg.Store, cfg.PersistenceInterval = old.Store, old.PersistenceInterval
	cfg.AllowAnonymous, cfg.Authenticators, cfg.Authorizers = old.AllowAnonymous, old.Authenticators, old.Authorizers
	cfg.Logger, cfg.Now = old.Logger, old.Now
	srv.opts.Store(&options{Config: cfg, limits: cfg.limits()})
	srv.reloaded()
}

// limits holds Config's limits with defaults applied.
type limits struct {
	maxInflight      int // 0 = no limit
	maxInflightBytes int
	maxQueued        int // 0 = no limit
	maxQueuedBytes   int
	messageSizeLimit int
	maxPacketSize    int
	maxKeepalive     int
	maxQoS           byte
	maxTopicAlias    uint16
	sysInterval      time.Duration // 0 = disabled
	connectTimeout   time.Duration
	writeTimeout     time.Duration
	autoIDPrefix     string
}

// orDefault returns def for 0, 0 (no limit) for a negative v, else v.
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (c *Config) limits() limits {
	l := limits{
		maxInflight:      orDefault(c.MaxInflightMessages, 20),
		maxInflightBytes: max(c.MaxInflightBytes, 0),
		maxQueued:        orDefault(c.MaxQueuedMessages, 1000),
		maxQueuedBytes:   max(c.MaxQueuedBytes, 0),
		messageSizeLimit: max(c.MessageSizeLimit, 0),
		maxPacketSize:    max(c.MaxPacketSize, 0),
		maxKeepalive:     orDefault(c.MaxKeepalive, 65535),
		maxQoS:           byte(orDefault(c.MaxQoS, 2)),
		maxTopicAlias:    uint16(min(orDefault(c.MaxTopicAlias, 10), 65535)),
		sysInterval:      orDefault(c.SysInterval, 10*time.Second),
		connectTimeout:   orDefault(c.ConnectTimeout, 10*time.Second),
		writeTimeout:     orDefault(c.WriteTimeout, 30*time.Second),
		autoIDPrefix:     c.AutoIDPrefix,
	}
	if c.MaxQoS < 0 {
		l.maxQoS = 0
	}
	if l.maxQoS > 2 {
		l.maxQoS = 2
	}
	if l.maxKeepalive > 65535 {
		l.maxKeepalive = 65535
	}
	if l.autoIDPrefix == "" {
		l.autoIDPrefix = "auto-"
	}
	if l.maxPacketSize == 0 || l.maxPacketSize > 268435460 {
		l.maxPacketSize = 268435460
	}
	return l
}
