package client

import (
	"context"
	"crypto/tls"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Options configures a Client. The zero value is valid: an MQTT 3.1.1
// client that connects to localhost:1883 with an empty client identifier
// (so the server assigns one), a keep alive of 60 seconds and no automatic
// reconnection. Dial does not modify the caller's Options.
type Options struct {
	// Address is where the server listens. It is either host:port (or just
	// host) for plain TCP, or a URL whose scheme picks the transport:
	//
	//	mqtt://host:port, tcp://host:port     TCP (default port 1883)
	//	mqtts://host:port, ssl://, tls://     TLS (default port 8883)
	//	ws://host:port/path                   WebSocket (default port 80)
	//	wss://host:port/path                  WebSocket over TLS (default port 443)
	//	unix:///path/to/socket, unix:path     Unix domain socket
	//
	// A WebSocket URL without a path uses "/mqtt". User information in the
	// URL (mqtt://user:pass@host) fills in Username and Password when those
	// are empty. If empty, "localhost:1883".
	Address string
	// Dial, if set, opens the network connection instead of Address: it
	// must return a connected, ready byte stream (TLS and WebSocket framing,
	// if any, already done). Tests and load generators use it to inject
	// transports. It is called again for each reconnection.
	Dial func(ctx context.Context) (net.Conn, error)
	// TLS is the TLS configuration for mqtts://, ssl://, tls:// and wss://
	// addresses; CA pool, client certificate and InsecureSkipVerify are the
	// caller's. If set with a plain host:port, mqtt:// or tcp:// address,
	// the connection uses TLS too. If nil where TLS is needed, an empty
	// configuration (system roots) is used. ServerName defaults to the host.
	TLS *tls.Config

	// ProtocolVersion is packet.Version31 (3), packet.Version311 (4) or
	// packet.Version5 (5). If zero, 4 (MQTT 3.1.1).
	ProtocolVersion byte
	// ClientID is the client identifier. If empty, the server assigns one
	// (MQTT 3.1.1 and 5; MQTT 3.1 servers refuse an empty identifier) and
	// later reconnections use the assigned one.
	ClientID string
	// CleanStart discards any existing session on the server (the Clean
	// Session flag in 3.1/3.1.1). Default false: resume the session. With an
	// empty ClientID, MQTT 3.1.1 requires clean start [MQTT-3.1.3-7], so it
	// is always set then. Reconnections use the same flag.
	CleanStart bool
	// KeepAlive is the keep alive interval sent in CONNECT, rounded down to
	// whole seconds (at most 65535 s). If zero, 60s; if negative, keep alive
	// is disabled (0 is sent). An MQTT 5 server may replace it with Server
	// Keep Alive, which the client then uses.
	KeepAlive time.Duration
	// PingTimeout is how long the client waits for PINGRESP after a PINGREQ
	// before it considers the connection dead and closes it with
	// ErrPingTimeout. If zero, the keep alive interval.
	PingTimeout time.Duration
	// Username and Password are sent in CONNECT: the user name if
	// non-empty, the password if non-nil (an empty non-nil password is sent
	// as an empty password). MQTT 3.1/3.1.1 do not allow a password without
	// a user name.
	Username string
	Password []byte
	// Will is the will message the server publishes if the connection ends
	// without DISCONNECT (or with DISCONNECT reason 0x04 in MQTT 5). Its
	// Properties (MQTT 5) may carry Will Delay Interval and the PUBLISH
	// properties. nil: no will.
	Will *packet.Will
	// Properties are the MQTT 5 CONNECT properties, sent as they are:
	// Session Expiry Interval, Receive Maximum, Maximum Packet Size, Topic
	// Alias Maximum, Request Response/Problem Information, User Property,
	// Authentication Method and Data. The client honours what it announces:
	// MaximumPacketSize bounds what it reads (whatever the version: for
	// 3.1/3.1.1 it is not sent but still enforced), TopicAliasMaximum sizes
	// its table of aliases the server may use, and ReceiveMaximum, which the
	// server must respect, is checked on receipt. Ignored before MQTT 5
	// except MaximumPacketSize as said.
	Properties packet.Properties
	// Bridge sets the bridge bit of the protocol level, as Mosquitto's
	// bridges do with try_private.
	Bridge bool

	// OnMessage receives the application messages the server sends, in the
	// order they arrive, one at a time, on a goroutine of the client's own
	// (never concurrently with itself, OnConnectionLost or OnReconnect). It
	// may call any method of the Client, including Publish and Subscribe;
	// but those wait for replies that the reader reads only while fewer than
	// MaxPendingMessages QoS 0 messages wait for OnMessage, so a handler
	// that must not stall under a flood of QoS 0 messages hands such calls
	// to another goroutine. The Message is the callee's. If nil, messages
	// are acknowledged and discarded.
	OnMessage func(*Message)
	// AckOnReceipt acknowledges QoS 1 and 2 messages (PUBACK, PUBREC) as
	// soon as they are read, before OnMessage runs. By default they are
	// acknowledged after OnMessage returns, so a message whose handler did
	// not finish is delivered again after a reconnection with a persistent
	// session (at least once, end to end).
	AckOnReceipt bool
	// MaxPendingMessages bounds the QoS 0 messages read but not yet handed
	// to OnMessage; when it is reached the client stops reading until
	// OnMessage catches up, which pushes back on the server through TCP.
	// (QoS 1 and 2 messages are bounded by the Receive Maximum instead.) If
	// zero, 1000.
	MaxPendingMessages int
	// OnConnectionLost, if set, is called (on the OnMessage goroutine, in
	// order with messages) when an established connection ends, before any
	// reconnection attempt.
	OnConnectionLost func(err error)
	// OnReconnect, if set, is called (on the OnMessage goroutine) after each
	// successful automatic reconnection, with its CONNACK. Subscriptions have
	// already been restored if the session was lost.
	OnReconnect func(*packet.Connack)
	// OnAuth answers the server's AUTH packets of MQTT 5 enhanced
	// authentication (Reason Code 0x18 Continue Authentication, during
	// CONNECT or a re-authentication): it returns the AUTH to send back. It
	// is called on the reader goroutine and must not call Client methods. If
	// nil, an AUTH from the server ends the connection.
	OnAuth func(*packet.Auth) (*packet.Auth, error)

	// MaxInflight bounds the QoS 1 and 2 publishes awaiting acknowledgement;
	// Publish and PublishAsync wait while the window is full. The server's
	// MQTT 5 Receive Maximum (65535 when absent) always applies; a positive
	// MaxInflight applies too if it is smaller. If zero: no further bound in
	// MQTT 5, and 20 in MQTT 3.1/3.1.1, whose servers cannot announce their
	// limit (20 is libmosquitto's default and Mosquitto's
	// max_inflight_messages: Mosquitto 2.0.11 silently loses QoS 2 messages
	// a 3.1.1 client sends beyond it). Negative: no bound but the
	// server's.
	MaxInflight int
	// AutoTopicAlias makes the client assign MQTT 5 topic aliases to the
	// topics it publishes to, up to the server's Topic Alias Maximum: the
	// first PUBLISH to a topic carries the topic and its new alias, later
	// ones only the alias. Messages that set a Topic Alias themselves are
	// sent as they are.
	AutoTopicAlias bool

	// Reconnect, if set, makes the client reconnect automatically when an
	// established connection is lost. nil: a lost connection ends the
	// client (Done is closed).
	Reconnect *Reconnect

	// ConnectTimeout bounds dialling and the CONNECT/CONNACK exchange, on
	// top of the context given to Dial. If zero, 30s.
	ConnectTimeout time.Duration
	// WriteTimeout bounds one write to the network; a server that does not
	// read for this long is considered dead. If zero, 30s.
	WriteTimeout time.Duration

	// Logger receives the client's logs (connection lost, reconnections,
	// protocol errors). If nil, logs are discarded.
	Logger *slog.Logger
	// OnPacket, if set, is called for every packet sent and received, in
	// wire order: sent packets as they are queued for writing, received ones
	// as they are decoded, before the client acts on them. It must return
	// quickly, must not call Client methods (it may run with internal locks
	// held) and must not keep or modify p.
	OnPacket func(dir Direction, p packet.Packet)
}

// Reconnect configures automatic reconnection. The zero value is valid.
type Reconnect struct {
	// MinDelay is the wait before the first attempt after a connection is
	// lost; it doubles after each failed attempt. If zero, 1s.
	MinDelay time.Duration
	// MaxDelay bounds the wait between attempts. The doubling starts again
	// from MinDelay only after a connection has stayed up for MaxDelay, so
	// that a server that accepts and then drops the client is not hammered.
	// If zero, 30s.
	MaxDelay time.Duration
	// MaxAttempts ends the client after this many failed attempts in a row;
	// Done is closed and Err returns the last error. If zero, the client
	// keeps trying until it is closed. A CONNACK that refuses the client for
	// good (bad user name or password, not authorized, banned, client
	// identifier not valid, unsupported protocol version) ends it at once.
	MaxAttempts int
}

// NeverExpire, as a Session Expiry Interval (Options.Properties.SessionExpiry),
// keeps the session on the server until the client ends it.
const NeverExpire uint32 = math.MaxUint32

// Direction tells OnPacket whether a packet was sent or received.
type Direction uint8

// The directions.
const (
	Sent     Direction = 1
	Received Direction = 2
)

// String returns "sending" or "received", the words of Mosquitto's debug
// output ("Client x sending CONNECT").
func (d Direction) String() string {
	switch d {
	case Sent:
		return "sending"
	case Received:
		return "received"
	}
	return "Direction(?)"
}

// settings are the Options with defaults applied and derived values.
type settings struct {
	Options
	version        byte
	keepAlive      uint16 // seconds
	pingTimeout    time.Duration
	maxPending     int
	connectTimeout time.Duration
	writeTimeout   time.Duration
	maxRead        int // 0: protocol maximum
	aliasMax       uint16
	maxInflight    int // 0: no bound but the server's
	reconnect      Reconnect
	log            *slog.Logger
}

func (o *Options) settings() (settings, error) {
	s := settings{Options: *o}
	s.version = o.ProtocolVersion
	if s.version == 0 {
		s.version = packet.Version311
	}
	if s.version < packet.Version31 || s.version > packet.Version5 {
		return s, &OptionError{Field: "ProtocolVersion", Reason: "must be 3, 4 or 5"}
	}
	switch {
	case o.KeepAlive == 0:
		s.keepAlive = 60
	case o.KeepAlive < 0:
		s.keepAlive = 0
	case o.KeepAlive < time.Second:
		s.keepAlive = 1
	default:
		s.keepAlive = uint16(min(o.KeepAlive/time.Second, 65535))
	}
	switch {
	case o.MaxInflight > 0:
		s.maxInflight = o.MaxInflight
	case o.MaxInflight == 0 && s.version < packet.Version5:
		s.maxInflight = 20
	}
	s.pingTimeout = o.PingTimeout
	s.maxPending = o.MaxPendingMessages
	if s.maxPending <= 0 {
		s.maxPending = 1000
	}
	s.connectTimeout = o.ConnectTimeout
	if s.connectTimeout <= 0 {
		s.connectTimeout = 30 * time.Second
	}
	s.writeTimeout = o.WriteTimeout
	if s.writeTimeout <= 0 {
		s.writeTimeout = 30 * time.Second
	}
	if o.Properties.Has(packet.PropMaximumPacketSize) {
		s.maxRead = int(min(o.Properties.MaximumPacketSize, packet.MaxRemainingLength+5))
	}
	if s.version == packet.Version5 && o.Properties.Has(packet.PropTopicAliasMaximum) {
		s.aliasMax = o.Properties.TopicAliasMaximum
	}
	if r := o.Reconnect; r != nil {
		s.reconnect = *r
		if s.reconnect.MinDelay <= 0 {
			s.reconnect.MinDelay = time.Second
		}
		if s.reconnect.MaxDelay <= 0 {
			s.reconnect.MaxDelay = 30 * time.Second
		}
		s.reconnect.MaxDelay = max(s.reconnect.MaxDelay, s.reconnect.MinDelay)
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.version < packet.Version5 && o.Password != nil && o.Username == "" {
		return s, &OptionError{Field: "Password", Reason: "MQTT 3.1/3.1.1 need a user name with a password"} // [MQTT-3.1.2-22] (3.1.1)
	}
	if o.Will != nil && !packet.ValidTopicName(o.Will.Topic) {
		return s, &OptionError{Field: "Will", Reason: "invalid will topic"}
	}
	return s, nil
}

// connectPacket builds the CONNECT for the given client identifier.
func (s *settings) connectPacket(id string) *packet.Connect {
	p := &packet.Connect{
		ProtocolVersion: s.version,
		Bridge:          s.Bridge,
		CleanStart:      s.CleanStart || id == "" && s.version == packet.Version311,
		KeepAlive:       s.keepAlive,
		ClientID:        id,
		Will:            s.Will,
		HasUsername:     s.Username != "",
		Username:        s.Username,
		HasPassword:     s.Password != nil,
		Password:        s.Password,
	}
	if s.version == packet.Version5 {
		p.Properties = s.Properties
	}
	return p
}
