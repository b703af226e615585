package clienttool

import (
	"errors"
	"io"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// Connection is what the connection options of `midge sub` say, for other
// commands that act as an MQTT client (midge explore): how to reach and log
// in to the broker, and what to subscribe to.
type Connection struct {
	// Options connect the client: address, TLS, WebSockets, credentials,
	// protocol version, client id, keepalive and CONNECT properties.
	// OnMessage, Reconnect and OnPacket are left to the caller.
	Options client.Options
	// Subscriptions are the -t filters with -q's QoS and, for MQTT 5, the
	// subscription options (--nl, --rap, --retain-handling). Empty when no
	// -t was given.
	Subscriptions []packet.Subscription
	// QoS is -q's QoS, and QoSGiven whether -q was given.
	QoS      byte
	QoSGiven bool
	// Server is the address in a form to show: "tcp://host:1883".
	Server string
}

// ErrHelp is returned by ParseConnection for --help (and --version).
var ErrHelp = errHelp

// ParseConnection parses args, the command line of `midge sub` without the
// program name (-t optional), after -o's options file if one is named (the
// default ~/.config/mosquitto_sub is not read). It returns ErrHelp for
// --help or --version, or an error whose text is what mosquitto_sub prints
// for a refused command line.
func ParseConnection(args []string) (*Connection, error) {
	env := func(string) (string, bool) { return "", false }
	hasTopic, hasQoS := false, false
	for _, a := range args {
		switch a {
		case "-t", "--topic":
			hasTopic = true
		case "-q", "--qos":
			hasQoS = true
		}
	}
	full := args
	if !hasTopic {
		full = append(append([]string(nil), args...), "-t", "#")
	}
	cfg, err := parseToolArgs(toolSub, full, env)
	if errors.Is(err, errShowVersion) {
		return nil, ErrHelp
	}
	if err != nil {
		return nil, err
	}
	s := newSession(cfg, base.Streams{In: nil, Out: io.Discard, Err: io.Discard})
	s.tap = nil // it notes property orders for sub's printing, which nobody takes here
	s.displayID = display(cfg.clientID())
	opts, msg := s.options(cfg.clientID())
	if msg == "" && !cfg.validID(opts.ClientID) {
		msg = "Error: Invalid id and/or clean_session.\n"
	}
	if msg == "" {
		msg = cfg.unsupported()
	}
	if msg != "" {
		return nil, &cmdError{text: msg}
	}
	opts.OnPacket = nil
	c := &Connection{Options: opts, Server: opts.Address, QoS: byte(cfg.qos), QoSGiven: hasQoS}
	if hasTopic {
		for _, f := range cfg.topics {
			c.Subscriptions = append(c.Subscriptions, subscription(cfg, f, cfg.subOpts))
		}
	}
	return c, nil
}
